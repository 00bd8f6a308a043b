-- One row per event. No PRIMARY KEY on id: DuckDB's ART index cut bulk-insert
-- throughput about threefold in our measurements (docs/performance.md). Uniqueness
-- is held instead by the repository: every write deduplicates against this table
-- inside a transaction that only one writer can hold at a time.
-- No secondary indexes either: rows arrive in time order, so DuckDB's per-row-group
-- min/max (zone maps) on occurred_at and id (UUIDv7, time-ordered) already skip
-- what a time-ranged query or the dedup does not need (docs/analytics.md).
CREATE TABLE telemetry_events (
    id              UUID NOT NULL,
    event_type      VARCHAR NOT NULL,
    namespace       VARCHAR NOT NULL,
    session_id      VARCHAR NOT NULL,
    user_id         VARCHAR NOT NULL,
    product_id      VARCHAR,
    correlation_id  VARCHAR NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         JSON NOT NULL,
    source_segment  VARCHAR,                  -- spool segment the row came from (NULL: saved directly)
    loaded_at       TIMESTAMPTZ NOT NULL
);
