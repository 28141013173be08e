"""Compute the daily report from event files in one streaming pass.

Memory stays constant per event except for the cycle durations and the equity path, which are
kept whole (a float per cycle, a pair per account event). Events from several files (rotated
logs) may interleave in time: whatever depends on order (the equity path, first and last
funding, the last unrealized PnL) is ordered by timestamp, not by file position.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final

from ..clock import rfc3339
from ..config import Thresholds
from ..events.reader import Event, ReadStats, load_metrics_snapshot, read_events

__all__ = [
    "DRAWDOWN_DEFINITION",
    "PNL_DEFINITION",
    "SHARPE_DEFINITION",
    "SORTINO_DEFINITION",
    "compute_daily_report",
]

PNL_DEFINITION: Final = (
    "total = realized - fees + funding + unrealized; realized is the sum of fills' "
    "realized_pnl (before fees), fees the sum of fills' fee, funding the change in cumulative "
    "funding_pnl of account events over the window plus legacy funding_payment amounts, "
    "unrealized the last account event's unrealized_pnl"
)
SHARPE_DEFINITION: Final = (
    "mean / sample standard deviation of the returns between consecutive equity points in the "
    "window; unannualised, no risk-free rate"
)
SORTINO_DEFINITION: Final = (
    "mean / downside deviation (root mean square of the negative returns, over all returns) of "
    "the returns between consecutive equity points in the window; unannualised, target 0"
)
DRAWDOWN_DEFINITION: Final = (
    "largest fall of equity from its running peak over the window, the peak starting at the "
    "window's first equity point; pct is relative to that peak"
)
MAX_CURVE_POINTS: Final = 200
SLOWEST_CYCLES: Final = 5

_FILL_TYPES: Final = frozenset({"fill", "trade"})
_ACCOUNT_TYPES: Final = frozenset({"account", "pnl_update"})
_STALE_TYPES: Final = frozenset({"stale_mark", "stale_mark_detected"})
_RECONNECT_TYPES: Final = frozenset({"ws_reconnect", "websocket_reconnect"})


def _num(value: object) -> float | None:
    """A finite float from ``value``, or None (bools and non-numbers are not numbers here)."""
    if type(value) is float:  # the common case, read from our own files
        return value if value - value == 0 else None  # NaN and inf fail x - x == 0
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _iso(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, to the millisecond."""
    return rfc3339(moment.timestamp())


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class _SymbolTally:
    fills: int = 0
    realized: float = 0.0
    fees: float = 0.0
    wins: int = 0
    closing: int = 0


@dataclass
class _Steps:
    """Time a step function spends at or above levels (daily-loss ratio, a health status).

    Each observation holds until the next one; the last holds until the report's close.
    """

    levels: tuple[float, ...]
    seconds: list[float] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)
    last: tuple[datetime, float] | None = None

    def __post_init__(self) -> None:
        self.seconds = [0.0] * len(self.levels)
        self.entries = [0] * len(self.levels)

    def observe(self, moment: datetime, value: float) -> None:
        before = self.last
        if before is not None and moment < before[0]:
            return  # out of order (interleaved files): the step function is kept as first seen
        self._hold(moment)
        for i, level in enumerate(self.levels):
            if value >= level and (before is None or before[1] < level):
                self.entries[i] += 1
        self.last = (moment, value)

    def _hold(self, until: datetime) -> None:
        if self.last is None:
            return
        since, value = self.last
        held = max(0.0, (until - since).total_seconds())
        for i, level in enumerate(self.levels):
            if value >= level:
                self.seconds[i] += held

    def close(self, at: datetime) -> None:
        if self.last is not None and at > self.last[0]:
            self._hold(at)
            self.last = (at, self.last[1])


