"""The circuit breaker as the files tell it, with recency, so it can never read 1 forever.

The newest statement wins: a trip (``circuit_breaker`` with ``triggered: true``, GPT-Trader's
``circuit_breaker_triggered``, or a ``metrics.json`` saying ``risk.circuit_breaker_triggered:
true``) sets it, a reset (``triggered: false``, ``circuit_breaker_reset``, or a newer
``metrics.json`` saying false) clears it, and a trip that nothing has confirmed for
``hold_seconds`` expires. Our own bots rewrite ``metrics.json`` every few seconds while the
breaker is open, which keeps a long trip alive; GPT-Trader never wrote a reset, so its trips
end by expiry. Trips are counted as the library counts them: one per change to triggered.
"""

from __future__ import annotations

from ..telemetry import Telemetry

__all__ = ["DEFAULT_HOLD_SECONDS", "BreakerReplay"]

#: How long a trip nothing has confirmed keeps the breaker at 1.
DEFAULT_HOLD_SECONDS = 3600.0


class BreakerReplay:
    """Drives ``telemetry.set_circuit_breaker`` from dated statements.

    Example:
        >>> from trader_telemetry import Telemetry
        >>> t = Telemetry(serve=False)
        >>> breaker = BreakerReplay(t, hold_seconds=60.0)
        >>> breaker.state(True, "daily_loss", at=1000.0)
        >>> breaker.expire(now=1030.0)
        >>> t.snapshot()["risk"]["circuit_breaker_triggered"]
        True
        >>> breaker.expire(now=1061.0)
        >>> t.snapshot()["risk"]["circuit_breaker_triggered"]
        False
        >>> t.shutdown()
    """

    def __init__(self, telemetry: Telemetry, *, hold_seconds: float = DEFAULT_HOLD_SECONDS):
        self._telemetry = telemetry
        self.hold_seconds = hold_seconds
        self._newest = float("-inf")  # time of the newest statement applied
        #: Time of the trip (or its latest confirmation) while the breaker is at 1.
        self.tripped_at: float | None = None

    def state(self, triggered: bool, reason: str | None, *, at: float) -> None:
        """The breaker was ``triggered`` (or not) at ``at`` (epoch seconds); older statements
        than the newest one applied are ignored."""
        self.expire(at)
        if at < self._newest:
            return
        self._newest = at
        if triggered:
            self.tripped_at = at
            self._telemetry.set_circuit_breaker(True, reason=reason)
        elif self.tripped_at is not None:
            self.tripped_at = None
            self._telemetry.set_circuit_breaker(False)

    def expire(self, now: float) -> None:
        """Clear a trip older than the hold time."""
        if self.tripped_at is not None and now - self.tripped_at > self.hold_seconds:
            self.tripped_at = None
            self._telemetry.set_circuit_breaker(False)
