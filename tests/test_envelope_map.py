"""The one map of the envelope agrees with the model, the wire form and the table."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from duckspool import DuckDBTelemetryRepository, TelemetryEvent
from duckspool.exceptions import SpoolNotFound
from duckspool.loader import replay_quarantine
from duckspool.repository import ENVELOPE
from duckspool.repository._envelope import row_to_event
from tests.conftest import sample_event


def test_every_model_field_has_one_entry_with_its_wire_name() -> None:
    fields = TelemetryEvent.model_fields
    assert [f.attribute for f in ENVELOPE] == list(fields)
    for entry in ENVELOPE:
        assert fields[entry.attribute].alias == entry.wire


def test_the_wire_form_writes_the_map_s_keys_in_its_order() -> None:
    line = sample_event(3).to_json_line()
    assert list(orjson.loads(line)) == [f.wire for f in ENVELOPE]


def test_the_table_has_the_map_s_columns_and_types(tmp_path: Path) -> None:
    with DuckDBTelemetryRepository(tmp_path / "t.duckdb") as repo:
        _, rows = repo.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'telemetry_events'")
        types = dict(rows)
        for entry in ENVELOPE:
            # information_schema spells TIMESTAMPTZ out; compare via DuckDB's own cast.
            spelled = repo.fetch(f"SELECT typeof(NULL::{entry.duckdb_type})")[1][0][0]
            assert spelled == types[entry.column], entry


def test_row_to_event_round_trips(tmp_path: Path) -> None:
    event = sample_event(5, payload={"a": [1, 2.5, None], "b": "é"})
    with DuckDBTelemetryRepository(tmp_path / "t.duckdb") as repo:
        repo.save_many([event])
        _, rows = repo.fetch(
            "SELECT " + ", ".join(f.column for f in ENVELOPE) + " FROM telemetry_events")
    assert row_to_event(rows[0]) == event


def test_replay_never_creates_a_missing_spool(tmp_path: Path) -> None:
    with pytest.raises(SpoolNotFound, match="does not exist"):
        replay_quarantine(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()
