"""The pipeline-health section: loads, quarantine, spool backlog, and what is not known here."""

from __future__ import annotations

from duckspool.report._charts import bar_chart
from duckspool.report._format import fmt_bytes, fmt_count, fmt_duration_ms
from duckspool.report._model import Block, Section, Table
from duckspool.report._period import Period
from duckspool.report._pipeline import MAX_LOADS, LoadFigures, SpoolFigures

__all__ = ["DROPS_NOTE", "pipeline_section"]

DROPS_NOTE = (
    "Emitter drops are not shown: each emitting process counts them in memory "
    "(Emitter.stats().dropped, logged as warnings) and they are not recorded in the spool "
    "or the database, so a report made elsewhere cannot know them."
)


def _loads_block(loads: LoadFigures, when: str) -> Block:
    shown = len(loads.loads)
    title = f"Rows per load (the latest {shown} of {fmt_count(loads.total_loads)}), {when}"
    if not loads.total_loads:
        return Block(title, notes=["No loads recorded in this period."])
    labels = [f"{at:%m-%d %H:%M:%S}" for at, *_ in loads.loads]
    segments, lines, inserted, duplicates, quarantined = loads.totals
    return Block(
        title,
        bar_chart(
            title,
            labels,
            [
                ("inserted", [r[3] for r in loads.loads]),
                ("duplicates skipped", [r[4] for r in loads.loads]),
                ("quarantined", [r[5] for r in loads.loads]),
            ],
            stacked=True,
            category_title="load time (UTC)",
        ),
        Table(
            ["loaded at (UTC)", "segments", "lines", "inserted", "duplicates", "quarantined"],
            [
                [f"{at:%Y-%m-%d %H:%M:%S}", *(fmt_count(v) for v in rest)]
                for at, *rest in loads.loads
            ],
            (False, True, True, True, True, True),
            collapsed=shown > 10,
        ),
        notes=[
            f"In all {fmt_count(loads.total_loads)} loads: {fmt_count(segments)} segments, "
            f"{fmt_count(lines)} lines, {fmt_count(inserted)} inserted, {fmt_count(duplicates)} "
            f"duplicates skipped, {fmt_count(quarantined)} quarantined."
        ],
    )


def _quarantine_block(spool: SpoolFigures) -> Block:
    title = "Quarantined lines waiting in the spool, by reason (now)"
    reasons = list(spool.quarantine.items())
    total = sum(n for _, n in reasons)
    if not total:
        return Block(title, notes=["The quarantine is empty."])
    return Block(
        title,
        bar_chart(
            title, [r for r, _ in reasons], [("lines", [n for _, n in reasons])], horizontal=True
        ),
        Table(["reason", "lines"], [[r, fmt_count(n)] for r, n in reasons], (False, True)),
        notes=["`duckspool quarantine list` shows each line; docs/loader.md explains the reasons."],
    )


def pipeline_section(loads: LoadFigures, spool: SpoolFigures | None, period: Period) -> Section:
    """Load history over the period (by load time), and the spool as it is now (if given)."""
    blocks = [_loads_block(loads, period.describe())]
    notes = []
    tiles = [("loads", fmt_count(loads.total_loads))]
    if spool is None:
        notes.append("No spool given: spool backlog and quarantine are not shown.")
    elif spool.found:
        sealed_n, sealed_bytes = spool.backlog["sealed"]
        age = spool.oldest_sealed_age_s
        tiles += [
            ("sealed segments waiting", f"{fmt_count(sealed_n)} ({fmt_bytes(sealed_bytes)})"),
            ("oldest sealed segment", fmt_duration_ms(age * 1000) if age is not None else "—"),
            ("quarantined lines", fmt_count(sum(spool.quarantine.values()))),
        ]
        blocks.append(_quarantine_block(spool))
        blocks.append(
            Block(
                f"Spool backlog in {spool.root} (now)",
                table=Table(
                    ["directory", "segments", "size"],
                    [
                        [label, fmt_count(n), fmt_bytes(size)]
                        for label, (n, size) in spool.backlog.items()
                    ],
                    (False, True, True),
                ),
                notes=[
                    "sealed: waiting for the loader; active: still being written; "
                    "failed: given up on after repeated load failures (see docs/loader.md)."
                ],
            )
        )
    else:
        notes.append(
            f"No spool directory at {spool.root}: spool backlog and quarantine are not shown "
            "(pass --spool)."
        )
    notes.append(DROPS_NOTE)
    if loads.total_loads > MAX_LOADS:
        notes.append(f"The load chart shows the latest {MAX_LOADS} loads.")
    return Section("pipeline", "Pipeline health", blocks, notes=notes, tiles=tiles)