@dataclass
class _Gaps:
    """Time an age (since the last cycle, since the last account snapshot) spent above levels.

    Between two events ``gap`` seconds apart the age climbs from 0 to ``gap``, so it is above a
    level ``L`` for ``gap - L`` seconds; the last event's age runs on to the report's close.
    """

    levels: tuple[float, ...]
    seconds: list[float] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)
    last: datetime | None = None

    def __post_init__(self) -> None:
        self.seconds = [0.0] * len(self.levels)
        self.entries = [0] * len(self.levels)

    def observe(self, moment: datetime) -> None:
        last = self.last
        if last is None or moment > last:
            if last is not None:
                self._gap((moment - last).total_seconds())
            self.last = moment

    def _gap(self, gap: float) -> None:
        if gap > self.levels[0]:  # levels ascend: most gaps stop here
            for i, level in enumerate(self.levels):
                if gap > level:
                    self.seconds[i] += gap - level
                    self.entries[i] += 1

    def close(self, at: datetime) -> None:
        if self.last is not None and at > self.last:
            self._gap((at - self.last).total_seconds())
            self.last = at


_STATUS_RANK: Final = {"healthy": 0.0, "unknown": 0.0, "degraded": 1.0, "unhealthy": 2.0}


@dataclass
class _Tally:
    """Everything gathered while streaming; O(1) per event bar durations and equity path."""

    thresholds: Thresholds
    fills: int = 0
    realized: float = 0.0
    fees: float = 0.0
    wins: int = 0
    losses: int = 0
    gross_win: float = 0.0
    gross_loss: float = 0.0
    largest_win: float | None = None
    largest_loss: float | None = None
    symbols: dict[str, _SymbolTally] = field(default_factory=dict)
    equity: list[tuple[datetime, float]] = field(default_factory=list)
    equity_in_order: bool = True
    first_funding: tuple[datetime, float] | None = None
    last_funding: tuple[datetime, float] | None = None
    last_unrealized: tuple[datetime, float] | None = None
    funding_payments: float = 0.0
    guards: Counter[str] = field(default_factory=Counter)
    trips: list[tuple[datetime, str | None]] = field(default_factory=list)
    daily_loss: tuple[float, float | None] | None = None
    cycles: int = 0
    errors: int = 0
    errors_by_type: Counter[str] = field(default_factory=Counter)
    durations: list[float] = field(default_factory=list)
    slowest: list[tuple[float, int, int | None, datetime]] = field(default_factory=list)
    stale_marks: int = 0
    stale_by_symbol: Counter[str] = field(default_factory=Counter)
    ws_reconnects: int = 0
    rejections: int = 0
    events: int = 0
    heartbeat: _Gaps = field(init=False)
    account_age: _Gaps = field(init=False)
    loss_ratio: _Steps = field(init=False)
    health: dict[str, _Steps] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = self.thresholds
        self.heartbeat = _Gaps((t.heartbeat_warning_seconds, t.heartbeat_critical_seconds))
        self.account_age = _Gaps((t.account_age_warning_seconds, t.account_age_critical_seconds))
        self.loss_ratio = _Steps((t.daily_loss_warning_ratio, t.daily_loss_critical_ratio))

    def fold(self, events: Iterable[Event]) -> None:
        """Fold a stream of events into the tally (the report's inner loop: kept flat)."""
        fill_types, account_types = _FILL_TYPES, _ACCOUNT_TYPES
        cycle, fill, account, other = self._cycle, self._fill, self._account, self._other
        count = 0
        for event in events:
            count += 1
            kind = event.event_type
            if kind == "cycle":
                cycle(event.timestamp, event.fields)
            elif kind in fill_types:
                fill(event.fields)
            elif kind in account_types:
                account(event.timestamp, event.fields)
            elif kind != "order":
                other(kind, event)
        self.events += count

    def _other(self, kind: str, event: Event) -> None:  # noqa: PLR0912 - one dispatch
        fields = event.fields
        if kind == "funding_payment":
            self.funding_payments += _num(fields.get("amount")) or 0.0
        elif kind == "guard_triggered":
            self.guards[str(fields.get("guard") or "unknown")] += 1
        elif kind == "circuit_breaker":
            if fields.get("triggered") is True:
                self.trips.append((event.timestamp, _text(fields.get("reason"))))
        elif kind == "circuit_breaker_triggered":
            self.trips.append((event.timestamp, _text(fields.get("reason"))))
        elif kind == "daily_loss":
            loss = _num(fields.get("loss"))
            limit = _num(fields.get("limit"))
            if loss is not None and (self.daily_loss is None or loss > self.daily_loss[0]):
                self.daily_loss = (loss, limit)
            if loss is not None and limit is not None and limit > 0:
                self.loss_ratio.observe(event.timestamp, loss / limit)
        elif kind in _STALE_TYPES:
            self.stale_marks += 1
            self.stale_by_symbol[str(fields.get("symbol") or "unknown")] += 1
        elif kind in _RECONNECT_TYPES:
            self.ws_reconnects += 1
        elif kind == "rejection":
            self.rejections += 1
        elif kind == "health":
            check, status = fields.get("check"), fields.get("status")
            if isinstance(check, str) and status in _STATUS_RANK:
                steps = self.health.get(check)
                if steps is None:
                    steps = self.health[check] = _Steps((1.0, 2.0))
                steps.observe(event.timestamp, _STATUS_RANK[status])

    def _fill(self, fields: dict[str, Any]) -> None:
        realized = fields.get("realized_pnl")
        if realized.__class__ is not float or realized - realized != 0:
            realized = _num(realized)
            if realized is None:
                realized = _num(fields.get("pnl")) or 0.0
        fee = fields.get("fee")
        if fee.__class__ is not float or fee - fee != 0:
            fee = _num(fee) or 0.0
        symbol = fields.get("symbol")
        if symbol.__class__ is not str or not symbol:
            symbol = str(symbol or "unknown")
        per = self.symbols.get(symbol)
        if per is None:
            per = self.symbols[symbol] = _SymbolTally()
        self.fills += 1
        self.realized += realized
        self.fees += fee
        per.fills += 1
        per.realized += realized
        per.fees += fee
        if realized > 0:
            self.wins += 1
            self.gross_win += realized
            per.wins += 1
            per.closing += 1
            if self.largest_win is None or realized > self.largest_win:
                self.largest_win = realized
        elif realized < 0:
            self.losses += 1
            self.gross_loss -= realized
            per.closing += 1
            if self.largest_loss is None or realized < self.largest_loss:
                self.largest_loss = realized

    def _account(self, moment: datetime, fields: dict[str, Any]) -> None:
        age = self.account_age
        if age.last is None or moment > age.last:
            age.observe(moment)
        equity = fields.get("equity")
        if equity.__class__ is not float or equity - equity != 0:
            equity = _num(equity)
        if equity is not None:
            if self.equity_in_order and self.equity and moment < self.equity[-1][0]:
                self.equity_in_order = False
            self.equity.append((moment, equity))
        funding = fields.get("funding_pnl")
        if funding is not None:
            funding = _num(funding)
        if funding is not None:
            if self.first_funding is None or moment < self.first_funding[0]:
                self.first_funding = (moment, funding)
            if self.last_funding is None or moment >= self.last_funding[0]:
                self.last_funding = (moment, funding)
        unrealized = fields.get("unrealized_pnl")
        if unrealized is not None:
            unrealized = _num(unrealized)
        if unrealized is not None and (
            self.last_unrealized is None or moment >= self.last_unrealized[0]
        ):
            self.last_unrealized = (moment, unrealized)

    def _cycle(self, moment: datetime, fields: dict[str, Any]) -> None:
        self.cycles += 1
        beat = self.heartbeat
        if beat.last is None or moment > beat.last:
            beat.observe(moment)
        outcome = fields.get("outcome")
        if outcome is not None and outcome != "ok":
            self.errors += 1
            self.errors_by_type[str(fields.get("error_type") or outcome)] += 1
        duration = fields.get("duration_seconds")
        if duration.__class__ is not float or duration - duration != 0:
            duration = _num(duration)
            if duration is None:
                return
        self.durations.append(duration)
        slowest = self.slowest
        if len(slowest) < SLOWEST_CYCLES or duration > slowest[0][0]:
            number = fields.get("number")
            entry = (duration, -self.cycles, number if isinstance(number, int) else None, moment)
            if len(slowest) < SLOWEST_CYCLES:
                heapq.heappush(slowest, entry)
            else:
                heapq.heapreplace(slowest, entry)

    def close(self, at: datetime) -> None:
        """End every step function and age at ``at`` (the window's end, or now if earlier)."""
        self.heartbeat.close(at)
        self.account_age.close(at)
        self.loss_ratio.close(at)
        for steps in self.health.values():
            steps.close(at)


