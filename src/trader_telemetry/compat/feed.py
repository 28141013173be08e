"""Mapping what the files say onto the library's public recording calls.

Events are counted (counters only ever go up, whatever happens to the files); ``metrics.json``
sets the gauges. When both speak about the same figure, the newer statement wins. Timestamps
travel with the values (``at=``), so ages, staleness, the loop heartbeat and the reconnect
window describe the bot, not the moment the exporter happened to read the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ..catalogue import CATALOGUE
from ..events import Event
from ..events.field_values import as_float
from ..events.gpt_trader import is_executed
from ..events.snapshot_reader import positions_by_symbol
from ..row_values import json_at
from ..telemetry import Telemetry
from .breaker import BreakerReplay
from .legacy_names import LegacyFigures
from .source import Snapshot, parse_time

__all__ = ["TelemetryFeed"]

_ACCOUNT_FIELDS: Final = ("equity", "realized_pnl", "unrealized_pnl", "funding_pnl", "total_pnl")
_FILL_FIELDS: Final = ("quantity", "price", "fee", "realized_pnl")
_MS_FIELDS: Final = ("latency_ms", "cycle_latency_ms", "duration_ms")
_DURATION_FIELDS: Final = ("duration_seconds", *_MS_FIELDS)
_REFUSED: Final = frozenset({"rejected", "blocked", "failed", "refused"})
#: An executed ``trade`` becomes a fill once events this much later (by their own time) have
#: arrived with no ``fill`` of the same order (GPT-Trader writes both in the same second).
TRADE_FILL_WAIT_SECONDS: Final = 10.0
_RECENT_ORDERS: Final = 10_000  # order ids remembered to pair attempts, trades and fills


#: Plain gauges (a catalogue row kept in ``RecordedState.gauges``) with a place in
#: ``metrics.json``: replayed from there as written, no code of their own here.
_PLAIN_GAUGES: Final = tuple(
    spec
    for spec in CATALOGUE
    if spec.json is not None and spec.read is not None and spec.read.startswith("gauges.")
)

_BREAKER_CLEARS: Final = frozenset({"circuit_breaker_reset", "circuit_breaker_cleared"})
_BREAKER_KINDS: Final = frozenset({"circuit_breaker_triggered", *_BREAKER_CLEARS})


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _nothing(fields: dict[str, Any], at: float) -> None:
    """An event understood that maps to no metric."""


def _remember(seen: dict[str, None], key: str) -> None:
    """Add ``key`` to an insertion-ordered set holding at most the last few thousand keys."""
    seen[key] = None
    if len(seen) > _RECENT_ORDERS:
        del seen[next(iter(seen))]


class TelemetryFeed:
    """Applies events and ``metrics.json`` snapshots to one :class:`Telemetry`.

    Example:
        >>> from datetime import UTC, datetime
        >>> from trader_telemetry import Telemetry
        >>> t = Telemetry(serve=False)
        >>> feed = TelemetryFeed(t)
        >>> when = datetime(2026, 11, 25, tzinfo=UTC)
        >>> feed.event(Event(when, "websocket_reconnect", {"stream": "marks"}))
        True
        >>> t.snapshot()["cycle_metrics"]["count"], feed.events_applied
        (0, 1)
        >>> t.shutdown()
    """

    def __init__(
        self,
        telemetry: Telemetry,
        *,
        breaker: BreakerReplay | None = None,
        legacy: LegacyFigures | None = None,
    ) -> None:
        self.telemetry = telemetry
        self.breaker = breaker if breaker is not None else BreakerReplay(telemetry)
        #: The values of GPT-Trader's exporter names (see :mod:`.legacy_names`).
        self.legacy = legacy if legacy is not None else LegacyFigures()
        # GPT-Trader's trade/fill pairing: executed trades waiting for their fill (by order
        # id), and the ids recently seen in fills and submission attempts (bounded).
        self._pending_trades: dict[str, tuple[float, dict[str, Any]]] = {}
        self._filled: dict[str, None] = {}
        self._attempted: dict[str, None] = {}
        self._latest_at = float("-inf")
        # pnl_update is cumulative per symbol: the latest (time, realized, unrealized) of each.
        self._symbol_pnl: dict[str, tuple[float, float, float]] = {}
        self._funding = 0.0  # the sum of funding_payment amounts
        self._funding_seen = False
        #: Events that changed something, and events of types nothing maps to.
        self.events_applied = 0
        self.events_ignored = 0
        self._saw_cycle_events = False
        # When each figure was last set: the newer statement wins.
        self._account_at = float("-inf")
        self._exposure_at = float("-inf")
        self._loss_at = float("-inf")
        self._cycle_at = float("-inf")
        self._mark_at: dict[str, float] = {}
        self._gauge_at: dict[str, float] = {}
        self._handlers: dict[str, Callable[[dict[str, Any], float], None]] = {
            "cycle": self._cycle,
            "cycle_metrics": self._cycle_row,
            "order": self._order,
            "order_submitted": self._order,
            "order_submission_attempt": self._attempt,
            "trade": self._trade,
            "fill": self._fill_event,
            "rejection": self._rejection,
            "order_rejected": self._rejection,
            "account": self._account,
            "pnl_update": self._pnl_update,
            "funding_payment": self._funding_payment,
            "position": self._position,
            "position_metrics": self._position,
            "unfilled_order_alert": self._counted("unfilled_orders_total"),
            "trade_gate_blocked": self._counted("trades_blocked_total"),
            "preview_reject": self._counted("order_preview_failures_total"),
            # Understood, with no metric of their own (GPT-Trader's exporter had none either).
            "order_preview": _nothing,
            "api_error": _nothing,
            "guard_triggered": _nothing,
            "error": _nothing,
            "health": _nothing,
            "circuit_breaker_cleared": self._breaker,
            "daily_loss": self._daily_loss,
            "circuit_breaker": self._breaker,
            "circuit_breaker_triggered": self._breaker,
            "circuit_breaker_reset": self._breaker,
            "ws_reconnect": self._ws_reconnect,
            "websocket_reconnect": self._ws_reconnect,
            "stale_mark": self._stale_mark,
            "stale_mark_detected": self._stale_mark,
        }

    # ------------------------------------------------------------------ events
    def event(self, event: Event) -> bool:
        """Apply one event; False when its type maps to no metric (``health``, ``error``...)."""
        handler = self._handlers.get(event.event_type)
        if handler is None:
            self.events_ignored += 1
            return False
        fields = event.fields
        if event.event_type in _BREAKER_KINDS:
            fields = {"_kind": event.event_type, **fields}
        at = event.timestamp.timestamp()
        handler(fields, at)
        self.events_applied += 1
        if at > self._latest_at:
            self._latest_at = at
            if self._pending_trades:
                self._settle_trades(at - TRADE_FILL_WAIT_SECONDS)
        return True

    def settle(self, before: float) -> None:
        """Count the executed trades of before ``before`` (epoch seconds) still waiting for a
        ``fill`` event as fills (the exporter calls it with its clock, so a trade at the end
        of the file is not left waiting for later events)."""
        if self._pending_trades:
            self._settle_trades(before)

    # ------------------------------------------------------------------ GPT-Trader's events
    def _counted(self, name: str) -> Callable[[dict[str, Any], float], None]:
        def count(fields: dict[str, Any], at: float) -> None:
            self.legacy.count(name)

        return count

    def _cycle_row(self, fields: dict[str, Any], at: float) -> None:
        """GPT-Trader's ``cycle_metrics``: a completed cycle (no duration), and the whole
        ``metrics.json`` payload as of then."""
        if any(fields.get(key) is not None for key in _DURATION_FIELDS):
            self._cycle(fields, at)  # a shape with a duration: as our own cycle event
            return
        self.telemetry.record_cycle(None, at=at)
        self._saw_cycle_events = True
        self._cycle_at = max(self._cycle_at, at)
        self._document(fields, at)

    def _document(self, document: dict[str, Any], at: float) -> None:
        """A cycle row or GPT-Trader's ``metrics.json``: equity, positions, system figures."""
        equity = as_float(document.get("equity"))
        if equity is not None:
            self._account({"equity": equity}, at)
        positions = document.get("positions")
        if isinstance(positions, list) and at >= self._exposure_at:
            self._exposure_at = at
            exposures = {
                symbol: value
                for symbol, position in positions_by_symbol(positions).items()
                if (value := as_float(position.get("exposure_usd"))) is not None
            }
            self.telemetry.record_exposures(exposures)
            with self.legacy.lock:
                self.legacy.exposures = dict(exposures)
        self.legacy.document(document, at=at)

    def _attempt(self, fields: dict[str, Any], at: float) -> None:
        key = _text(fields.get("client_order_id"))
        if key is not None:
            _remember(self._attempted, key)
        self._order(fields, at)

    def _fill_event(self, fields: dict[str, Any], at: float) -> None:
        for name in ("order_id", "client_order_id"):
            key = _text(fields.get(name))
            if key is not None:
                _remember(self._filled, key)
                self._pending_trades.pop(key, None)
        self._fill(fields, at)
        self.legacy.count("trades_executed_total")

    def _settle_trades(self, before: float) -> None:
        """Executed trades older than ``before`` with no fill event: count them as fills."""
        for key, (at, fields) in list(self._pending_trades.items()):
            if at <= before:
                del self._pending_trades[key]
                _remember(self._filled, key)
                self._fill(fields, at)
                self.legacy.count("trades_executed_total")

    def _pnl_update(self, fields: dict[str, Any], at: float) -> None:
        """Cumulative per symbol: the account's figure is the sum of each symbol's latest."""
        symbol = _text(fields.get("symbol"))
        if symbol is None:
            self._account(fields, at)
            return
        seen = self._symbol_pnl.get(symbol)
        if seen is not None and at < seen[0]:
            return
        realized = as_float(fields.get("realized_pnl"))
        unrealized = as_float(fields.get("unrealized_pnl"))
        self._symbol_pnl[symbol] = (
            at,
            realized if realized is not None else (seen[1] if seen else 0.0),
            unrealized if unrealized is not None else (seen[2] if seen else 0.0),
        )
        with self.legacy.lock:
            self.legacy.symbol_pnl[symbol] = (
                self._symbol_pnl[symbol][1] + (self._symbol_pnl[symbol][2])
            )
        self._account_from_symbols(at)

    def _funding_payment(self, fields: dict[str, Any], at: float) -> None:
        amount = as_float(fields.get("amount"))
        if amount is not None:
            self._funding += amount
            self._funding_seen = True
            self._account_from_symbols(at)

    def _account_from_symbols(self, at: float) -> None:
        figures: dict[str, float] = {}
        if self._symbol_pnl:
            figures["realized_pnl"] = sum(r for _, r, _ in self._symbol_pnl.values())
            figures["unrealized_pnl"] = sum(u for _, _, u in self._symbol_pnl.values())
        if self._funding_seen:
            figures["funding_pnl"] = self._funding
        self._account(figures, at)

    def _cycle(self, fields: dict[str, Any], at: float) -> None:
        duration = as_float(fields.get("duration_seconds"))
        if duration is None:
            for key in _MS_FIELDS:
                if (ms := as_float(fields.get(key))) is not None:
                    duration = ms / 1000.0
                    break
        outcome = fields.get("outcome", "ok")
        if duration is None or outcome not in ("ok", "error"):
            return  # an interrupted cycle is not a completed one (as in the library)
        error_type = _text(fields.get("error_type"))
        if outcome == "error" and error_type is None:
            error_type = "unknown"
        phases = fields.get("phases")
        self.telemetry.record_cycle(
            duration,
            error_type=error_type if outcome == "error" else None,
            phases=phases if isinstance(phases, dict) else None,
            at=at,
        )
        self._saw_cycle_events = True
        self._cycle_at = max(self._cycle_at, at)

    def _order(self, fields: dict[str, Any], at: float) -> None:
        symbol, side = _text(fields.get("symbol")), _text(fields.get("side"))
        if symbol is not None and side is not None:
            self.telemetry.record_order(symbol, side.lower())

    def _trade(self, fields: dict[str, Any], at: float) -> None:
        """GPT-Trader's ``trade``: an order (unless its submission attempt was counted); a
        fill only when executed and no ``fill`` event describes the same order (it waits
        :data:`TRADE_FILL_WAIT_SECONDS` for one); refused ones a rejection."""
        symbol = _text(fields.get("symbol"))
        status = (_text(fields.get("status")) or "").lower()
        if symbol is not None and status in _REFUSED:
            reason = _text(fields.get("reason")) or status
            self.telemetry.record_rejection(symbol, reason)
            return
        client = _text(fields.get("client_order_id"))
        if client is None or client not in self._attempted:
            self._order(fields, at)
        if not is_executed(status):
            return
        key = _text(fields.get("order_id")) or client
        if key is None:
            self._fill(fields, at)
            self.legacy.count("trades_executed_total")
        elif key not in self._filled and (client is None or client not in self._filled):
            self._pending_trades[key] = (at, fields)

    def _fill(self, fields: dict[str, Any], at: float) -> None:
        symbol, side = _text(fields.get("symbol")), _text(fields.get("side"))
        if symbol is None or side is None:
            return
        side = side.lower()
        values = {key: as_float(fields.get(key)) for key in _FILL_FIELDS}
        if values["realized_pnl"] is None:  # GPT-Trader's fills carry ``pnl``
            values["realized_pnl"] = as_float(fields.get("pnl"))
        given = {key: value for key, value in values.items() if value is not None}
        self.telemetry.record_fill(symbol, side, **given)

    def _rejection(self, fields: dict[str, Any], at: float) -> None:
        symbol = _text(fields.get("symbol"))
        if symbol is not None:
            self.telemetry.record_rejection(symbol, _text(fields.get("reason")) or "unspecified")

    def _account(self, fields: Mapping[str, Any], at: float) -> None:
        given = {
            key: value
            for key in _ACCOUNT_FIELDS
            if (value := as_float(fields.get(key))) is not None
        }
        if given and at >= self._account_at:
            self._account_at = at
            self.telemetry.record_account(**given, at=at)

    def _position(self, fields: dict[str, Any], at: float) -> None:
        """GPT-Trader's ``position`` (and ``position_metrics``): that symbol's exposure
        (quantity x mark) and its mark. Head rows carry an unsigned size and no side; the cycle
        rows, with a side, correct the sign at the next cycle."""
        symbol = _text(fields.get("symbol"))
        quantity = as_float(fields.get("quantity"))
        if quantity is None:
            quantity = as_float(fields.get("position_size"))
        mark = as_float(fields.get("mark_price"))
        if symbol is None or mark is None:
            return
        if quantity is not None and at >= self._exposure_at:
            side = (_text(fields.get("side")) or "").lower()
            signed = -abs(quantity) if side in ("short", "sell") else quantity
            self.telemetry.record_exposure(symbol, signed * mark)
            with self.legacy.lock:
                self.legacy.exposures[symbol] = signed * mark
        self._mark(symbol, at, mark)

    def _daily_loss(self, fields: Mapping[str, Any], at: float) -> None:
        loss = as_float(fields.get("loss"))
        if loss is not None and at >= self._loss_at:
            self._loss_at = at
            self.telemetry.record_daily_loss(loss, as_float(fields.get("limit")))

    def _breaker(self, fields: dict[str, Any], at: float) -> None:
        triggered = fields.get("triggered")
        if not isinstance(triggered, bool):
            triggered = fields.get("_kind") not in _BREAKER_CLEARS
        reason = _text(fields.get("reason")) or _text(fields.get("guard"))
        self.breaker.state(triggered, reason, at=at)

    def _ws_reconnect(self, fields: dict[str, Any], at: float) -> None:
        stream = _text(fields.get("stream")) or _text(fields.get("channel")) or "default"
        self.telemetry.record_ws_reconnect(stream, at=at)

    def _stale_mark(self, fields: dict[str, Any], at: float) -> None:
        symbol = _text(fields.get("symbol"))
        if symbol is not None:
            self.telemetry.record_stale_mark(symbol)

    def _mark(self, symbol: str, at: float, price: float | None) -> None:
        if at >= self._mark_at.get(symbol, float("-inf")):
            self._mark_at[symbol] = at
            self.telemetry.record_mark_at(symbol, at, price)

    # ------------------------------------------------------------------ metrics.json
    def snapshot(self, snapshot: Snapshot) -> None:
        """Apply a new version of ``metrics.json`` (already normalised by the reader)."""
        document, at = snapshot.document, snapshot.taken_at
        self.legacy.document(document, at=at)
        self._snapshot_account(document.get("account_snapshot"), at)
        positions = document.get("positions")
        positions = positions if isinstance(positions, dict) else {}
        if at >= self._exposure_at:
            self._exposure_at = at
            exposures = {
                symbol: value
                for symbol, position in positions.items()
                if isinstance(position, dict)
                and (value := as_float(position.get("exposure_usd"))) is not None
            }
            self.telemetry.record_exposures(exposures)
            with self.legacy.lock:
                self.legacy.exposures = dict(exposures)
        self._snapshot_marks(document, positions, at)
        self._snapshot_cycle(document, at)
        risk = document.get("risk")
        if isinstance(risk, dict):
            self._daily_loss(
                {"loss": risk.get("daily_loss"), "limit": risk.get("daily_loss_limit")}, at
            )
            triggered = risk.get("circuit_breaker_triggered")
            if isinstance(triggered, bool):
                self.breaker.state(triggered, _text(risk.get("circuit_breaker_reason")), at=at)
        self._snapshot_gauges(document, at)

    def _snapshot_gauges(self, document: dict[str, Any], at: float) -> None:
        for spec in _PLAIN_GAUGES:
            assert spec.json is not None  # noqa: S101 - _PLAIN_GAUGES' rows have one
            value = as_float(json_at(document, spec.json))
            if value is not None and at >= self._gauge_at.get(spec.name, float("-inf")):
                self._gauge_at[spec.name] = at
                # The row's own recording call may take more than the value; this stores it.
                self.telemetry._record_gauge(spec.name, value)

    def _snapshot_account(self, account: object, at: float) -> None:
        if not isinstance(account, dict):
            return
        when = parse_time(account.get("timestamp"))
        if when is None:
            age = as_float(account.get("age_seconds"))
            when = at - age if age is not None and age >= 0 else at
        self._account(account, when)

    def _snapshot_marks(
        self, document: dict[str, Any], positions: dict[str, Any], at: float
    ) -> None:
        market = document.get("market_data")
        ages = market.get("staleness_seconds") if isinstance(market, dict) else None
        if isinstance(ages, dict):  # ours: every symbol with a mark, with its age
            for symbol, age in ages.items():
                seconds = as_float(age)
                if isinstance(symbol, str) and seconds is not None:
                    position = positions.get(symbol)
                    price = (
                        as_float(position.get("mark_price")) if isinstance(position, dict) else None
                    )
                    self._mark(symbol, at - max(0.0, seconds), price)
            return
        for symbol, position in positions.items():  # GPT-Trader: a mark price as of the file
            if (
                isinstance(position, dict)
                and (price := as_float(position.get("mark_price"))) is not None
            ):
                self._mark(symbol, at, price)

    def _snapshot_cycle(self, document: dict[str, Any], at: float) -> None:
        if self._saw_cycle_events:
            return  # the events count every cycle: they are the better source
        duration: float | None = None
        ended = at
        metrics = document.get("cycle_metrics")
        if isinstance(metrics, dict):
            duration = as_float(metrics.get("last_duration_seconds"))
            age = as_float(metrics.get("last_cycle_age_seconds"))
            if age is not None and age >= 0:
                ended = at - age
        if duration is None and (ms := as_float(document.get("cycle_latency_ms"))) is not None:
            duration = ms / 1000.0
        if duration is not None and ended >= self._cycle_at:
            self._cycle_at = ended
            self.telemetry.record_cycle(duration, at=ended, counted=False)
