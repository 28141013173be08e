"""The report's running tally: everything gathered from the events in one streaming pass.

A :class:`Tally` folds events in O(1) each (bar the cycle durations and the equity path, kept
whole), and two tallies of consecutive stretches of the event stream merge into the tally of the
whole, so the reading can be split across processes (:mod:`.parallel`).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ..config import Thresholds
from ..events.gpt_trader import is_executed
from ..events.reader import Event
from .levels import Gaps, Steps

__all__ = ["CONVERTED_TYPES", "FIELDS_READ", "SLOWEST_CYCLES", "Tally", "as_number", "text"]

SLOWEST_CYCLES: Final = 5

_FILL_TYPES: Final = frozenset({"fill"})
_ACCOUNT_TYPES: Final = frozenset({"account"})
_ORDER_TYPES: Final = frozenset({"order", "order_submission_attempt", "order_submitted"})
_REJECTION_TYPES: Final = frozenset({"rejection", "order_rejected"})
#: A second "triggered" record this soon after the first, with no clear between, is the same
#: trip (bot_v2 writes two records for one daily-loss trip).
_SAME_TRIP_SECONDS: Final = 60.0
_STALE_TYPES: Final = frozenset({"stale_mark", "stale_mark_detected"})
_STALE_SPAN_TYPES: Final = frozenset({"stale_mark", "stale_mark_cleared"})
_BREAKER_TYPES: Final = frozenset(
    {"circuit_breaker", "circuit_breaker_triggered", "circuit_breaker_cleared"}
)
_RECONNECT_TYPES: Final = frozenset({"ws_reconnect", "websocket_reconnect"})
#: The kinds :meth:`Tally._other` reads; the fold skips every other kind in one set lookup.
_OTHER_KINDS: Final = frozenset(
    {"funding_payment", "guard_triggered", "daily_loss", "stale_mark_cleared", "health",
     "cycle_metrics", "trade", "pnl_update", "unfilled_order_alert", "api_error",
     "trade_gate_blocked", "error"}
    | _BREAKER_TYPES | _STALE_TYPES | _RECONNECT_TYPES | _ORDER_TYPES | _REJECTION_TYPES
)  # fmt: skip
#: The event types whose fields the tally reads (before the window included); of the others it
#: counts the events only.
FIELDS_READ: Final = frozenset({"cycle"}) | _FILL_TYPES | _ACCOUNT_TYPES | _OTHER_KINDS
#: The types whose string numbers the reader converts for the tally (``numbers_for``): none.
#: Every number the tally reads goes through :func:`as_number`, which reads a numeric string as
#: the reader would, so converting the numbers it never reads (a trade's price) is saved.
CONVERTED_TYPES: Final[frozenset[str]] = frozenset()
#: ``trade`` statuses read as executed without a call (any other string goes to is_executed).
_EXECUTED: Final = frozenset({"filled", "executed", "done"})


def as_number(value: object) -> float | None:
    """A finite float from ``value``, or None (bools and non-numbers are not numbers here)."""
    if type(value) is float:  # the common case, read from our own files
        return value if value - value == 0 else None  # NaN and inf fail x - x == 0
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float):
        try:
            number = float(value)  # an int too large for a float raises OverflowError
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    return None


@dataclass
class _SymbolTally:
    fills: int = 0
    realized: float = 0.0
    fees: float = 0.0
    wins: int = 0
    closing: int = 0


#: An executed trade's ``(realized_pnl, pnl, fee, symbol)``, as written (see Tally._fill).
_FillValues = tuple[Any, Any, Any, Any]

_STATUS_RANK: Final = {"healthy": 0.0, "unknown": 0.0, "degraded": 1.0, "unhealthy": 2.0}


@dataclass
class Tally:
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
    #: (kind, symbol or stream) -> [count, first, last]: the staleness and reconnect incidents.
    incidents: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    ws_reconnects: int = 0
    rejections: int = 0
    #: Orders: our ``order`` events and GPT-Trader's submission attempts and trades, one per
    #: client or exchange order id (``order_keys``), plus those without an id.
    order_keys: set[str] = field(default_factory=set)
    orders_without_id: int = 0
    #: Executed ``trade`` events waiting for a ``fill`` of the same order (which replaces
    #: them), as the ``(realized_pnl, pnl, fee, symbol)`` that :meth:`_fill` reads; those left
    #: at :meth:`close` count as fills. ``filled_orders``: order ids of fills.
    pending_trades: dict[str, _FillValues] = field(default_factory=dict)
    filled_orders: set[str] = field(default_factory=set)
    #: GPT-Trader's ``pnl_update`` is cumulative per symbol: the latest per symbol is the state.
    symbol_pnl: dict[str, tuple[datetime, float | None, float | None]] = field(default_factory=dict)
    #: The same, from the ``pnl_update`` events before the window (the unrealized at its start).
    prior_symbol_pnl: dict[str, tuple[datetime, float | None, float | None]] = field(
        default_factory=dict
    )
    unfilled_orders: int = 0
    api_errors: int = 0
    trades_blocked: int = 0
    error_messages: Counter[str] = field(default_factory=Counter)
    breaker_tripped_at: datetime | None = None
    events: int = 0
    #: The window's start: events before it only set the state carried into the window.
    start: datetime | None = None
    #: Events before ``start`` (read for the carried state, not counted as the window's).
    before: int = 0
    #: The last account state before the window: (time, equity, unrealized, funding).
    opening: tuple[datetime, float | None, float | None, float | None] | None = None
    first_unrealized: tuple[datetime, float] | None = None
    #: The last value before the window of each step function, and the last cycle's time.
    prior_cycle: datetime | None = None
    prior_loss: tuple[datetime, float] | None = None
    prior_breaker: tuple[datetime, float] | None = None
    prior_health: dict[str, tuple[datetime, float]] = field(default_factory=dict)
    #: (symbol, last mark) -> when the stale incident ended (None: still stale), from the
    #: library's ``stale_mark`` / ``stale_mark_cleared`` events, before the window included.
    stale_spans: dict[tuple[str, datetime], datetime | None] = field(default_factory=dict)
    heartbeat: Gaps = field(init=False)
    account_age: Gaps = field(init=False)
    loss_ratio: Steps = field(init=False)
    breaker: Steps = field(init=False)
    health: dict[str, Steps] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = self.thresholds
        self.heartbeat = Gaps((t.heartbeat_warning_seconds, t.heartbeat_critical_seconds))
        self.account_age = Gaps((t.account_age_warning_seconds, t.account_age_critical_seconds))
        self.loss_ratio = Steps((t.daily_loss_warning_ratio, t.daily_loss_critical_ratio))
        self.breaker = Steps((1.0,))

    def fold(self, events: Iterable[Event]) -> None:
        """Fold a stream of events into the tally."""
        self.fold_rows((event.timestamp, event.event_type, event.fields) for event in events)

    def fold_rows(self, rows: Iterable[tuple[datetime, str, dict[str, Any]]]) -> None:
        """Fold ``(timestamp, type, fields)`` rows, as :func:`~..events.reader.parse_rows`
        yields them (the report's inner loop: kept flat, no :class:`Event` built per line)."""
        fill_types, account_types, read = _FILL_TYPES, _ACCOUNT_TYPES, FIELDS_READ
        cycle, fill, account, other = self._cycle, self._fill, self._account, self._other
        trade, symbol_pnl, order_filled = self._trade, self.symbol_pnl, self._order_filled
        start, before = self.start, self._before
        count = skipped = 0
        for moment, kind, fields in rows:
            count += 1
            if start is not None and moment < start:
                skipped += 1
                before(kind, moment, fields)
            elif kind not in read:  # most other kinds (positions) tell us nothing
                continue
            elif kind == "pnl_update":  # GPT-Trader's most frequent kinds first
                _latest_pnl(symbol_pnl, moment, fields)
            elif kind == "cycle":
                cycle(moment, fields)
            elif kind in fill_types:
                if "order_id" in fields or "client_order_id" in fields:
                    order_filled(fields)
                get = fields.get
                fill(get("realized_pnl"), get("pnl"), get("fee"), get("symbol"))
            elif kind in account_types:
                account(moment, fields)
            elif kind == "trade":
                trade(fields)
            else:
                other(kind, moment, fields)
        self.events += count - skipped
        self.before += skipped

    def _before(  # noqa: PLR0912 - one dispatch
        self, kind: str, moment: datetime, fields: dict[str, Any]
    ) -> None:
        """An event before the window: keep only the state it leaves in force."""
        if kind in ("cycle", "cycle_metrics"):
            if self.prior_cycle is None or moment > self.prior_cycle:
                self.prior_cycle = moment
            if kind == "cycle_metrics":  # GPT-Trader's cycle row carries the equity
                self._opening_state(moment, {"equity": fields.get("equity")})
        elif kind in _ACCOUNT_TYPES:
            self._opening_state(moment, fields)
        elif kind == "pnl_update":  # cumulative per symbol: the latest before the window holds
            _latest_pnl(self.prior_symbol_pnl, moment, fields)
        elif kind == "daily_loss":
            ratio = _loss_ratio(fields)
            if ratio is not None and (self.prior_loss is None or moment >= self.prior_loss[0]):
                self.prior_loss = (moment, ratio)
        elif kind in _BREAKER_TYPES:
            state = _breaker_state(kind, fields)
            if state is not None and (
                self.prior_breaker is None or moment >= self.prior_breaker[0]
            ):
                self.prior_breaker = (moment, state)
        elif kind == "health":
            check, status = fields.get("check"), fields.get("status")
            if isinstance(check, str) and status in _STATUS_RANK:
                seen = self.prior_health.get(check)
                if seen is None or moment >= seen[0]:
                    self.prior_health[check] = (moment, _STATUS_RANK[status])
        elif kind in _STALE_SPAN_TYPES:
            self._stale_span(kind, fields)

    def _opening_state(self, moment: datetime, fields: dict[str, Any]) -> None:
        if self.opening is None or moment >= self.opening[0]:
            self.opening = (
                moment,
                as_number(fields.get("equity")),
                as_number(fields.get("unrealized_pnl")),
                as_number(fields.get("funding_pnl")),
            )

    def _stale_span(self, kind: str, fields: dict[str, Any]) -> None:
        """A library staleness event: open (``stale_mark``) or end (``_cleared``) its span."""
        symbol, last_mark = fields.get("symbol"), _instant(fields.get("last_mark"))
        if not isinstance(symbol, str) or last_mark is None:
            return  # the bot's own record_stale_mark: a point, not a span
        key = (symbol, last_mark)
        if kind == "stale_mark_cleared":
            until = _instant(fields.get("until"))
            if until is not None:
                self.stale_spans[key] = until
        else:
            self.stale_spans.setdefault(key, None)

    def _other(  # noqa: PLR0912, PLR0915 - one dispatch
        self, kind: str, moment: datetime, fields: dict[str, Any]
    ) -> None:
        if kind == "cycle_metrics":  # GPT-Trader's cycle row: the loop ran; equity as of then
            self._cycle(moment, fields)
            self._account(moment, {"equity": fields.get("equity")})
        elif kind in _ORDER_TYPES:
            self._order(fields)
        elif kind == "trade":
            self._trade(fields)
        elif kind == "pnl_update":
            self._pnl_update(moment, fields)
        elif kind == "unfilled_order_alert":
            self.unfilled_orders += 1
        elif kind == "api_error":
            self.api_errors += 1
        elif kind == "trade_gate_blocked":
            self.trades_blocked += 1
        elif kind == "error":
            self.error_messages[str(fields.get("message") or "unspecified")] += 1
        elif kind == "funding_payment":
            self.funding_payments += as_number(fields.get("amount")) or 0.0
        elif kind == "guard_triggered":
            self.guards[str(fields.get("guard") or "unknown")] += 1
        elif kind in _BREAKER_TYPES:
            state = _breaker_state(kind, fields)
            if state == 1.0:
                self._trip(moment, fields)  # a second record of one trip is not a trip
            elif state == 0.0:
                self.breaker_tripped_at = None
            if state is not None:
                self.breaker.observe(moment, state)
        elif kind == "daily_loss":
            loss = as_number(fields.get("loss"))
            limit = as_number(fields.get("limit"))
            if loss is not None and (self.daily_loss is None or loss > self.daily_loss[0]):
                self.daily_loss = (loss, limit)
            ratio = _loss_ratio(fields)
            if ratio is not None:
                self.loss_ratio.observe(moment, ratio)
        elif kind == "stale_mark_cleared":
            self._stale_span(kind, fields)
        elif kind in _STALE_TYPES:
            self.stale_marks += 1
            symbol = str(fields.get("symbol") or "unknown")
            self.stale_by_symbol[symbol] += 1
            self._incident("stale mark", symbol, moment)
            self._stale_span(kind, fields)
        elif kind in _RECONNECT_TYPES:
            self.ws_reconnects += 1
            self._incident("ws reconnect", str(fields.get("stream") or "default"), moment)
        elif kind in _REJECTION_TYPES:
            self.rejections += 1
        elif kind == "health":
            check, status = fields.get("check"), fields.get("status")
            if isinstance(check, str) and status in _STATUS_RANK:
                steps = self.health.get(check)
                if steps is None:
                    steps = self.health[check] = Steps((1.0, 2.0))
                steps.observe(moment, _STATUS_RANK[status])

    def _trip(self, moment: datetime, fields: dict[str, Any]) -> None:
        last = self.breaker_tripped_at
        if last is not None and abs((moment - last).total_seconds()) <= _SAME_TRIP_SECONDS:
            return  # a second record of the same trip
        self.breaker_tripped_at = moment
        self.trips.append((moment, text(fields.get("reason"))))

    def _order(self, fields: dict[str, Any]) -> None:
        key = text(fields.get("client_order_id")) or text(fields.get("order_id"))
        if key is None:
            self.orders_without_id += 1
        else:
            self.order_keys.add(key)

    def _trade(self, fields: dict[str, Any]) -> None:
        """GPT-Trader's ``trade``: an order; a fill too when it executed and no ``fill`` event
        describes the same order (one execution is never counted twice)."""
        get = fields.get
        order_id, client_id = get("order_id"), get("client_order_id")
        if order_id.__class__ is not str or not order_id:  # text(), inline: once per trade
            order_id = text(order_id)
        if client_id is not None:
            client_id = text(client_id)
        order = client_id or order_id
        if order is None:
            self.orders_without_id += 1
        else:
            self.order_keys.add(order)
        status = get("status")
        if not ((status.__class__ is str and status in _EXECUTED) or is_executed(status)):
            return  # open, rejected, cancelled...: an order, never a fill
        values = (get("realized_pnl"), get("pnl"), get("fee"), get("symbol"))
        key = order_id or client_id
        if key is None:
            self._fill(*values)
        elif key not in self.filled_orders:
            self.pending_trades[key] = values

    def _order_filled(self, fields: dict[str, Any]) -> None:
        """A ``fill`` event: it replaces an executed ``trade`` of the same order."""
        for name in ("order_id", "client_order_id"):
            key = text(fields.get(name))
            if key is not None:
                self.filled_orders.add(key)
                self.pending_trades.pop(key, None)

    def _pnl_update(self, moment: datetime, fields: dict[str, Any]) -> None:
        _latest_pnl(self.symbol_pnl, moment, fields)

    @property
    def orders(self) -> int:
        """Orders sent, each counted once."""
        return self.orders_without_id + len(self.order_keys)

    def unrealized(self) -> float:
        """Unrealized PnL now: the sum over symbols of each one's latest ``pnl_update`` when
        there are any (before the window included), else the last account event's."""
        if self.symbol_pnl or self.prior_symbol_pnl:
            latest = dict(self.prior_symbol_pnl)
            latest.update(self.symbol_pnl)  # in the window: later than any before it
            return sum(u for _, _, u in latest.values() if u is not None)
        return self.last_unrealized[1] if self.last_unrealized is not None else 0.0

    def unrealized_at_start(self) -> float | None:
        """From ``pnl_update`` events: the sum of each symbol's latest before the window (0
        when they all began in it); None when no event of that kind was read."""
        if self.prior_symbol_pnl:
            return sum(u for _, _, u in self.prior_symbol_pnl.values() if u is not None)
        return 0.0 if self.symbol_pnl else None

    def _incident(self, kind: str, key: str, moment: datetime) -> None:
        seen = self.incidents.get((kind, key))
        if seen is None:
            self.incidents[(kind, key)] = [1, moment, moment]
            return
        seen[0] += 1
        seen[1] = min(seen[1], moment)
        seen[2] = max(seen[2], moment)

    def _fill(self, realized: Any, pnl: Any, fee: Any, symbol: Any) -> None:
        """A fill, from its ``realized_pnl``, ``pnl``, ``fee`` and ``symbol`` as written."""
        if realized.__class__ is not float or realized - realized != 0:
            realized = as_number(realized) if realized is not None else None
            if realized is None:
                realized = as_number(pnl) or 0.0
        if fee.__class__ is not float or fee - fee != 0:
            fee = (as_number(fee) or 0.0) if fee is not None else 0.0
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
        if equity is not None and (equity.__class__ is not float or equity - equity != 0):
            equity = as_number(equity)
        if equity is not None:
            if self.equity_in_order and self.equity and moment < self.equity[-1][0]:
                self.equity_in_order = False
            self.equity.append((moment, equity))
        funding = fields.get("funding_pnl")
        if funding is not None:
            funding = as_number(funding)
        if funding is not None:
            if self.first_funding is None or moment < self.first_funding[0]:
                self.first_funding = (moment, funding)
            if self.last_funding is None or moment >= self.last_funding[0]:
                self.last_funding = (moment, funding)
        unrealized = fields.get("unrealized_pnl")
        if unrealized is not None:
            unrealized = as_number(unrealized)
        if unrealized is not None:
            if self.last_unrealized is None or moment >= self.last_unrealized[0]:
                self.last_unrealized = (moment, unrealized)
            if self.first_unrealized is None or moment < self.first_unrealized[0]:
                self.first_unrealized = (moment, unrealized)

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
            duration = as_number(duration)
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
        """End every step function and age at ``at`` (the window's end, or now if earlier), and
        count the executed trades no ``fill`` event replaced as fills.

        A state in force when the window starts (set by an event before it) counts from the
        window's start: a check unhealthy since 23:59 is unhealthy from 00:00, a loop whose last
        cycle ended at 23:59 has a heartbeat age running from that cycle.
        """
        for values in self.pending_trades.values():
            self._fill(*values)
        self.pending_trades.clear()
        start = self.start
        self.heartbeat.close(at, self.prior_cycle, start)
        self.account_age.close(at, None if self.opening is None else self.opening[0], start)
        self.loss_ratio.close(at, _value(self.prior_loss), start)
        self.breaker.close(at, _value(self.prior_breaker), start)
        for check in self.prior_health:
            if check not in self.health:
                self.health[check] = Steps((1.0, 2.0))
        for check, steps in self.health.items():
            steps.close(at, _value(self.prior_health.get(check)), start)

    def stale_seconds(
        self, levels: tuple[float, ...], at: datetime
    ) -> dict[str, tuple[list[int], list[float]]]:
        """Per symbol: (incidents, seconds) with the mark's age above each level, in the window.

        A span runs from the symbol's last mark to the mark that ended it (or ``at``); its age
        is above ``L`` from ``last mark + L``, clipped to ``[start, at)``.
        """
        out: dict[str, tuple[list[int], list[float]]] = {}
        start = self.start
        for (symbol, last_mark), until in sorted(self.stale_spans.items()):
            end = at if until is None or until > at else until
            counts, seconds = out.setdefault(symbol, ([0] * len(levels), [0.0] * len(levels)))
            for i, level in enumerate(levels):
                since = last_mark + timedelta(seconds=level)
                if start is not None and since < start:
                    since = start
                above = (end - since).total_seconds()
                if above > 0:
                    counts[i] += 1
                    seconds[i] += above
        return out

    def merge(self, later: Tally) -> None:  # noqa: PLR0912, PLR0915 - one line per field
        """Fold in the tally of the stretch of events that follows this one.

        The result equals one tally over both stretches whenever timestamps do not go back
        across the seam (our writer's files never do).
        """
        self.fills += later.fills
        self.realized += later.realized
        self.fees += later.fees
        self.wins += later.wins
        self.losses += later.losses
        self.gross_win += later.gross_win
        self.gross_loss += later.gross_loss
        if later.largest_win is not None and (
            self.largest_win is None or later.largest_win > self.largest_win
        ):
            self.largest_win = later.largest_win
        if later.largest_loss is not None and (
            self.largest_loss is None or later.largest_loss < self.largest_loss
        ):
            self.largest_loss = later.largest_loss
        for symbol, theirs in later.symbols.items():
            ours = self.symbols.get(symbol)
            if ours is None:
                self.symbols[symbol] = theirs
                continue
            ours.fills += theirs.fills
            ours.realized += theirs.realized
            ours.fees += theirs.fees
            ours.wins += theirs.wins
            ours.closing += theirs.closing
        if later.equity:
            self.equity_in_order = (
                self.equity_in_order
                and later.equity_in_order
                and (not self.equity or later.equity[0][0] >= self.equity[-1][0])
            )
            self.equity.extend(later.equity)
        if later.first_funding is not None and (
            self.first_funding is None or later.first_funding[0] < self.first_funding[0]
        ):
            self.first_funding = later.first_funding
        if later.last_funding is not None and (
            self.last_funding is None or later.last_funding[0] >= self.last_funding[0]
        ):
            self.last_funding = later.last_funding
        if later.last_unrealized is not None and (
            self.last_unrealized is None or later.last_unrealized[0] >= self.last_unrealized[0]
        ):
            self.last_unrealized = later.last_unrealized
        self.funding_payments += later.funding_payments
        self.guards.update(later.guards)
        self.trips.extend(later.trips)
        if later.daily_loss is not None and (
            self.daily_loss is None or later.daily_loss[0] > self.daily_loss[0]
        ):
            self.daily_loss = later.daily_loss
        # Slowest cycles: their tie-break is the cycle's place in the whole stream.
        shifted = [(d, index - self.cycles, n, m) for d, index, n, m in later.slowest]
        self.slowest = heapq.nlargest(SLOWEST_CYCLES, self.slowest + shifted)
        heapq.heapify(self.slowest)
        self.cycles += later.cycles
        self.errors += later.errors
        self.errors_by_type.update(later.errors_by_type)
        self.durations.extend(later.durations)
        self.stale_marks += later.stale_marks
        self.stale_by_symbol.update(later.stale_by_symbol)
        _merge_incidents(self.incidents, later.incidents)
        self.ws_reconnects += later.ws_reconnects
        self.rejections += later.rejections
        self.order_keys |= later.order_keys
        self.orders_without_id += later.orders_without_id
        for key in later.filled_orders:
            self.pending_trades.pop(key, None)
        self.pending_trades.update(
            (key, values)
            for key, values in later.pending_trades.items()
            if key not in self.filled_orders
        )
        self.filled_orders |= later.filled_orders
        for symbol, seen in later.symbol_pnl.items():
            if symbol not in self.symbol_pnl or seen[0] >= self.symbol_pnl[symbol][0]:
                self.symbol_pnl[symbol] = seen
        self.unfilled_orders += later.unfilled_orders
        self.api_errors += later.api_errors
        self.trades_blocked += later.trades_blocked
        self.error_messages.update(later.error_messages)
        self.events += later.events
        self._merge_carried(later)
        self.heartbeat.merge(later.heartbeat)
        self.account_age.merge(later.account_age)
        self.loss_ratio.merge(later.loss_ratio)
        self.breaker.merge(later.breaker)
        for check, steps in later.health.items():
            if check in self.health:
                self.health[check].merge(steps)
            else:
                self.health[check] = steps

    def _merge_carried(self, later: Tally) -> None:
        """Merge the state before the window (the latest wins) and the staleness spans."""
        self.before += later.before
        if later.opening is not None and (
            self.opening is None or later.opening[0] >= self.opening[0]
        ):
            self.opening = later.opening
        if later.first_unrealized is not None and (
            self.first_unrealized is None or later.first_unrealized[0] < self.first_unrealized[0]
        ):
            self.first_unrealized = later.first_unrealized
        if later.prior_cycle is not None and (
            self.prior_cycle is None or later.prior_cycle > self.prior_cycle
        ):
            self.prior_cycle = later.prior_cycle
        self.prior_loss = _latest(self.prior_loss, later.prior_loss)
        self.prior_breaker = _latest(self.prior_breaker, later.prior_breaker)
        for check, seen in later.prior_health.items():
            self.prior_health[check] = _latest(self.prior_health.get(check), seen) or seen
        for symbol, pnl in later.prior_symbol_pnl.items():
            mine = self.prior_symbol_pnl.get(symbol)
            if mine is None or pnl[0] >= mine[0]:
                self.prior_symbol_pnl[symbol] = pnl
        for key, until in later.stale_spans.items():
            if until is not None or key not in self.stale_spans:
                self.stale_spans[key] = until


def _latest_pnl(
    into: dict[str, tuple[datetime, float | None, float | None]],
    moment: datetime,
    fields: dict[str, Any],
) -> None:
    """Keep a ``pnl_update`` as its symbol's state when it is the latest seen."""
    symbol = fields.get("symbol")
    if symbol.__class__ is not str or not symbol:
        symbol = text(symbol) or "unknown"
    seen = into.get(symbol)
    if seen is None or moment >= seen[0]:
        realized, unrealized = fields.get("realized_pnl"), fields.get("unrealized_pnl")
        if realized.__class__ is not float or realized - realized != 0:  # as_number, inline
            realized = as_number(realized)
        if unrealized.__class__ is not float or unrealized - unrealized != 0:
            unrealized = as_number(unrealized)
        into[symbol] = (moment, realized, unrealized)


def _latest(
    ours: tuple[datetime, float] | None, theirs: tuple[datetime, float] | None
) -> tuple[datetime, float] | None:
    if theirs is not None and (ours is None or theirs[0] >= ours[0]):
        return theirs
    return ours


def _value(state: tuple[datetime, float] | None) -> float | None:
    return None if state is None else state[1]


def _loss_ratio(fields: dict[str, Any]) -> float | None:
    loss, limit = as_number(fields.get("loss")), as_number(fields.get("limit"))
    if loss is None or limit is None or limit <= 0:
        return None
    ratio = loss / limit
    return ratio if math.isfinite(ratio) else None


def _breaker_state(kind: str, fields: dict[str, Any]) -> float | None:
    """1.0 for a trip, 0.0 for a reset, None when the event says neither."""
    if kind == "circuit_breaker_triggered":
        return 1.0
    if kind == "circuit_breaker_cleared":
        return 0.0
    triggered = fields.get("triggered")
    return None if not isinstance(triggered, bool) else float(triggered)


def _instant(value: object) -> datetime | None:
    """An RFC 3339 string as an aware UTC datetime (our library's own fields), else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _merge_incidents(
    into: dict[tuple[str, str], list[Any]], later: dict[tuple[str, str], list[Any]]
) -> None:
    """Add ``later``'s incident counts and widen the first/last times."""
    for key, (count, first, last) in later.items():
        seen = into.get(key)
        if seen is None:
            into[key] = [count, first, last]
        else:
            seen[:] = [seen[0] + count, min(seen[1], first), max(seen[2], last)]
