"""The summary table: one row per fault case, with the three verdicts and their figures.

A case builds its row from what it measured *before* asserting, so the table shows the
figures of a failing case too; :meth:`Row.check` then asserts the three verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .accounting import Accounting
from .harness import LoopStats

__all__ = [
    "ROWS",
    "LossError",
    "Row",
    "Verdict",
    "exceptions_verdict",
    "format_table",
    "loop_verdict",
    "lost_verdict",
]


class LossError(AssertionError):
    """Recorded data went missing without being counted as dropped.

    Its own class so a case known to lose data (a library bug) can be
    ``xfail(strict=True, raises=LossError)``: a broken loop or a changed exception in that
    case still fails it for real."""


@dataclass(frozen=True)
class Verdict:
    """One of the three checks: whether it held, and the figures behind it."""

    ok: bool
    text: str

    def cell(self) -> str:
        return f"{'yes' if self.ok else 'NO'}: {self.text}" if self.text else "yes"


NOT_APPLICABLE = Verdict(True, "")


@dataclass
class Row:
    """A case's line in the table. ``outcome`` is filled in from pytest's report."""

    case: str
    loop: Verdict
    exceptions: Verdict
    lost: Verdict
    nodeid: str = ""
    outcome: str = ""
    notes: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Assert the three verdicts (the figures are in the messages)."""
        assert self.loop.ok, f"{self.case}: the loop did not keep running: {self.loop.text}"
        assert self.exceptions.ok, f"{self.case}: exceptions changed: {self.exceptions.text}"
        if not self.lost.ok:
            raise LossError(f"{self.case}: recorded data lost: {self.lost.text}")


#: Every row recorded in this process, in the order the cases ran.
ROWS: list[Row] = []


def loop_verdict(
    stats: LoopStats,
    *,
    min_cycles: int,
    max_cost: float | None = None,
    p99_cost: float | None = None,
) -> Verdict:
    """The loop kept cycling: at least ``min_cycles`` cycles, nothing escaped into it, and
    (when given) no cycle's own cost above ``max_cost`` and a p99 under ``p99_cost`` seconds."""
    problems = []
    if stats.cycles < min_cycles:
        problems.append(f"only {stats.cycles} < {min_cycles} cycles")
    if stats.escaped:
        problems.append(f"{stats.escaped[0]!r} escaped into the loop")
    if max_cost is not None and stats.max_cost > max_cost:
        problems.append(f"a cycle cost {stats.max_cost * 1e3:.1f} ms > {max_cost * 1e3:.0f} ms")
    if p99_cost is not None and stats.p99_cost > p99_cost:
        problems.append(f"p99 {stats.p99_cost * 1e3:.1f} ms > {p99_cost * 1e3:.0f} ms")
    text = f"{stats.cycles} cycles"
    if max_cost is not None or p99_cost is not None:
        text += f", p99 {stats.p99_cost * 1e3:.1f} ms, max {stats.max_cost * 1e3:.1f} ms"
    if problems:
        text += " (" + "; ".join(problems) + ")"
    return Verdict(not problems, text)


def exceptions_verdict(stats: LoopStats, *, min_raised: int = 1) -> Verdict:
    """Every exception the bot raised in a cycle came out as the same object, and the bot
    did raise some (at least ``min_raised``), so the check checked something."""
    ok = stats.exceptions_unchanged and stats.raised >= min_raised
    text = f"{stats.unchanged}/{stats.raised} same object"
    if stats.changed:
        text += f" ({stats.changed[0]})"
    elif stats.raised < min_raised:
        text += f" (expected at least {min_raised})"
    return Verdict(ok, text)


def lost_verdict(accounting: Accounting) -> Verdict:
    """Nothing recorded was lost except what was counted as dropped."""
    return Verdict(accounting.nothing_lost, accounting.summary())


def format_table(rows: list[Row]) -> str:
    """A Markdown table (what docs/reliability.md shows)."""
    header = ("case", "loop kept running", "exceptions unchanged", "lost / dropped", "result")
    body = [
        (
            row.case + (f" ({'; '.join(row.notes)})" if row.notes else ""),
            row.loop.cell(),
            row.exceptions.cell() if row.exceptions.text else "n/a",
            row.lost.cell(),
            row.outcome or "?",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(cells) for cells in body)])
