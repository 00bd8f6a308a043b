-- Where each Parquet export target has got to. pending_until is written before the
-- files, so an export interrupted half-way is redone over exactly the same range.
CREATE TABLE export_state (
    target          VARCHAR PRIMARY KEY,
    exported_until  TIMESTAMPTZ,          -- rows with loaded_at <= this are exported
    pending_until   TIMESTAMPTZ,          -- an export of (exported_until, pending_until] began
    exported_rows   BIGINT NOT NULL DEFAULT 0,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
