"""The recorded state of one bot and the calls that record into it (market data, account and
risk, orders, events), kept apart from :class:`~trader_telemetry.Telemetry`'s wiring and cycle
handling.

:class:`Recorder` builds and owns what its calls use: the :class:`~.state.RecordedState`, the
value checks, the label limits, the redactor and the library's own error counts. ``Telemetry``
is a ``Recorder``: it adds the OTel pipeline, the endpoint, the files and the cycles around that
state, and hands the recorder its two outputs when they exist (the order-latency histogram, the
events writer). Every call is in-memory and O(1) and never raises: bad values are rejected
(warned, counted), internal faults are logged and counted in ``{ns}_telemetry_errors_total``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.metrics import Histogram, NoOpHistogram

from .cardinality import LabelLimiter
from .config import TelemetryConfig
from .fetchers import decorate_fetcher, extract_account
from .redaction import RedactingLabelLimiter, Redactor
from .selfmonitor import SelfMonitor
from .state import AccountSnapshot, RecordedState
from .validation import ValueChecker

if TYPE_CHECKING:
    from .events.writer import EventLog  # only with a data_dir: not part of the light import

__all__ = ["Recorder"]

F = TypeVar("F", bound=Callable[..., Any])

# What a symbol is never: a (symbol, price) pair, a container, bytes, a number or a flag.
_NOT_SYMBOLS = (tuple, list, dict, set, frozenset, bytes, bytearray, float, bool, type(None))


class Recorder:
    """The recording calls of :class:`~trader_telemetry.Telemetry` (see there) and the state
    they record into.

    Args:
        config: the bot's configuration (clock, label limit, redaction keys, warning interval).
    """

    def __init__(self, config: TelemetryConfig) -> None:
        self.config = config
        self.clock = config.clock
        self._monotonic: Callable[[], float] = config.clock.monotonic
        #: Scrubs secrets from label values, event fields and the library's logs.
        self._redactor = Redactor(config.redact_keys)
        self._monitor = SelfMonitor(config.clock.monotonic, config.warning_interval_seconds)
        self._check = ValueChecker(self._monitor)
        self._state = RecordedState(started_monotonic=config.clock.monotonic())
        # The tick path's dicts, one attribute lookup away (they are never replaced).
        self._marks = self._state.marks
        self._mark_prices = self._state.mark_prices
        self._limiters: dict[tuple[str, str], LabelLimiter] = {}
        #: The events.jsonl writer, set when the files start (with a ``data_dir``).
        self._events: EventLog | None = None
        #: The catalogue's order-latency histogram, set once the OTel pipeline is built.
        self._order_latency_hist: Histogram = NoOpHistogram("order_latency_seconds")

    def _monotonic_at(self, at: float | None) -> float:
        """The monotonic reading of wall time ``at`` (now when None, not finite or ahead)."""
        now = self._monotonic()
        if at is None or not math.isfinite(at):
            return now
        return now - max(0.0, self.clock.time() - at)

    # ------------------------------------------------------------------ market data
    def record_mark(self, symbol: str, price: float | None = None) -> None:
        """A mark arrived for ``symbol``: one timestamp store (staleness is computed at scrape).

        Example:
            >>> from trader_telemetry import Telemetry
            >>> t = Telemetry(serve=False)
            >>> t.record_mark("BTC-PERP", 97_000.5)
        """
        try:
            marks = self._marks
            if symbol not in marks:  # a new symbol: bounded by the label limit
                raw: object = symbol  # typed str; a clumsy caller passes anything
                if isinstance(raw, _NOT_SYMBOLS):
                    self._monitor.reject(
                        "bad_symbol", "a symbol must be a str, got %r; ignored", symbol
                    )
                    return
                symbol = self._limiter("market_data_staleness_seconds", "symbol").admit(symbol)
            marks[symbol] = self._monotonic()
            if price is not None:
                self._mark_prices[symbol] = price
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_mark", exc)

    def record_marks(
        self, marks: Mapping[str, float] | Iterable[str] | Iterable[tuple[str, float]]
    ) -> None:
        """Record many marks at once: a ``{symbol: price}`` mapping, an iterable of symbols,
        or of ``(symbol, price)`` pairs (so ``marks.items()`` works as ``marks`` does). A lone
        string is one symbol, not one per character.

        Example:
            >>> from trader_telemetry import Telemetry
            >>> t = Telemetry(serve=False)
            >>> t.record_marks({"BTC-PERP": 97_000.5}.items())
            >>> sorted(t.snapshot()["positions"])
            ['BTC-PERP']
        """
        try:
            if isinstance(marks, Mapping):
                for symbol, price in marks.items():
                    self.record_mark(symbol, price)
            elif isinstance(marks, str):
                self.record_mark(marks)
            else:
                for item in marks:
                    if type(item) is tuple and len(item) == 2:
                        self.record_mark(*item)
                    else:
                        self.record_mark(item)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_marks", exc)

    def record_stale_mark(self, symbol: str) -> None:
        """The bot detected a stale mark for ``symbol`` (counted)."""
        self._count1("stale_marks_total", "symbol", self._state.stale_marks, symbol)
        self._emit("stale_mark", {"symbol": symbol})

    def record_ws_reconnect(self, stream: str = "default", *, at: float | None = None) -> None:
        """A websocket stream reconnected (counted per stream); ``at``: when, in epoch seconds,
        for a reconnect replayed from a file (default now)."""
        self._count1("websocket_reconnects_total", "stream", self._state.ws_reconnects, stream)
        try:
            self._state.ws_reconnect_times.append(self._monotonic_at(at))
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_ws_reconnect", exc)
        self._emit("ws_reconnect", {"stream": stream})

    # ------------------------------------------------------------------ account and risk
    def record_account(
        self,
        equity: float | None = None,
        *,
        realized_pnl: float | None = None,
        unrealized_pnl: float | None = None,
        funding_pnl: float | None = None,
        total_pnl: float | None = None,
        at: float | None = None,
    ) -> None:
        """An account snapshot. Omitted fields keep their value; a NaN/inf field is rejected and
        its previous value kept. ``total_pnl`` defaults to realized + unrealized + funding.
        ``at``: when the snapshot was taken, in epoch seconds (default now; the file exporter
        passes the file's time so the account age stays true).

        Example:
            >>> from trader_telemetry import Telemetry
            >>> t = Telemetry(serve=False)
            >>> t.record_account(
            ...     equity=10_250.0, realized_pnl=200.0, unrealized_pnl=55.0, funding_pnl=-5.0
            ... )
            >>> t.snapshot()["account_snapshot"]["total_pnl"]
            250.0
        """
        try:
            given = {
                "equity": equity,
                "realized_pnl": realized_pnl,
                "unrealized_pnl": unrealized_pnl,
                "funding_pnl": funding_pnl,
                "total_pnl": total_pnl,
            }
            accepted: dict[str, float] = {}
            for name, value in given.items():
                if value is not None and (number := self._check.number(name, value)) is not None:
                    accepted[name] = number
            if not accepted:
                return
            state = self._state
            with state.lock:
                old = state.account
                state.account = AccountSnapshot(
                    equity=accepted.get("equity", old.equity),
                    realized_pnl=accepted.get("realized_pnl", old.realized_pnl),
                    unrealized_pnl=accepted.get("unrealized_pnl", old.unrealized_pnl),
                    funding_pnl=accepted.get("funding_pnl", old.funding_pnl),
                    total_pnl=accepted.get("total_pnl", old.total_pnl),
                    recorded_monotonic=self._monotonic() if at is None else self._monotonic_at(at),
                    recorded_wall=self.clock.time() if at is None else at,
                )
                total = state.account.total
            if total is None and state.account.total_overflows:
                self._monitor.reject(
                    "overflow",
                    "total PnL (realized + unrealized + funding) overflows a float; "
                    "it is exported as null",
                )
            self._emit("account", {**accepted, "total_pnl": total})
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_account", exc)

    def record_exposure(self, symbol: str, exposure_usd: float) -> None:
        """Signed notional exposure of one symbol in USD (0 keeps the series at 0)."""
        try:
            value = self._check.number(f"exposure_usd[{symbol!r}]", exposure_usd)
            if value is not None:
                key = self._limiter("exposure_usd", "symbol").admit(symbol)
                self._state.exposure[key] = value
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_exposure", exc)

    def record_exposures(self, exposures: Mapping[str, float]) -> None:
        """Replace all exposures: symbols absent from ``exposures`` disappear (positions closed)."""
        try:
            fresh: dict[str, float] = {}
            limiter = self._limiter("exposure_usd", "symbol")
            for symbol, usd in exposures.items():
                value = self._check.number(f"exposure_usd[{symbol!r}]", usd)
                if value is not None:
                    key = limiter.admit(symbol)
                    if key != symbol:  # several symbols folded into one series: their sum
                        folded = fresh.get(key, 0.0) + value
                        if not math.isfinite(folded):
                            self._monitor.reject(
                                "overflow", "exposure_usd[%r]: the sum overflows; kept", key
                            )
                            continue
                        value = folded
                    fresh[key] = value
                elif symbol in self._state.exposure:
                    fresh[symbol] = self._state.exposure[symbol]  # keep the last good value
            self._state.exposure = fresh
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_exposures", exc)

    def record_daily_loss(self, loss: float, limit: float | None = None) -> None:
        """Today's loss counted by the daily-loss guard (positive = loss) and, optionally, the
        guard's limit (> 0).

        A negative loss (a day in profit, or a signed PnL passed by mistake) is recorded as 0
        and counted in ``telemetry_rejected_values_total{reason="negative_daily_loss"}`` with a
        warning: the guard measures losses, and a PnL of -50 passed as is would read as a
        profit and never alert.

        Example:
            >>> from trader_telemetry import Telemetry
            >>> t = Telemetry(serve=False)
            >>> t.record_daily_loss(-50.0, limit=1_000.0)
            >>> t.snapshot()["risk"]["daily_loss"]
            0.0
        """
        try:
            value = self._check.number("daily_loss", loss)
            if value is not None and value < 0:
                self._monitor.reject(
                    "negative_daily_loss",
                    "daily loss %r is negative; recorded as 0 (pass the loss as a positive "
                    "number: -pnl when the day's PnL is negative, 0 when it is not)",
                    loss,
                )
                value = 0.0
            if value is not None:
                self._state.daily_loss = value
            if limit is not None:
                cap = self._check.number("daily_loss_limit", limit, minimum=0)
                if cap is not None:
                    self._state.daily_loss_limit = cap
            if value is not None:
                cap = self._state.daily_loss_limit
                if cap and not math.isfinite(value / cap):
                    self._monitor.reject(
                        "overflow", "daily loss / limit overflows; the ratio is exported as null"
                    )
                self._emit("daily_loss", {"loss": value, "limit": cap})
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_daily_loss", exc)

    def set_circuit_breaker(self, triggered: bool, reason: str | None = None) -> None:
        """Set the circuit breaker state; a change to triggered counts one trip under ``reason``.

        ``triggered`` must be a bool (0 and 1 are taken too): anything else, such as the string
        ``"no"`` (which Python would read as true), is rejected and counted
        (``reason="not_a_bool"``), and the state stays as it was.
        """
        try:
            flag: object = triggered  # typed bool; "no" would read as true
            if type(flag) is not bool:
                if (isinstance(flag, int | float) and flag in (0, 1)) or type(
                    flag
                ).__name__ == "bool_":  # 0, 1, numpy's bool
                    triggered = bool(flag)
                else:
                    self._monitor.reject(
                        "not_a_bool",
                        "set_circuit_breaker takes True or False, got %r; ignored",
                        flag,
                    )
                    return
            state = self._state
            key = None
            if triggered:
                key = self._limiter("circuit_breaker_trips_total", "reason").admit(
                    reason or "unspecified"
                )
            with state.lock:
                was = state.breaker_triggered
                state.breaker_triggered = bool(triggered)
                state.breaker_reason = key
                if key is not None and not was:
                    state.bump(state.breaker_trips, key)
            if was != bool(triggered):
                self._emit("circuit_breaker", {"triggered": bool(triggered), "reason": key})
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("set_circuit_breaker", exc)

    # ------------------------------------------------------------------ orders
    def record_order(self, symbol: str, side: str) -> None:
        """An order was submitted."""
        normalized = self._count_order("orders_submitted_total", self._state.orders, symbol, side)
        if normalized is not None:
            self._emit("order", {"symbol": symbol, "side": normalized})

    def record_fill(
        self,
        symbol: str,
        side: str,
        *,
        quantity: float | None = None,
        price: float | None = None,
        fee: float | None = None,
        realized_pnl: float | None = None,
    ) -> None:
        """A fill arrived. Numeric fields, when given, must be finite (quantity and fee >= 0);
        a fill with a bad field is rejected whole."""
        try:
            checks = (
                ("quantity", quantity, 0),
                ("price", price, 0),
                ("fee", fee, None),
                ("realized_pnl", realized_pnl, None),
            )
            for name, value, minimum in checks:
                if (
                    value is not None
                    and self._check.number(f"fill.{name}", value, minimum=minimum) is None
                ):
                    return
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_fill", exc)
            return
        normalized = self._count_order("fills_total", self._state.fills, symbol, side)
        if normalized is not None:
            self._emit(
                "fill",
                {
                    "symbol": symbol,
                    "side": normalized,
                    "quantity": quantity,
                    "price": price,
                    "fee": fee,
                    "realized_pnl": realized_pnl,
                },
            )

    def record_counts(
        self,
        *,
        orders: Mapping[tuple[str, str], int] | None = None,
        fills: Mapping[tuple[str, str], int] | None = None,
        rejections: Mapping[tuple[str, str], int] | None = None,
        stale_marks: Mapping[str, int] | None = None,
        ws_reconnects: Mapping[str, int] | None = None,
        ok_cycles: int = 0,
    ) -> None:
        """Add many counted events at once: what the per-event calls (``record_order``,
        ``record_fill`` without fields, ``record_rejection``, ``record_stale_mark``,
        ``record_ws_reconnect`` without ``at``, completed cycles without a duration) would
        have counted, in one step (the file exporter's catch-up of a long backlog). Keys are
        ``(symbol, side)``, ``(symbol, reason)``, a symbol or a stream; labels go through the
        same cardinality limits and side checks. Nothing is written to the events log.

        Example:
            >>> from trader_telemetry import Telemetry
            >>> t = Telemetry(serve=False)
            >>> t.record_counts(fills={("BTC-PERP", "BUY"): 3}, ok_cycles=2)
            >>> t.snapshot()["cycle_metrics"]["count"]
            2
        """
        try:
            state = self._state
            for metric, counter, given in (
                ("orders_submitted_total", state.orders, orders),
                ("fills_total", state.fills, fills),
            ):
                for (symbol, side), amount in (given or {}).items():
                    normalized = self._check.side(side)
                    if normalized is not None and amount > 0:
                        key = (self._limiter(metric, "symbol").admit(symbol), normalized)
                        with state.lock:
                            counter[key] = counter.get(key, 0) + amount
            for (symbol, reason), amount in (rejections or {}).items():
                key = (
                    self._limiter("orders_rejected_total", "symbol").admit(symbol),
                    self._limiter("orders_rejected_total", "reason").admit(reason),
                )
                with state.lock:
                    state.rejections[key] = state.rejections.get(key, 0) + amount
            for metric, label, single, by in (
                ("stale_marks_total", "symbol", state.stale_marks, stale_marks),
                ("websocket_reconnects_total", "stream", state.ws_reconnects, ws_reconnects),
            ):
                for value, amount in (by or {}).items():
                    state.add(single, self._limiter(metric, label).admit(value), amount)
            state.ok_cycles.add_many(ok_cycles)
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_counts", exc)

    def record_rejection(self, symbol: str, reason: str) -> None:
        """The exchange (or a guard) rejected an order."""
        try:
            key = (
                self._limiter("orders_rejected_total", "symbol").admit(symbol),
                self._limiter("orders_rejected_total", "reason").admit(reason),
            )
            self._state.bump(self._state.rejections, key)
            self._emit("rejection", {"symbol": symbol, "reason": reason})
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_rejection", exc)

    def record_order_latency(self, seconds: float) -> None:
        """Seconds from order submission to acknowledgement (negative or NaN is rejected)."""
        try:
            value = self._check.number("order_latency_seconds", seconds, minimum=0)
            if value is not None:
                self._order_latency_hist.record(value)
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_order_latency", exc)

    # ------------------------------------------------------------------ fetcher decorators
    def records_account(self, func: F) -> F:
        """Decorator for the bot's account fetcher: its return value (a mapping or an object
        with ``equity``, ``realized_pnl``, ``unrealized_pnl``, ``funding_pnl``, ``total_pnl``)
        is recorded as the account snapshot and returned unchanged."""
        return decorate_fetcher(
            func, lambda result: self.record_account(**extract_account(result)), self._monitor
        )

    def records_marks(self, func: F) -> F:
        """Decorator for the bot's marks fetcher: its return value (``{symbol: price}`` or an
        iterable of symbols) is recorded as marks and returned unchanged."""
        return decorate_fetcher(func, self.record_marks, self._monitor)

    # ------------------------------------------------------------------ helpers
    def _limiter(self, metric: str, label: str) -> LabelLimiter:
        limiter = self._limiters.get((metric, label))
        if limiter is None:
            limiter = self._limiters.setdefault(
                (metric, label),
                RedactingLabelLimiter(
                    metric, label, self.config.max_label_values, self._monitor, self._redactor
                ),
            )
        return limiter

    def _record_gauge(self, name: str, value: float) -> None:
        """Store the plain gauge ``name`` (a catalogue row with ``read="gauges.<name>"``): a
        value that is not a finite number is rejected and the previous one stays."""
        try:
            checked = self._check.number(name, value)
            if checked is not None:
                self._state.gauges[name] = checked
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault(name, exc)

    def _count1(self, metric: str, label: str, counter: dict[str, int], value: str) -> None:
        try:
            self._state.bump(counter, self._limiter(metric, label).admit(value))
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault(metric, exc)

    def _count_order(
        self, metric: str, counter: dict[tuple[str, ...], int], symbol: str, side: str
    ) -> str | None:
        """Count one order or fill; the normalised side, or None when rejected."""
        try:
            normalized = self._check.side(side)
            if normalized is not None:
                key = (self._limiter(metric, "symbol").admit(symbol), normalized)
                self._state.bump(counter, key)
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault(metric, exc)
            return None
        return normalized

    def _emit(self, event_type: str, fields: dict[str, Any]) -> None:
        events = self._events
        if events is not None:
            try:
                events.emit(event_type, fields)  # redacted by the writer (EventLog transform)
            except Exception as exc:  # noqa: BLE001
                self._monitor.fault("events", exc)

    def event(self, event_type: str, /, **fields: Any) -> None:
        """Append an event of the bot's own to ``events.jsonl`` (no-op without ``data_dir``).

        ``timestamp`` and ``event_type`` belong to the envelope: fields of those names are
        written as ``field_timestamp`` and ``field_event_type`` and counted
        (``telemetry_rejected_values_total{reason="reserved_field"}``).

        Example:
            >>> from trader_telemetry import Telemetry
            >>> telemetry = Telemetry(serve=False)
            >>> telemetry.event("guard_triggered", guard="max_position", symbol="BTC-PERP")
            >>> telemetry.shutdown()
        """
        if not isinstance(event_type, str) or not event_type:
            self._monitor.reject(
                "bad_event_type", "event type must be a non-empty str, got %r", event_type
            )
            return
        if "timestamp" in fields or "event_type" in fields:
            self._monitor.reject(
                "reserved_field",
                "event %r: timestamp and event_type are the envelope's; written as field_*",
                event_type,
            )
            from .events.writer import rename_reserved  # noqa: PLC0415 - the events files load when used

            fields = rename_reserved(fields)
        self._emit(event_type, fields)
