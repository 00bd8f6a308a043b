"""``ship``: sealed segments move whole into another spool, once, whatever breaks."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from duckspool import ConfigurationError, Loader, ship_segments
from duckspool.spool import SpoolBusy
from tests.conftest import child_env, sample_event, write_segment


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "duckspool", *args], capture_output=True,
                          text=True, env=child_env(), timeout=120, check=False)


def host_with_segments(root: Path, count: int, per: int = 10, tag: str = "h") -> dict[str, bytes]:
    out = {}
    for s in range(count):
        lines = [sample_event(s * per + i, correlation_id=f"{tag}-{s}-{i}").to_json_line()
                 for i in range(per)]
        path = write_segment(root / "sealed", f"20261126T000000{s:06d}Z_{tag}_1_{s:06d}.jsonl",
                             lines)
        out[path.name] = path.read_bytes()
    (root / "active").mkdir(exist_ok=True)
    write_segment(root / "active", "open.jsonl", [b"{}"])  # still being written: never shipped
    return out


@pytest.fixture
def spools(tmp_path: Path) -> tuple[Path, Path]:
    central = tmp_path / "central"
    central.mkdir()
    return tmp_path / "host", central


def test_ship_moves_every_sealed_segment_whole_and_owner_only(spools: tuple[Path, Path]) -> None:
    host, central = spools
    sent = host_with_segments(host, 4)
    report = ship_segments(host, central)
    assert sorted(report.shipped) == sorted(sent) and report.bytes == sum(map(len, sent.values()))
    assert not list((host / "sealed").iterdir())
    assert (host / "active" / "open.jsonl").exists()
    for name, data in sent.items():
        path = central / "sealed" / name
        assert path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in (central / "sealed").iterdir()) == sorted(sent)
    assert ship_segments(host, central).shipped == []


def test_dry_run_lists_and_moves_nothing(spools: tuple[Path, Path]) -> None:
    host, central = spools
    sent = host_with_segments(host, 3)
    report = ship_segments(host, central, dry_run=True)
    assert sorted(report.shipped) == sorted(sent) and report.dry_run
    assert len(list((host / "sealed").iterdir())) == 3
    assert not (central / "sealed").exists()


@pytest.mark.parametrize("stage", ["copying", "copied", "renamed", "deleted"])
def test_a_failure_at_any_stage_then_a_rerun_loads_each_segment_once(
    spools: tuple[Path, Path], tmp_path: Path, stage: str
) -> None:
    host, central = spools
    sent = host_with_segments(host, 3)

    def fail_at_second(seen: list[str], at: str, name: str) -> None:
        if at == stage:
            seen.append(name)
            if len(seen) == 2:
                raise KeyboardInterrupt

    seen: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        ship_segments(host, central, checkpoint=lambda at, name: fail_at_second(seen, at, name))
    db = tmp_path / "t.duckdb"
    first = Loader(central, db).run_once()  # the loader runs between the crash and the rerun
    again = ship_segments(host, central)
    assert not list((host / "sealed").iterdir())
    second = Loader(central, db).run_once()
    assert first.ok and second.ok
    assert first.events_inserted + second.events_inserted == 30
    assert first.segments_loaded + second.segments_loaded == 3
    if stage == "renamed":  # shipped twice (loaded in between): the ledger loads it once
        assert second.segments_already_loaded == 1 and len(again.shipped) == 2
    assert not [p for p in (central / "sealed").iterdir() if p.name.startswith(".")]
    assert sorted(sent)  # nothing else to check: every name was loaded


def test_a_copy_already_in_place_is_not_copied_again(spools: tuple[Path, Path]) -> None:
    host, central = spools
    sent = host_with_segments(host, 2)
    (central / "sealed").mkdir()
    name = sorted(sent)[0]
    (central / "sealed" / name).write_bytes(sent[name])  # a crash after rename, before delete
    report = ship_segments(host, central)
    assert report.already_there == [name] and report.shipped == [sorted(sent)[1]]


def test_same_name_other_content_keeps_both(spools: tuple[Path, Path]) -> None:
    host, central = spools
    sent = host_with_segments(host, 1)
    name = next(iter(sent))
    write_segment(central / "sealed", name, [sample_event(99).to_json_line()])
    ship_segments(host, central)
    names = sorted(p.name for p in (central / "sealed").iterdir())
    assert len(names) == 2 and name in names
    other = next(n for n in names if n != name)
    assert (central / "sealed" / other).read_bytes() == sent[name]


def test_stale_temp_files_of_dead_shippers_go_live_ones_stay(spools: tuple[Path, Path]) -> None:
    host, central = spools
    host_with_segments(host, 1)
    sealed = central / "sealed"
    sealed.mkdir()
    dead = sealed / ".x.jsonl.otherhost-1.shipping"
    live = sealed / ".y.jsonl.otherhost-2.shipping"
    dead.write_bytes(b"half")
    live.write_bytes(b"half")
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another shipper, still copying
        report = ship_segments(host, central)
        assert report.stale_temps == 1 and not dead.exists() and live.exists()
    finally:
        os.close(fd)


def test_a_spool_held_by_a_loader_is_busy(spools: tuple[Path, Path]) -> None:
    host, central = spools
    host_with_segments(host, 1)
    fd = os.open(host / ".loader.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(SpoolBusy, match="held by another loader"):
            ship_segments(host, central)
        proc = cli("ship", "--spool", str(host), "--to", str(central))
        assert proc.returncode == 75 and proc.stderr.count("\n") == 1
    finally:
        os.close(fd)
    assert len(list((host / "sealed").iterdir())) == 1


def test_missing_or_identical_spools_are_refused(spools: tuple[Path, Path], tmp_path: Path) -> None:
    host, central = spools
    host_with_segments(host, 1)
    with pytest.raises(ConfigurationError, match=r"central spool .* does not exist"):
        ship_segments(host, tmp_path / "nowhere")
    with pytest.raises(ConfigurationError, match="same directory"):
        ship_segments(host, host)
    proc = cli("ship", "--spool", str(tmp_path / "nohost"), "--to", str(central))
    assert proc.returncode == 1 and "nohost" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "nohost").exists() and not (tmp_path / "nowhere").exists()


def test_cli_ship_reports_what_moved(spools: tuple[Path, Path]) -> None:
    host, central = spools
    sent = host_with_segments(host, 2)
    dry = cli("ship", "--spool", str(host), "--to", str(central), "--dry-run")
    assert dry.returncode == 0 and dry.stdout.count("would ship ") == 3  # 2 lines + summary
    proc = cli("ship", "--spool", str(host), "--to", str(central), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(report["shipped"]) == sorted(sent) and report["dry_run"] is False
    text = cli("ship", "--spool", str(host), "--to", str(central))
    assert text.returncode == 0 and "shipped 0 segment(s)" in text.stdout
