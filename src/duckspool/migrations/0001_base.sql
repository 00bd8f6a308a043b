-- The load ledger: which spool segments are already in telemetry_events.
-- A segment is known by its content (sha256 + size), never by its name alone:
-- pids are reused, so a new segment may carry an old segment's name.
CREATE TABLE load_ledger (
    segment_key    VARCHAR PRIMARY KEY,       -- sha256 hex of the segment's bytes, ':' , size
    segment_name   VARCHAR NOT NULL,
    size_bytes     BIGINT NOT NULL,
    lines          BIGINT NOT NULL,
    events         BIGINT NOT NULL,           -- valid events in the segment
    inserted       BIGINT NOT NULL,
    duplicates     BIGINT NOT NULL,
    quarantined    BIGINT NOT NULL,
    loaded_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
