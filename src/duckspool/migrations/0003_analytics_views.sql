-- Views for the common questions (docs/analytics.md has example queries).
-- occurred_hour / occurred_date are UTC and plain TIMESTAMP/DATE, so grouping by them
-- works in every DuckDB build, with or without the ICU time-zone extension.

CREATE VIEW auth_events AS
SELECT
    id,
    occurred_at,
    date_trunc('hour', occurred_at::TIMESTAMP) AS occurred_hour,
    session_id,
    user_id,
    product_id,
    correlation_id,
    split_part(event_type, '.', 3)               AS action,      -- login | logout | session_expired
    payload ->> 'method'                         AS method,
    payload ->> 'outcome'                        AS outcome,
    payload ->> 'failureReason'                  AS failure_reason,
    TRY_CAST(payload ->> 'mfa' AS BOOLEAN)       AS mfa,
    TRY_CAST(payload ->> 'sessionAgeSeconds' AS DOUBLE) AS session_age_seconds,
    payload ->> 'expiryReason'                   AS expiry_reason
FROM telemetry_events
WHERE starts_with(event_type, 'action.auth.');

-- One row per session that logged in: when, how it ended, how long it lasted.
CREATE VIEW auth_sessions AS
SELECT
    session_id,
    any_value(user_id)                                                    AS user_id,
    min(occurred_at) FILTER (WHERE action = 'login' AND outcome = 'success') AS logged_in_at,
    max(occurred_at) FILTER (WHERE action IN ('logout', 'session_expired'))  AS ended_at,
    arg_max(action, occurred_at) FILTER (WHERE action IN ('logout', 'session_expired'))
                                                                          AS ended_by,
    max(session_age_seconds)                                              AS session_age_seconds,
    count(*) FILTER (WHERE action = 'login' AND outcome = 'failure')      AS failed_logins
FROM auth_events
GROUP BY session_id;

CREATE VIEW exchange_transitions AS
SELECT
    id,
    occurred_at,
    payload ->> 'machine'                                   AS machine,
    payload ->> 'exchangeId'                                AS exchange_id,
    payload ->> 'from'                                      AS from_state,
    payload ->> 'to'                                        AS to_state,
    payload ->> 'trigger'                                   AS trigger,
    TRY_CAST(payload ->> 'timeInPreviousStateMs' AS DOUBLE) AS time_in_previous_state_ms,
    TRY_CAST(payload ->> 'terminal' AS BOOLEAN)             AS terminal,
    session_id,
    user_id,
    correlation_id
FROM telemetry_events
WHERE event_type = 'exchange.state.transitioned';

-- One row per job run (runs without a runId count as runs of their own).
CREATE VIEW job_runs AS
SELECT
    coalesce(payload ->> 'runId', id::VARCHAR)                               AS run_id,
    any_value(payload ->> 'job')                                             AS job,
    min(occurred_at) FILTER (WHERE event_type = 'job.run.started')           AS started_at,
    max(occurred_at) FILTER (WHERE event_type <> 'job.run.started')          AS finished_at,
    arg_max(payload ->> 'outcome', occurred_at)
        FILTER (WHERE event_type <> 'job.run.started')                       AS outcome,
    max(TRY_CAST(payload ->> 'durationMs' AS DOUBLE))                        AS duration_ms,
    any_value(payload ->> 'errorType') FILTER (WHERE payload ->> 'errorType' IS NOT NULL)
                                                                             AS error_type
FROM telemetry_events
WHERE namespace = 'job'
GROUP BY 1;
