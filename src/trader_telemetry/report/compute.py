"""Compute the daily report from event files in one streaming pass.

Memory stays constant per event except for the cycle durations and the equity path, which are
kept whole (a float per cycle, a pair per account event). Events from several files (rotated
logs) may interleave in time: whatever depends on order (the equity path, first and last
funding, the last unrealized PnL) is ordered by timestamp, not by file position.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final

from ..clock import rfc3339
from ..config import Thresholds
from ..events.reader import ReadStats, read_events
from ..events.snapshot_reader import load_metrics_snapshot
from ..events.sqlite_source import is_sqlite, read_db_events
from .parallel import PARALLEL_MIN_BYTES, default_workers, fold_chunks, plan_chunks
from .tally import Tally, as_number

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


def _iso(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, to the millisecond."""
    return rfc3339(moment.timestamp())


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


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
            events = (
                read_db_events(path, start=window[0], end=window[1], stats=stats)
                if is_sqlite(path)
                else read_events(
                    path,
                    start=window[0],
                    end=window[1],
                    stats=stats,
                    progress=None if progress is None else _offset(progress, done),
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
        tally.fold(events)


def _offset(progress: Callable[[int], None], base: int) -> Callable[[int], None]:
    """``progress`` for one file of several: its bytes counted after the files before it."""

    def report(done: int) -> None:
        progress(base + done)

    return report


def _time_above(tally: Tally, ordered: list[float]) -> list[dict[str, Any]]:
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
        thresholds: The levels of the "time above threshold" figures (default: DESIGN §5).
        progress: Called with the bytes read so far, every few thousand lines (a progress bar).
        workers: Processes to read with (None: the available cores, at most 4; 1: only this
            one). Used when the files hold at least ``parallel_min_bytes``.
        parallel_min_bytes: The size from which reading is split across processes.

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
    tally = Tally(thresholds or Thresholds())
    read: list[str] = []
    missing: list[str] = []
    count = default_workers() if workers is None else workers
    present = [path for path in events_files if path.is_file()]
    databases = any(is_sqlite(path) for path in present)  # read by SQLite, in-process
    chunks = (
        plan_chunks(present, count, parallel_min_bytes) if count > 1 and not databases else None
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


def _unknown_warning(unknown: dict[str, int]) -> list[str]:
    """One sentence naming the event types nothing in the report uses, with their counts."""
    if not unknown:
        return []
    listed = ", ".join(f"{kind} {count}" for kind, count in sorted(unknown.items()))
    return [f"events of types the report does not use, counted here and left out: {listed}"]


def _sections(tally: Tally, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    """The account, pnl, performance, trades, symbols, risk, operations and curve sections."""
    if not tally.equity_in_order:
        tally.equity.sort(key=lambda point: point[0])  # stable: file order breaks ties
    path = [equity for _, equity in tally.equity]
    equity_start = path[0] if path else None
    equity_end = path[-1] if path else None
    end_source = "events" if path else None
    if equity_end is None and snapshot is not None:
        equity_end = as_number(snapshot.get("account_snapshot", {}).get("equity"))
        end_source = "metrics_file" if equity_end is not None else None
    change = (
        equity_end - equity_start if equity_start is not None and equity_end is not None else None
    )
    change_pct = change / equity_start * 100.0 if change is not None and equity_start else None

    funding = tally.funding_payments
    if tally.first_funding is not None and tally.last_funding is not None:
        funding += tally.last_funding[1] - tally.first_funding[1]
    unrealized = tally.unrealized()
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
            "time_above": _time_above(tally, ordered),
        },
        "equity_curve": _downsample(tally.equity, MAX_CURVE_POINTS),
    }