def _offset(progress: Callable[[int], None], base: int) -> Callable[[int], None]:
    """``progress`` for one file of several: its bytes counted after the files before it."""

    def report(done: int) -> None:
        progress(base + done)

    return report


def _time_above(tally: _Tally, ordered: list[float]) -> list[dict[str, Any]]:
    """Per threshold row and level: how often and for how long it was crossed."""
    t = tally.thresholds
    rows: list[dict[str, Any]] = []

    def row(  # noqa: PLR0917 - one table row, positional for brevity
        what: str, level: str, threshold: object, unit: str, seconds: float, n: int
    ) -> None:
        rows.append(
            {
                "what": what,
                "level": level,
                "threshold": threshold,
                "unit": unit,
                "count": n,
                "seconds": round(seconds, 3),
            }
        )

    for level, limit in (
        ("warning", t.cycle_duration_warning_seconds),
        ("critical", t.cycle_duration_critical_seconds),
    ):
        slow = ordered[bisect.bisect_right(ordered, limit) :]
        row("cycle duration", level, limit, "s", float(sum(slow)), len(slow))
    for what, gaps, unit in (
        ("loop heartbeat (last cycle age)", tally.heartbeat, "s"),
        ("account snapshot age", tally.account_age, "s"),
    ):
        for i, level in enumerate(("warning", "critical")):
            row(what, level, gaps.levels[i], unit, gaps.seconds[i], gaps.entries[i])
    for i, level in enumerate(("warning", "critical")):
        steps = tally.loss_ratio
        row(
            "daily loss / limit",
            level,
            steps.levels[i],
            "ratio",
            steps.seconds[i],
            steps.entries[i],
        )
    for check, steps in sorted(tally.health.items()):
        for i, level in enumerate(("degraded", "unhealthy")):
            row(f"health {check}", level, None, "status", steps.seconds[i], steps.entries[i])
    return rows


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _nearest_rank(ordered: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile of an ascending list (None when empty)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _drawdown(path: list[float]) -> tuple[float | None, float | None]:
    """(max drawdown in USD, as a percentage of its peak) with the peak starting at path[0]."""
    if not path:
        return None, None
    peak = path[0]
    worst = 0.0
    worst_pct = 0.0
    for equity in path:
        peak = max(peak, equity)
        fall = peak - equity
        worst = max(worst, fall)
        if peak > 0 and fall / peak * 100.0 > worst_pct:
            worst_pct = fall / peak * 100.0
    return worst, worst_pct


def _ratios(path: list[float]) -> tuple[float | None, float | None]:
    """(Sharpe, Sortino) of the returns between consecutive equity points, unannualised."""
    returns = [b / a - 1.0 for a, b in itertools.pairwise(path) if a > 0]
    if len(returns) < 2:  # a sample standard deviation needs two returns
        return None, None
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    sharpe = mean / math.sqrt(variance) if variance > 0 else None
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    sortino = mean / downside if downside > 0 else None
    return sharpe, sortino


def _downsample(points: list[tuple[datetime, float]], limit: int) -> list[list[Any]]:
    """At most ``limit`` points, evenly spaced by index, first and last always kept."""
    if len(points) > limit:
        step = (len(points) - 1) / (limit - 1)
        points = [points[round(i * step)] for i in range(limit)]
    return [[_iso(moment), round(equity, 6)] for moment, equity in points]


def compute_daily_report(
    *,
    events_files: list[Path],
    metrics_file: Path | None,
    day: date,
    lookback_hours: float = 24,
    profile: str = "default",
    now: datetime | None = None,
    tz: tzinfo = UTC,
    thresholds: Thresholds | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Build the daily report of the window ``[end - lookback_hours, end)``.

    ``end`` is midnight in ``tz`` at the close of ``day``. Every event file is streamed once;
    missing files are listed in ``sources.missing`` and otherwise ignored.

    Args:
        events_files: The ``events.jsonl`` files to read (rotated files included).
        metrics_file: A ``metrics.json`` whose ``account_snapshot.equity`` is the closing
            equity when no account event gives one; None to skip.
        day: The UTC day the report closes.
        lookback_hours: Length of the window, in hours (must be positive).
        profile: The deployment profile named in the report.
        now: The generation time (defaults to the current time).
        tz: The time zone whose midnight closes ``day`` (timestamps stay UTC).
        thresholds: The levels of the "time above threshold" figures (default: DESIGN §5).
        progress: Called with the bytes read so far, every few thousand lines (a progress bar).

    Returns:
        A JSON-ready dict (see the module documentation of :mod:`trader_telemetry.report`).

    Raises:
        ValueError: ``lookback_hours`` is not a positive finite number.
    """
    if not (math.isfinite(lookback_hours) and lookback_hours > 0):
        raise ValueError(f"lookback_hours must be positive, got {lookback_hours!r}")
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    start = end - timedelta(hours=lookback_hours)
    generated = (now or datetime.now(UTC)).astimezone(UTC)
    stats = ReadStats()
    tally = _Tally(thresholds or Thresholds())
    done = 0
    read: list[str] = []
    missing: list[str] = []
    for path in events_files:
        try:
            events = read_events(
                path,
                start=start,
                end=end,
                stats=stats,
                progress=None if progress is None else _offset(progress, done),
            )
            done += path.stat().st_size
        except FileNotFoundError:
            missing.append(str(path))
            continue
        except OSError as exc:
            missing.append(str(path))
            stats.warnings.append(f"could not read {path}: {exc.strerror or exc}")
            continue
        read.append(str(path))
        tally.fold(events)
    tally.close(min(end, generated))
    snapshot = load_metrics_snapshot(metrics_file) if metrics_file is not None else None
    report: dict[str, Any] = {
        "date": day.isoformat(),
        "profile": profile,
        "generated_at": _iso(generated),
        "window": {
            "start": _iso(start),
            "end": _iso(end),
            "lookback_hours": lookback_hours,
            "timezone": str(tz),
        },
        "sources": {
            "events_files": read,
            "missing": missing,
            "metrics_file": str(metrics_file) if metrics_file is not None else None,
            "metrics_file_read": snapshot is not None,
            "lines": stats.lines,
            "events": stats.events,
            "out_of_window": stats.out_of_window,
            "skipped": {
                "blank": stats.blank,
                "corrupt": stats.corrupt,
                "truncated_last_line": int(stats.truncated_last_line),
                "missing_timestamp": stats.missing_timestamp,
                "bad_timestamp": stats.bad_timestamp,
                "missing_type": stats.missing_type,
            },
            "naive_timestamps": stats.naive_timestamps,
            "warnings": list(stats.warnings),
        },
    }
    report.update(_sections(tally, snapshot))
    report["no_data"] = tally.events == 0
    if tally.events == 0:
        looked = ", ".join(str(p) for p in events_files) or "no events files"
        report["message"] = (
            f"no events between {_iso(start)} and {_iso(end)} (looked at: {looked}"
            + (f"; metrics file: {metrics_file}" if metrics_file is not None else "")
            + ")"
        )
    return report


def _sections(tally: _Tally, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    """The account, pnl, performance, trades, symbols, risk, operations and curve sections."""
    if not tally.equity_in_order:
        tally.equity.sort(key=lambda point: point[0])  # stable: file order breaks ties
    path = [equity for _, equity in tally.equity]
    equity_start = path[0] if path else None
    equity_end = path[-1] if path else None
    end_source = "events" if path else None
    if equity_end is None and snapshot is not None:
        equity_end = _num(snapshot.get("account_snapshot", {}).get("equity"))
        end_source = "metrics_file" if equity_end is not None else None
    change = (
        equity_end - equity_start if equity_start is not None and equity_end is not None else None
    )
    change_pct = change / equity_start * 100.0 if change is not None and equity_start else None

    funding = tally.funding_payments
    if tally.first_funding is not None and tally.last_funding is not None:
        funding += tally.last_funding[1] - tally.first_funding[1]
    unrealized = tally.last_unrealized[1] if tally.last_unrealized is not None else 0.0
    total = tally.realized - tally.fees + funding + unrealized

    closing = tally.wins + tally.losses
    drawdown, drawdown_pct = _drawdown(path)
    sharpe, sortino = _ratios(path)
    ordered = sorted(tally.durations)
    slowest = sorted(tally.slowest, reverse=True)
    return {
        "account": {
            "equity_start": _round(equity_start),
            "equity_end": _round(equity_end),
            "equity_end_source": end_source,
            "equity_change": _round(change),
            "equity_change_pct": _round(change_pct),
        },
        "pnl": {
            "realized": _round(tally.realized),
            "fees": _round(tally.fees),
            "funding": _round(funding),
            "unrealized": _round(unrealized),
            "total": _round(total),
            "definition": PNL_DEFINITION,
        },
        "performance": {
            "win_rate": _round(tally.wins / closing) if closing else None,
            "profit_factor": (
                _round(tally.gross_win / tally.gross_loss) if tally.gross_loss > 0 else None
            ),
            "max_drawdown": _round(drawdown),
            "max_drawdown_pct": _round(drawdown_pct),
            "sharpe": _round(sharpe),
            "sortino": _round(sortino),
            "equity_points": len(path),
            "definitions": {
                "win_rate": "winning fills / fills with realized_pnl != 0",
                "profit_factor": "gross realized wins / gross realized losses; null without losses",
                "max_drawdown": DRAWDOWN_DEFINITION,
                "sharpe": SHARPE_DEFINITION,
                "sortino": SORTINO_DEFINITION,
            },
        },
        "trades": {
            "total": tally.fills,
            "closing": closing,
            "winning": tally.wins,
            "losing": tally.losses,
            "avg_win": _round(tally.gross_win / tally.wins) if tally.wins else None,
            "avg_loss": _round(-tally.gross_loss / tally.losses) if tally.losses else None,
            "largest_win": _round(tally.largest_win),
            "largest_loss": _round(tally.largest_loss),
        },
        "symbols": [
            {
                "symbol": symbol,
                "fills": per.fills,
                "realized_pnl": _round(per.realized),
                "fees": _round(per.fees),
                "win_rate": _round(per.wins / per.closing) if per.closing else None,
            }
            for symbol, per in sorted(tally.symbols.items())
        ],
        "risk": {
            "guard_triggers": dict(sorted(tally.guards.items())),
            "circuit_breaker_trips": [
                {"timestamp": _iso(moment), "reason": reason}
                for moment, reason in sorted(tally.trips, key=lambda trip: trip[0])
            ],
            "daily_loss_max": (
                {"loss": _round(tally.daily_loss[0]), "limit": _round(tally.daily_loss[1])}
                if tally.daily_loss is not None
                else None
            ),
        },
        "operations": {
            "cycles": tally.cycles,
            "errors": tally.errors,
            "errors_by_type": dict(sorted(tally.errors_by_type.items())),
            "cycle_seconds": {
                "p50": _nearest_rank(ordered, 0.50),
                "p95": _nearest_rank(ordered, 0.95),
                "p99": _nearest_rank(ordered, 0.99),
                "max": ordered[-1] if ordered else None,
            },
            "slowest_cycles": [
                {"number": number, "duration_seconds": duration, "timestamp": _iso(moment)}
                for duration, _, number, moment in slowest
            ],
            "stale_marks": tally.stale_marks,
            "stale_marks_by_symbol": dict(sorted(tally.stale_by_symbol.items())),
            "ws_reconnects": tally.ws_reconnects,
            "rejections": tally.rejections,
            "time_above": _time_above(tally, ordered),
        },
        "equity_curve": _downsample(tally.equity, MAX_CURVE_POINTS),
    }
