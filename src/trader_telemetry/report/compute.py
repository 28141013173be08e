"""Compute the daily report from event files in one streaming pass.

Every file is read from its start: the events before the window only set the state in force
when it opens (the last account state, for the mark-to-market PnL and the reconciliation; the
last health status of each check, the breaker, the daily loss, the last cycle and account times,
the stale marks still open), which counts from the window's start. Memory stays constant per
event except for the cycle durations and the equity path, which are kept whole (a float per
cycle, a pair per account event). Events from several files (rotated
logs) may interleave in time: whatever depends on order (the equity path, first and last
funding, the last unrealized PnL) is ordered by timestamp, not by file position.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final

from ..config import Thresholds
from ..events.read_stats import ReadStats
from ..events.reader import read_rows
from ..events.snapshot_reader import load_metrics_snapshot
from ..events.sqlite_source import is_sqlite, read_db_events
from .parallel import (
    CHUNKS_PER_WORKER,
    PARALLEL_MIN_BYTES,
    default_workers,
    fold_chunks,
    plan_chunks,
)
from .pnl import mark_to_market, rounded
from .tally import CONVERTED_TYPES, Tally

__all__ = [
    "DRAWDOWN_DEFINITION",
    "SHARPE_DEFINITION",
    "SORTINO_DEFINITION",
    "compute_daily_report",
]

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


def _iso(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, to the millisecond (any year, unlike an epoch round trip)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fold_serially(  # noqa: PLR0917 - the parts of one loop, named
    events_files: list[Path],
    tally: Tally,
    stats: ReadStats,
    window: tuple[datetime, datetime],
    read: list[str],
    missing: list[str],
    progress: Callable[[int], None] | None,
) -> None:
    """Stream every file in this process, noting which were read and which were missing."""
    done = 0
    for path in events_files:
        try:
            # From the file's start: earlier events set the state carried into the window.
            rows = (
                (
                    (event.timestamp, event.event_type, event.fields)
                    for event in read_db_events(path, end=window[1], stats=stats)
                )
                if is_sqlite(path)
                else read_rows(
                    path,
                    end=window[1],
                    stats=stats,
                    progress=None if progress is None else _offset(progress, done),
                    numbers_for=CONVERTED_TYPES,
                )
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
        tally.fold_rows(rows)


def _offset(progress: Callable[[int], None], base: int) -> Callable[[int], None]:
    """``progress`` for one file of several: its bytes counted after the files before it."""

    def report(done: int) -> None:
        progress(base + done)

    return report


def _time_above(tally: Tally, ordered: list[float], close: datetime) -> list[dict[str, Any]]:
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
                "seconds": rounded(seconds, 3),
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
    for i, level in enumerate(("tripped",)):
        steps = tally.breaker
        row("circuit breaker", level, None, "state", steps.seconds[i], steps.entries[i])
    stale_levels = (t.staleness_warning_seconds, t.staleness_critical_seconds)
    for symbol, (counts, seconds) in tally.stale_seconds(stale_levels, close).items():
        for i, level in enumerate(("warning", "critical")):
            row(f"mark age {symbol}", level, stale_levels[i], "s", seconds[i], counts[i])
    for check, steps in sorted(tally.health.items()):
        for i, level in enumerate(("degraded", "unhealthy")):
            row(f"health {check}", level, None, "status", steps.seconds[i], steps.entries[i])
    return rows


#: Upper bounds (seconds) of the cycle-duration distribution; the thresholds are added to them.
CYCLE_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


def _histogram(ordered: list[float], thresholds: Thresholds) -> list[dict[str, Any]]:
    """Cycles per duration bucket ``(previous bound, le]``; the last bucket (``le`` null) is
    everything above the highest bound. The warning and critical levels are bounds, so the
    chart can draw them on a bucket edge."""
    bounds = sorted(
        {*CYCLE_BUCKETS, thresholds.cycle_duration_warning_seconds,
         thresholds.cycle_duration_critical_seconds}
    )  # fmt: skip
    buckets: list[dict[str, Any]] = []
    below = 0
    for bound in bounds:
        upto = bisect.bisect_right(ordered, bound)
        buckets.append({"le": bound, "count": upto - below})
        below = upto
    buckets.append({"le": None, "count": len(ordered) - below})
    return buckets


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
    # x * x, not x ** 2: a float power raises OverflowError where a product gives inf.
    variance = sum((r - mean) * (r - mean) for r in returns) / (len(returns) - 1)
    sharpe = mean / math.sqrt(variance) if variance > 0 else None
    downside = math.sqrt(sum(min(r, 0.0) * min(r, 0.0) for r in returns) / len(returns))
    sortino = mean / downside if downside > 0 else None
    return sharpe, sortino


def _downsample(points: list[tuple[datetime, float]], limit: int) -> list[list[Any]]:
    """At most ``limit`` points, evenly spaced by index, first and last always kept."""
    if len(points) > limit:
        step = (len(points) - 1) / (limit - 1)
        points = [points[round(i * step)] for i in range(limit)]
    return [[_iso(moment), round(equity, 6)] for moment, equity in points]


EARLIEST: Final = datetime.min.replace(tzinfo=UTC)


def report_window(day: date, lookback_hours: float, tz: tzinfo = UTC) -> tuple[datetime, datetime]:
    """The window ``[start, end)`` of a report: ``end`` is midnight in ``tz`` closing ``day``.

    A lookback reaching before year 1 starts at year 1 (everything there is).

    Raises:
        ValueError: ``lookback_hours`` is not a positive finite number, or the day's close
            cannot be represented (``day`` is 9999-12-31).

    Example:
        >>> report_window(date(2026, 11, 25), 1e9)[0].isoformat()
        '0001-01-01T00:00:00+00:00'
    """
    if not (math.isfinite(lookback_hours) and lookback_hours > 0):
        raise ValueError(f"lookback_hours must be a positive number, got {lookback_hours!r}")
    try:
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"the close of {day.isoformat()} is past year 9999") from None
    try:
        start = end - timedelta(hours=lookback_hours)
    except OverflowError:
        start = EARLIEST
    return start, end


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
    thresholds_source: str = "defaults",
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
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
        thresholds: The levels of the "time above threshold" figures (default:
            ``Thresholds()``).
        thresholds_source: Where they came from, printed in the report (a file's path).
        progress: Called with the bytes read so far, every few thousand lines (a progress bar).
        workers: Processes to read with (None: the available cores, at most 4; 1: only this
            one). Used when the files hold at least ``parallel_min_bytes``, and never when a
            worker would have to run the caller's main script again (a bot calling from a
            script while its threads run: see
            :func:`~trader_telemetry.report.parallel.spawn_would_run`).
        parallel_min_bytes: The size from which reading is split across processes.

    Returns:
        A JSON-ready dict (see the module documentation of :mod:`trader_telemetry.report`).

    Raises:
        ValueError: ``lookback_hours`` is not a positive finite number, or the day's close is
            past the last representable instant (year 9999).
    """
    start, end = report_window(day, lookback_hours, tz)
    generated = (now or datetime.now(UTC)).astimezone(UTC)
    stats = ReadStats()
    used = thresholds or Thresholds()
    tally = Tally(used, start=start)
    read: list[str] = []
    missing: list[str] = []
    count = default_workers() if workers is None else workers
    present = [path for path in events_files if path.is_file()]
    databases = any(is_sqlite(path) for path in present)  # read by SQLite, in-process
    chunks = (
        plan_chunks(present, count, parallel_min_bytes, CHUNKS_PER_WORKER)
        if count > 1 and not databases
        else None
    )
    if chunks is not None:
        read = [str(path) for path in present]
        missing = [str(path) for path in events_files if path not in present]
        fold_chunks(
            chunks, tally=tally, stats=stats, start=start, end=end, workers=count,
            progress=progress,
        )  # fmt: skip
    else:
        _fold_serially(events_files, tally, stats, (start, end), read, missing, progress)
    tally.close(min(end, generated))
    # The reader saw the events before the window as events; they only set the carried state.
    stats.events -= tally.before
    stats.out_of_window += tally.before
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
                "oversized_line": stats.oversized_line,
                "duplicate": stats.duplicates,
            },
            "unknown_types": dict(sorted(stats.unknown_types.items())),
            "naive_timestamps": stats.naive_timestamps,
            "warnings": list(stats.warnings) + _unknown_warning(stats.unknown_types),
        },
    }
    report["thresholds"] = {
        **{f.name: getattr(used, f.name) for f in fields(used)},
        "heartbeat_warning_seconds": used.heartbeat_warning_seconds,
        "heartbeat_critical_seconds": used.heartbeat_critical_seconds,
        "source": thresholds_source,
    }
    report.update(_sections(tally, snapshot, min(end, generated)))
    report["no_data"] = tally.events == 0
    if tally.events == 0:
        looked = ", ".join(str(p) for p in events_files) or "no events files"
        report["message"] = (
            f"no events between {_iso(start)} and {_iso(end)} (looked at: {looked}"
            + (f"; metrics file: {metrics_file}" if metrics_file is not None else "")
            + ")"
        )
    return report


