"""Applying a block of event lines fast: counters tallied and added once, only the last of the
events that set a value applied, everything else through the full reader and feed.

The file exporter's first catch-up reads the whole history (1,000,000 lines is an ordinary
week of GPT-Trader), and each event applied through the reader and the recording calls costs
about 10 us. Most lines only bump a counter (a fill, a reconnect, a stale mark, a cycle row)
or restate a value that a later line replaces (a symbol's ``pnl_update``, a position, a cycle
row's equity). This module parses each line once, tallies the counters in local dicts and adds
them with one :meth:`~trader_telemetry.Telemetry.record_counts` call, and hands the full path
(:func:`~trader_telemetry.events.reader.parse_lines` and :class:`~.feed.TelemetryFeed`), in
file order, only the lines that need it: the last value-setting line per key, the last
reconnects of each stream (for the reconnect window), and any line whose shape is not the
plain one (nested rows, wrappers, strings where numbers belong, missing timestamps...). The
counts are the same as applying every line one by one; docs/performance.md has the speed.
"""

from __future__ import annotations

import gc
import re
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from ..events import reader
from ..events.field_values import read_timestamp
from ..events.gpt_trader import EXECUTED_STATUSES, UNDERSTOOD_TYPES
from ..events.read_stats import ReadStats
from ..events.reader import Event, parse_lines

if TYPE_CHECKING:
    from .feed import TelemetryFeed

__all__ = ["fold_lines"]

# What the fast path does with each type.
_COUNT, _STALE, _WS, _REJECT, _ORDER, _ATTEMPT, _FILL, _LATEST, _CYCLE_ROW, _NOTHING, _TRADE = (
    range(11)
)
_OPS: Final[dict[str, int]] = {
    "trade_gate_blocked": _COUNT,
    "unfilled_order_alert": _COUNT,
    "preview_reject": _COUNT,
    "stale_mark": _STALE,
    "stale_mark_detected": _STALE,
    "ws_reconnect": _WS,
    "websocket_reconnect": _WS,
    "rejection": _REJECT,
    "order_rejected": _REJECT,
    "order": _ORDER,
    "order_submitted": _ORDER,
    "order_submission_attempt": _ATTEMPT,
    "fill": _FILL,
    "trade": _TRADE,
    "pnl_update": _LATEST,
    "position": _LATEST,
    "position_metrics": _LATEST,
    "daily_loss": _LATEST,
    "cycle_metrics": _CYCLE_ROW,
    "order_preview": _NOTHING,
    "api_error": _NOTHING,
    "guard_triggered": _NOTHING,
    "health": _NOTHING,
}
_LEGACY_COUNTERS: Final[dict[Any, str]] = {
    "trade_gate_blocked": "trades_blocked_total",
    "unfilled_order_alert": "unfilled_orders_total",
    "preview_reject": "order_preview_failures_total",
}
_REFUSED: Final = frozenset({"rejected", "blocked", "failed", "refused"})  # as the feed's
_DURATIONS: Final = ("duration_seconds", "latency_ms", "cycle_latency_ms", "duration_ms")
_LINE_REF: Final = re.compile(r"line (\d+) of")
_NO_STAMP: Final = object()  # no line's timestamp equals it
_RECENT_RECONNECTS: Final = 64  # per stream, applied one by one for the reconnect window


def _plain_number(value: object, minimum: float | None) -> bool:
    """A value the recording calls accept as it is: absent, or a finite int/float >= minimum."""
    if value is None:
        return True
    if value.__class__ is not float and value.__class__ is not int:
        return False
    if value - value != 0:  # NaN and inf
        return False
    return minimum is None or value >= minimum


