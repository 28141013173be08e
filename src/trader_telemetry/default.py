"""The default instance and the module-level helpers that act on it (as :mod:`logging` does).

Imported but not configured, the helpers do nothing and cost almost nothing: ``cycle_timer()``
still times and re-raises, but records nowhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.metrics import MeterProvider

from .config import TelemetryConfig
from .cycle import Cycle, CycleTimer, Phase, current_cycle, decorate_cycle
from .state import RecordedState
from .telemetry import Telemetry

if TYPE_CHECKING:
    from .tracing import TracingConfig

__all__ = [
    "configure",
    "cycle_timer",
    "get_telemetry",
    "phase",
    "reset",
    "shutdown",
    "swap_default",
    "timed_cycle",
]

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_default: Telemetry | None = None


class _NullRecorder:
    """Stands in for a Telemetry before ``configure()``: cycles and phases still get their
    outcome, nothing is recorded."""

    def _end_cycle(
        self, cycle: Cycle | None, exc: BaseException | None, end: float, duration: float
    ) -> None:
        if cycle is not None:
            cycle.outcome = (
                "ok" if exc is None else "error" if isinstance(exc, Exception) else "interrupted"
            )

    def _cycle_fault(self, where: str, exc: BaseException) -> None:
        pass

    def _phase_attributes(self, name: str) -> dict[str, str]:
        return {}

    def _begin_phase(self, phase: Phase) -> None:
        pass

    def _end_phase(self, phase: Phase, exc: BaseException | None) -> None:
        pass


_NULL = _NullRecorder()
# Times nothing: no histogram, so every cycle takes the recorder's (no-op) path.
_NULL_TIMER = CycleTimer(_NULL, RecordedState(started_monotonic=0.0), time.perf_counter, None)
# The default instance's timer (a Telemetry keeps one for its life), kept beside _default so
# the README's ``with tt.cycle_timer():`` costs one global read more than the instance's call.
_default_timer: CycleTimer = _NULL_TIMER


def _set_default(telemetry: Telemetry | None) -> Telemetry | None:
    """Install ``telemetry`` (None: none) as the default; returns the previous one. Hold _lock."""
    global _default, _default_timer  # noqa: PLW0603 - the default instance is the point here
    previous, _default = _default, telemetry
    _default_timer = _NULL_TIMER if telemetry is None else telemetry.cycle_timer()
    return previous


def configure(
    config: TelemetryConfig | None = None,
    *,
    meter_provider: MeterProvider | None = None,
    tracing: bool | TracingConfig = False,
    slow_cycle_seconds: float | None = None,
    **overrides: Any,
) -> Telemetry:
    """Create the default :class:`Telemetry` and start its endpoint (127.0.0.1:9000 unless told
    otherwise). Calling it again shuts the previous default down first.

    Raises:
        ConfigurationError: a bad value, naming the field and the value.
        PortInUseError: the port is taken, naming host and port.

    Example:
        >>> import trader_telemetry as tt
        >>> telemetry = tt.configure(namespace="coinbase_trader", port=0)
        >>> tt.get_telemetry() is telemetry
        True
        >>> tt.shutdown()
    """
    cfg = config if config is not None else TelemetryConfig.from_env()
    if overrides:
        cfg = cfg.with_changes(**overrides)
    with _lock:
        previous = _set_default(None)
    if previous is not None:
        previous.shutdown()
    telemetry = Telemetry(
        cfg,
        meter_provider=meter_provider,
        tracing=tracing,
        slow_cycle_seconds=slow_cycle_seconds,
    )
    with _lock:
        _set_default(telemetry)
    return telemetry


def get_telemetry() -> Telemetry | None:
    """The default instance, or None before :func:`configure`."""
    return _default


def shutdown(timeout: float = 5.0) -> None:
    """Shut the default instance down (idempotent, bounded by ``timeout``)."""
    with _lock:
        telemetry = _set_default(None)
    if telemetry is not None:
        telemetry.shutdown(timeout)


reset = shutdown
"""Forget the default instance (tests call this between cases)."""


def swap_default(telemetry: Telemetry | None) -> Telemetry | None:
    """Make ``telemetry`` the default instance and return the one it replaces, starting and
    stopping nothing (:mod:`trader_telemetry.testing` installs its instance this way).

    Example:
        >>> import trader_telemetry as tt
        >>> mine = tt.Telemetry(serve=False)
        >>> swap_default(mine) is None, tt.get_telemetry() is mine
        (True, True)
        >>> swap_default(None) is mine
        True
        >>> mine.shutdown()
    """
    with _lock:
        return _set_default(telemetry)


def cycle_timer() -> CycleTimer:
    """A cycle timer on the default instance (or recording nowhere before ``configure()``).

    Example:
        >>> import trader_telemetry as tt
        >>> with tt.cycle_timer() as cycle:
        ...     pass
    """
    return _default_timer


def timed_cycle(func: F) -> F:
    """Decorator: every call of ``func`` (sync or async) is one cycle of the default instance,
    looked up at call time, so decorating before ``configure()`` is fine."""
    return decorate_cycle(func, cycle_timer)


def phase(name: str) -> Phase:
    """Time a phase of the current cycle on the default instance."""
    telemetry = _default
    if telemetry is None:
        return Phase(_NULL, name, {}, current_cycle())
    return telemetry.phase(name)