def _unknown_warning(unknown: dict[str, int]) -> list[str]:
    """One sentence naming the event types nothing in the report uses, with their counts."""
    if not unknown:
        return []
    listed = ", ".join(f"{kind} {count}" for kind, count in sorted(unknown.items()))
    return [f"events of types the report does not use, counted here and left out: {listed}"]


def _sections(tally: Tally, snapshot: dict[str, Any] | None, close: datetime) -> dict[str, Any]:
    """The account, pnl, performance, trades, symbols, risk, operations and curve sections."""
    money = mark_to_market(tally, snapshot)
    path = [equity for _, equity in tally.equity]  # in time order, from the opening state

    closing = tally.wins + tally.losses
    drawdown, drawdown_pct = _drawdown(path)
    sharpe, sortino = _ratios(path)
    ordered = sorted(tally.durations)
    slowest = sorted(tally.slowest, reverse=True)
    return {
        **money,
        "performance": {
            "win_rate": rounded(tally.wins / closing) if closing else None,
            "profit_factor": (
                rounded(tally.gross_win / tally.gross_loss) if tally.gross_loss > 0 else None
            ),
            "max_drawdown": rounded(drawdown),
            "max_drawdown_pct": rounded(drawdown_pct),
            "sharpe": rounded(sharpe),
            "sortino": rounded(sortino),
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
            "avg_win": rounded(tally.gross_win / tally.wins) if tally.wins else None,
            "avg_loss": rounded(-tally.gross_loss / tally.losses) if tally.losses else None,
            "largest_win": rounded(tally.largest_win),
            "largest_loss": rounded(tally.largest_loss),
        },
        "symbols": [
            {
                "symbol": symbol,
                "fills": per.fills,
                "realized_pnl": rounded(per.realized),
                "fees": rounded(per.fees),
                "win_rate": rounded(per.wins / per.closing) if per.closing else None,
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
                {"loss": rounded(tally.daily_loss[0]), "limit": rounded(tally.daily_loss[1])}
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
            "cycle_histogram": _histogram(ordered, tally.thresholds),
            "slowest_cycles": [
                {"number": number, "duration_seconds": duration, "timestamp": _iso(moment)}
                for duration, _, number, moment in slowest
            ],
            "stale_marks": tally.stale_marks,
            "stale_marks_by_symbol": dict(sorted(tally.stale_by_symbol.items())),
            "incidents": [
                {"kind": kind, "key": key, "count": count, "first": _iso(first), "last": _iso(last)}
                for (kind, key), (count, first, last) in sorted(tally.incidents.items())
            ],
            "ws_reconnects": tally.ws_reconnects,
            "orders": tally.orders,
            "rejections": tally.rejections,
            "trades_blocked": tally.trades_blocked,
            "unfilled_orders": tally.unfilled_orders,
            "api_errors": tally.api_errors,
            "error_events": dict(sorted(tally.error_messages.items())),
            "time_above": _time_above(tally, ordered, close),
        },
        "equity_curve": _downsample(tally.equity, MAX_CURVE_POINTS),
    }