def fold_lines(  # noqa: PLR0912, PLR0915 - one loop, kept flat so the per-line path stays lean
    feed: TelemetryFeed,
    lines: list[bytes],
    *,
    stats: ReadStats,
    label: str,
    first_line_number: int = 1,
    apply: Callable[[Event], object] | None = None,
) -> None:
    """Apply ``lines`` (complete lines of one file, in order) to ``feed``, counting them in
    ``stats`` exactly as :func:`~trader_telemetry.events.reader.parse_lines` would. ``apply``
    applies one event of the full path (default ``feed.event``; the exporter passes one that
    counts an event that fails)."""
    loads = reader.loads_json  # looked up now: tests switch the JSON backend
    orders: dict[tuple[str, str], int] = {}
    fills: dict[tuple[str, str], int] = {}
    rejections: dict[tuple[str, str], int] = {}
    stale: dict[str, int] = {}
    reconnects: dict[str, int] = {}
    recent: dict[str, deque[int]] = {}
    legacy: dict[str, int] = {}
    unknown = stats.unknown_types
    latest: dict[tuple[Any, Any], int] = {}  # (type, symbol) -> the last line setting it
    full: list[int] = []  # lines for the full path
    filled, pending, attempted = feed._filled, feed._pending_trades, feed._attempted
    fromiso, utc, executed = datetime.fromisoformat, UTC, EXECUTED_STATUSES
    cycles = events = skipped = 0
    previous: object = None
    previous_stamp: object = _NO_STAMP
    # The loop makes a dict per line and keeps none in cycles: the cyclic collector's passes
    # over them are pure cost (a third of the time on a large file). Paused for this block only.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for index, raw in enumerate(lines):
            try:
                obj = loads(raw)
            except (ValueError, RecursionError):
                full.append(index)
                continue
            if obj.__class__ is not dict:
                full.append(index)
                continue
            kind = obj.get("type")  # GPT-Trader's lines
            if kind is None:
                kind = obj.get("event_type")  # ours
            elif "event_type" in obj and obj["event_type"] != kind:
                full.append(index)  # {"type": "metric", "event_type": ...}
                continue
            op = _OPS.get(kind) if kind.__class__ is str else None
            if op is None or "data" in obj or ("time" not in obj and "timestamp" not in obj):
                if (
                    op is None
                    and kind.__class__ is str
                    and kind not in UNDERSTOOD_TYPES
                    and ("timestamp" in obj or "time" in obj)
                ):
                    unknown[kind] = unknown.get(kind, 0) + 1
                    events += 1
                    continue
                full.append(index)
                continue
            if "time" in obj and "timestamp" in obj:  # bot_v2 writes a metric twice but for `time`
                del obj["time"]
                stamp = obj["timestamp"]
                # Equal lines have equal timestamps: comparing those first skips most dict
                # comparisons (neighbouring lines of different types or times).
                if stamp == previous_stamp and obj == previous:
                    stats.duplicates += 1
                    skipped += 1
                    continue
                previous, previous_stamp = obj, stamp
            if op == _LATEST:
                symbol = obj.get("symbol")
                if kind == "daily_loss" or (symbol.__class__ is str and symbol):
                    latest[kind, symbol if kind != "daily_loss" else ""] = index
                    events += 1
                else:
                    full.append(index)
            elif op == _NOTHING:
                events += 1
            elif op == _COUNT:
                name = _LEGACY_COUNTERS[kind]
                legacy[name] = legacy.get(name, 0) + 1
                events += 1
            elif op == _STALE:
                symbol = obj.get("symbol")
                if symbol.__class__ is str and symbol:
                    stale[symbol] = stale.get(symbol, 0) + 1
                    events += 1
                else:
                    full.append(index)
            elif op == _WS:
                stream = obj.get("stream") or obj.get("channel") or "default"
                if stream.__class__ is not str:
                    full.append(index)
                    continue
                reconnects[stream] = reconnects.get(stream, 0) + 1
                kept = recent.get(stream)
                if kept is None:
                    kept = recent[stream] = deque(maxlen=_RECENT_RECONNECTS)
                kept.append(index)
                events += 1
            elif op == _REJECT:
                symbol, reason = obj.get("symbol"), obj.get("reason") or "unspecified"
                if symbol.__class__ is str and symbol and reason.__class__ is str:
                    key = (symbol, reason)
                    rejections[key] = rejections.get(key, 0) + 1
                    events += 1
                else:
                    full.append(index)
            elif op in (_ORDER, _ATTEMPT):
                symbol, side = obj.get("symbol"), obj.get("side")
                if symbol.__class__ is str and symbol and side.__class__ is str and side:
                    if op == _ATTEMPT:
                        client = obj.get("client_order_id")
                        if client.__class__ is str and client:
                            attempted[client] = None
                    key = (symbol, side)
                    orders[key] = orders.get(key, 0) + 1
                    events += 1
                else:
                    full.append(index)
            elif op == _FILL:
                symbol, side = obj.get("symbol"), obj.get("side")
                if (
                    symbol.__class__ is str
                    and symbol
                    and side.__class__ is str
                    and side
                    and _plain_number(obj.get("quantity"), 0)
                    and _plain_number(obj.get("price"), 0)
                    and _plain_number(obj.get("fee"), None)
                    and _plain_number(obj.get("realized_pnl"), None)
                    and _plain_number(obj.get("pnl"), None)
                ):
                    for name in ("order_id", "client_order_id"):
                        order = obj.get(name)
                        if order.__class__ is str and order:
                            filled[order] = None
                            pending.pop(order, None)
                    key = (symbol, side)
                    fills[key] = fills.get(key, 0) + 1
                    events += 1
                else:
                    full.append(index)
            elif op == _TRADE:
                symbol, side, status = obj.get("symbol"), obj.get("side"), obj.get("status")
                order_key = obj.get("order_id") or obj.get("client_order_id")
                client = obj.get("client_order_id")
                if (
                    symbol.__class__ is not str
                    or not symbol
                    or side.__class__ is not str
                    or not side
                    or status.__class__ is not str
                    or (status := status.lower()) in _REFUSED
                    or order_key.__class__ is not str
                ):
                    full.append(index)
                    continue
                stamp = obj.pop("timestamp", None)
                written = obj.pop("time", None)
                if stamp is None:
                    stamp = written
                at = None
                if stamp.__class__ is str:  # read_timestamp(stamp), inline for a UTC offset
                    try:
                        moment = fromiso(stamp)
                    except ValueError:
                        moment = None
                    if moment is not None and moment.tzinfo is utc:
                        at = moment
                if at is None:
                    at = read_timestamp(stamp)[0]
                    if at is None:
                        full.append(index)
                        continue
                if client.__class__ is not str or client not in attempted:
                    order = (symbol, side)
                    orders[order] = orders.get(order, 0) + 1
                if status in executed and order_key not in filled and client not in filled:
                    obj.pop("type", None)
                    obj.pop("event_type", None)
                    pending[order_key] = (at.timestamp(), obj)
                events += 1
            elif op == _CYCLE_ROW:
                if any(obj.get(key) is not None for key in _DURATIONS):
                    full.append(index)  # a cycle with a duration: the full path records it
                else:
                    cycles += 1
                    latest[("cycle_metrics", "")] = index
                    events += 1
    finally:
        if collecting:
            gc.enable()
    telemetry = feed.telemetry
    for stream, kept in recent.items():
        reconnects[stream] -= len(kept)  # those go through the full path, with their times
        full.extend(kept)
        events -= len(kept)
    for index in latest.values():
        full.append(index)
        events -= 1
    if any((orders, fills, rejections, stale, reconnects, cycles)):
        telemetry.record_counts(
            orders=orders,
            fills=fills,
            rejections=rejections,
            stale_marks=stale,
            ws_reconnects={stream: n for stream, n in reconnects.items() if n > 0},
        )
    if fills:
        feed.legacy.count("trades_executed_total", sum(fills.values()))
    for name, amount in legacy.items():
        feed.legacy.count(name, amount)
    feed.events_applied += events
    stats.lines += events + skipped
    stats.events += events
    cycle_index = latest.get(("cycle_metrics", ""))
    if cycles > 1 and cycle_index is not None:
        telemetry.record_counts(ok_cycles=cycles - 1)  # the last one is applied in full
        feed._saw_cycle_events = True
    one = feed.event if apply is None else apply
    if not full:
        return
    order = sorted(set(full))
    before = len(stats.warnings)
    for event in parse_lines((lines[i] for i in order), label=label, stats=stats):
        one(event)
    for i in range(before, len(stats.warnings)):  # "line k" of the subset -> of the file
        stats.warnings[i] = _LINE_REF.sub(
            lambda m: f"line {first_line_number + order[int(m.group(1)) - 1]} of",
            stats.warnings[i],
        )
