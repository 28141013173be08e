"""The control-loop cycle: :class:`CycleTimer` (``with``, ``async with``, decorator) and phases.

The current cycle lives in a :mod:`contextvars` variable, so phases opened with
:func:`trader_telemetry.phase` attach to the right cycle even when many asyncio tasks run cycles
at once. The bot's exception is never swallowed or replaced: ``__exit__`` records it and returns
False, so Python re-raises the same object with its traceback.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, cast

from opentelemetry.metrics import Histogram

from .state import RecordedState

if TYPE_CHECKING:
    from .tracing import CycleTracing

__all__ = ["Cycle", "CycleTimer", "Phase", "current_cycle", "decorate_cycle"]

F = TypeVar("F", bound=Callable[..., Any])

_CURRENT: ContextVar[Cycle | None] = ContextVar("trader_telemetry_cycle", default=None)

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")


class _SyncContext(Protocol[T_co]):
    def __enter__(self) -> T_co: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...


# Phases and cycles do no I/O: ``async with`` is the same work as ``with``.
async def _async_enter(self: _SyncContext[T]) -> T:
    return self.__enter__()


async def _async_exit(
    self: _SyncContext[object],
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> Literal[False]:
    return self.__exit__(exc_type, exc, tb)


class CycleRecorder(Protocol):
    """What a :class:`CycleTimer` records into (a ``Telemetry``, or nothing when unconfigured).

    The timer handles the common case itself (a cycle that ended without an exception); every
    other ending goes to ``_end_cycle``: errors, interruptions, a clock that went backwards, a
    lost context (``cycle`` None), or a recorder with no histogram.
    """

    def _end_cycle(
        self, cycle: Cycle | None, exc: BaseException | None, end: float, duration: float
    ) -> None: ...
    def _cycle_fault(self, where: str, exc: BaseException) -> None: ...
    def _phase_attributes(self, name: str) -> dict[str, str]: ...
    def _begin_phase(self, phase: Phase) -> None: ...
    def _end_phase(self, phase: Phase, exc: BaseException | None) -> None: ...


class Phase:
    """A timed part of a cycle (``with cycle.phase("fetch_marks"):``); also ``async with``."""

    __slots__ = (
        "_recorder",
        "_span",
        "_span_token",
        "attributes",
        "cycle",
        "duration",
        "name",
        "start",
    )

    def __init__(
        self, recorder: CycleRecorder, name: str, attributes: dict[str, str], cycle: Cycle | None
    ) -> None:
        self._recorder = recorder
        self.name = name
        self.attributes = attributes
        self.cycle = cycle
        self.start = 0.0
        self.duration: float | None = None
        self._span: Any = None
        self._span_token: object = None

    def __enter__(self) -> Phase:
        self._recorder._begin_phase(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        self._recorder._end_phase(self, exc)
        return False

    __aenter__ = _async_enter
    __aexit__ = _async_exit


class Cycle:
    """One run of the control loop, as yielded by ``with cycle_timer() as cycle``.

    Attributes:
        number: 1 for the first cycle of this Telemetry instance, then counting up.
        start: Monotonic start time.
        duration: Seconds the cycle took, once it has ended.
        outcome: ``"ok"``, ``"error"``, or ``"interrupted"`` (KeyboardInterrupt, cancellation).
        phases: Seconds spent per phase name in this cycle.
    """

    # _span and _span_token are set only when tracing is on (no cost otherwise).
    __slots__ = (
        "_phases",
        "_span",
        "_span_token",
        "_timer",
        "_token",
        "duration",
        "number",
        "outcome",
        "start",
    )

    _span: Any  # the cycle's root span, when tracing is on
    _span_token: object

    # Built once per cycle on the hot path: only the stores that are needed (the token is set
    # by the timer right after construction).
    def __init__(self, timer: CycleTimer, number: int, start: float) -> None:
        self._timer = timer
        self.number = number
        self.start = start
        self._token: Token[Cycle | None] | None
        self.duration: float | None = None
        self.outcome: str | None = None
        self._phases: dict[str, float] | None = None  # most cycles of a hot loop have none

    @property
    def phases(self) -> dict[str, float]:
        """Seconds spent per phase name in this cycle (a live dict)."""
        if self._phases is None:
            self._phases = {}
        return self._phases

    def phase(self, name: str) -> Phase:
        """Time a named part of this cycle.

        Example:
            >>> import trader_telemetry as tt
            >>> with tt.cycle_timer() as cycle:
            ...     with cycle.phase("fetch_marks"):
            ...         pass
        """
        recorder = self._timer._recorder
        return Phase(recorder, name, recorder._phase_attributes(name), self)

    def __repr__(self) -> str:
        return f"<Cycle #{self.number} outcome={self.outcome!r} duration={self.duration!r}>"


class CycleTimer:
    """Times one control-loop cycle per use. A fresh :class:`Cycle` is made on every entry, so
    one timer may be used again, nested, or from many tasks at once.

    Example:
        >>> import trader_telemetry as tt
        >>> with tt.cycle_timer() as cycle:
        ...     pass
        >>> cycle.outcome
        'ok'
    """

    __slots__ = ("_histogram", "_monotonic", "_recorder", "_state", "_tracing")

    def __init__(
        self,
        recorder: CycleRecorder,
        state: RecordedState,
        monotonic: Callable[[], float],
        histogram: Histogram | None,
        tracing: CycleTracing | None = None,
    ) -> None:
        """``histogram`` None sends every ending to the recorder (no fast path): before
        ``configure()``, and when tracing is on (the recorder then decides which trace to keep
        and records the duration in that trace's context)."""
        self._recorder = recorder
        self._state = state
        self._monotonic = monotonic
        self._histogram = histogram
        self._tracing = tracing

    # __enter__ and __exit__ run once per cycle of the bot's loop: the common path is written
    # out here, without further calls, because a cycle's whole budget is one OTel record plus
    # about 30 % (benchmarks/hot_path.py).
    def __enter__(self) -> Cycle:
        state = self._state
        number = next(state.numbers)  # atomic under the GIL: safe from many threads
        try:
            start = self._monotonic()
        except Exception as exc:  # noqa: BLE001 - a broken clock must not stop the bot
            self._recorder._cycle_fault("cycle_begin", exc)
            start = 0.0
        cycle = Cycle(self, number, start)
        state.running[number] = cycle
        if self._tracing is not None:
            try:
                cycle._span, cycle._span_token = self._tracing.start_cycle(number)
            except Exception as exc:  # noqa: BLE001 - no trace is better than no cycle
                self._recorder._cycle_fault("trace_begin", exc)
        cycle._token = _CURRENT.set(cycle)
        return cycle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        try:
            end = self._monotonic()
            state = self._state
            cycle = _CURRENT.get()
            if cycle is not None and cycle._timer is not self:
                cycle = None
            if cycle is not None:
                try:
                    _CURRENT.reset(cycle._token)  # type: ignore[arg-type] # None: TypeError
                except (ValueError, TypeError):  # another context's token, or none: clear ours
                    _CURRENT.set(None)
            # Popping the cycle from ``running`` claims it (dict.pop is atomic): each exit
            # ends exactly one cycle, even when two threads race for the same one.
            if cycle is None or state.running.pop(cycle.number, None) is None:
                cycle = self._claim_orphan()
                if cycle is None:  # an exit without any entry: the recorder counts a fault
                    self._recorder._end_cycle(None, exc, end, 0.0)
                    return False
            duration = end - cycle.start
            histogram = self._histogram
            if exc is None and duration >= 0 and histogram is not None:
                cycle.outcome = "ok"
                cycle.duration = duration
                histogram.record(duration)
                ok_cycles = state.ok_cycles
                ok_cycles.pending.append(None)  # Tally.add without the call
                if not cycle.number & 4095:  # fold now and then: bounded without a reader
                    ok_cycles.fold()
                state.last_cycle_seconds = duration
                state.last_cycle_end = end
            else:
                self._recorder._end_cycle(cycle, exc, end, duration)
        except Exception as fault:  # noqa: BLE001 - never raise into the bot's loop
            self._recorder._cycle_fault("cycle_end", fault)
        return False  # never swallow the bot's exception

    def _claim_orphan(self) -> Cycle | None:
        """The oldest running cycle of this timer, claimed, for an exit that has no cycle of
        its own in its context: a cycle entered on one thread and exited on another (context
        variables do not cross threads). Ended here, it is counted like any other instead of
        staying "in progress" for ever; with several running, the durations may pair up
        differently, but every exit ends one cycle and every cycle is counted once."""
        running = self._state.running
        for number, entry in sorted(running.copy().items()):  # dict.copy is atomic
            cycle = cast("Cycle", entry)  # only cycle_timer puts cycles there
            if cycle._timer is self and running.pop(number, None) is not None:
                # Its context still holds it (and, through its token, the cycle before it):
                # drop the token, or a loop that always ends cycles elsewhere would keep
                # every cycle it ever ran reachable.
                cycle._token = None
                return cycle
        return None

    __aenter__ = _async_enter
    __aexit__ = _async_exit

    def __call__(self, func: F) -> F:
        """Use the timer as a decorator: every call of ``func`` is one cycle."""
        return decorate_cycle(func, lambda: self)


def current_cycle() -> Cycle | None:
    """The cycle running in this thread or asyncio task, or None outside any cycle (or when
    the one begun here was ended on another thread)."""
    cycle = _CURRENT.get()
    return cycle if cycle is None or cycle.outcome is None else None


def decorate_cycle(func: F, timer_factory: Callable[[], CycleTimer]) -> F:
    """Wrap ``func`` (sync or async) so each call runs inside ``timer_factory()``; the signature
    is kept (wrapt)."""
    import wrapt  # noqa: PLC0415 - imported when a function is decorated: a light import

    if inspect.iscoroutinefunction(func):

        @wrapt.decorator
        async def async_wrapper(
            wrapped: Callable[..., Awaitable[Any]], instance: Any, args: Any, kwargs: Any
        ) -> Any:
            async with timer_factory():
                return await wrapped(*args, **kwargs)

        return cast(F, async_wrapper(func))

    @wrapt.decorator
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        with timer_factory():
            return wrapped(*args, **kwargs)

    return cast(F, wrapper(func))
