"""The playbook's health checks (same names and signatures), and the small protocols they read.

A bot hands its own objects to them (an orders store, its market-data cache, its websocket
handler), or the adapters in :mod:`trader_telemetry.health.sources`, which read the same facts
from what the bot already recorded through the Telemetry API.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, runtime_checkable

from ..config import Thresholds
from .model import HealthCheckResult, HealthStatus

__all__ = [
    "MarketDataSource",
    "OrdersStore",
    "StaleFillsHealthCheck",
    "StaleMarksHealthCheck",
    "WebSocketReconnectHealthCheck",
    "WebSocketStats",
]


@runtime_checkable
class OrdersStore(Protocol):
    """What :class:`StaleFillsHealthCheck` reads: how long each open order has waited."""

    def open_order_ages(self) -> Iterable[float]:
        """Seconds since each open (unfilled) order was submitted."""
        ...


@runtime_checkable
class MarketDataSource(Protocol):
    """What :class:`StaleMarksHealthCheck` reads: the age of the last mark per symbol."""

    def mark_ages(self) -> Mapping[str, float]:
        """Seconds since the last mark, per symbol."""
        ...


@runtime_checkable
class WebSocketStats(Protocol):
    """What :class:`WebSocketReconnectHealthCheck` reads."""

    def reconnects_in_last(self, seconds: float) -> int:
        """Reconnections in the last ``seconds``."""
        ...

    def is_connected(self) -> bool | None:
        """True or False when known, None when the handler cannot tell."""
        ...


class StaleFillsHealthCheck:
    """Open orders waiting for a fill longer than ``max_age_minutes``: 1+ DEGRADED, 5+ UNHEALTHY.

    Example:
        >>> class Store:
        ...     def open_order_ages(self) -> list[float]:
        ...         return [30.0, 900.0]
        >>> StaleFillsHealthCheck(Store()).check().status
        <HealthStatus.DEGRADED: 'degraded'>
    """

    name = "stale_fills"

    def __init__(
        self,
        orders_store: OrdersStore,
        max_age_minutes: float = 10.0,
        *,
        degraded_at: int = 1,
        unhealthy_at: int = 5,
    ) -> None:
        self.orders_store = orders_store
        self.max_age_seconds = max_age_minutes * 60.0
        self.degraded_at = degraded_at
        self.unhealthy_at = unhealthy_at

    def check(self) -> HealthCheckResult:
        ages = list(self.orders_store.open_order_ages())
        stale = [age for age in ages if age > self.max_age_seconds]
        details = {
            "open_orders": len(ages),
            "stale_orders": len(stale),
            "max_age_seconds": self.max_age_seconds,
        }
        if len(stale) >= self.unhealthy_at:
            status = HealthStatus.UNHEALTHY
        elif len(stale) >= self.degraded_at:
            status = HealthStatus.DEGRADED
        else:
            status = HealthStatus.HEALTHY
        minutes = self.max_age_seconds / 60
        message = f"{len(stale)} of {len(ages)} open orders unfilled for over {minutes:g} min"
        return HealthCheckResult(self.name, status, message, details, time.time())


class StaleMarksHealthCheck:
    """Marks older than ``max_age_seconds``: any stale symbol DEGRADED, more than half UNHEALTHY;
    UNKNOWN before any mark.

    Example:
        >>> class Data:
        ...     def mark_ages(self) -> dict[str, float]:
        ...         return {"BTC-PERP": 1.0, "ETH-PERP": 45.0, "SOL-PERP": 2.0}
        >>> StaleMarksHealthCheck(Data()).check().status
        <HealthStatus.DEGRADED: 'degraded'>
    """

    name = "stale_marks"

    def __init__(self, market_data: MarketDataSource, max_age_seconds: float = 30.0) -> None:
        self.market_data = market_data
        self.max_age_seconds = max_age_seconds

    def check(self) -> HealthCheckResult:
        ages = dict(self.market_data.mark_ages())
        stale = sorted(symbol for symbol, age in ages.items() if age > self.max_age_seconds)
        details = {
            "symbols": len(ages),
            "stale_symbols": stale,
            "max_age_seconds": self.max_age_seconds,
        }
        if not ages:
            return HealthCheckResult(
                self.name, HealthStatus.UNKNOWN, "no marks recorded yet", details, time.time()
            )
        if len(stale) * 2 > len(ages):
            status = HealthStatus.UNHEALTHY
        elif stale:
            status = HealthStatus.DEGRADED
        else:
            status = HealthStatus.HEALTHY
        limit = self.max_age_seconds
        message = f"{len(stale)} of {len(ages)} symbols without a mark for over {limit:g} s"
        return HealthCheckResult(self.name, status, message, details, time.time())


class WebSocketReconnectHealthCheck:
    """Reconnect storms: 5+ in the last minute UNHEALTHY; 10+ in the last hour, or disconnected,
    DEGRADED.

    Example:
        >>> class Ws:
        ...     def reconnects_in_last(self, seconds: float) -> int:
        ...         return 6 if seconds <= 60 else 6
        ...
        ...     def is_connected(self) -> bool | None:
        ...         return True
        >>> WebSocketReconnectHealthCheck(Ws()).check().status
        <HealthStatus.UNHEALTHY: 'unhealthy'>
    """

    name = "websocket_reconnects"

    def __init__(
        self,
        ws_handler: WebSocketStats,
        *,
        per_minute_unhealthy: int = 5,
        per_hour_degraded: int = 10,
    ) -> None:
        self.ws_handler = ws_handler
        self.per_minute_unhealthy = per_minute_unhealthy
        self.per_hour_degraded = per_hour_degraded

    @classmethod
    def from_thresholds(
        cls, ws_handler: WebSocketStats, thresholds: Thresholds
    ) -> WebSocketReconnectHealthCheck:
        """Limits from the shared :class:`~trader_telemetry.Thresholds`."""
        return cls(
            ws_handler,
            per_minute_unhealthy=thresholds.ws_reconnects_critical,
            per_hour_degraded=thresholds.ws_reconnects_hourly_warning,
        )

    def check(self) -> HealthCheckResult:
        minute = self.ws_handler.reconnects_in_last(60.0)
        hour = self.ws_handler.reconnects_in_last(3600.0)
        connected = self.ws_handler.is_connected()
        details = {
            "reconnects_last_minute": minute,
            "reconnects_last_hour": hour,
            "connected": connected,
        }
        if minute >= self.per_minute_unhealthy:
            status, message = HealthStatus.UNHEALTHY, f"{minute} reconnects in the last minute"
        elif hour >= self.per_hour_degraded:
            status, message = HealthStatus.DEGRADED, f"{hour} reconnects in the last hour"
        elif connected is False:
            status, message = HealthStatus.DEGRADED, "disconnected"
        else:
            status, message = (
                HealthStatus.HEALTHY,
                f"{minute} reconnects in the last minute, {hour} in the hour",
            )
        return HealthCheckResult(self.name, status, message, details, time.time())


class ThresholdCheck:
    """A check over one figure with warning and critical levels (the built-in checks)."""

    def __init__(
        self,
        name: str,
        read: Callable[[], float | None],
        warning: float,
        critical: float,
        describe: Callable[[float], str],
        *,
        unknown_message: str = "no data yet",
        applies: Callable[[], bool] | None = None,
    ) -> None:
        self.name = name
        self._read = read
        self.warning = warning
        self.critical = critical
        self._describe = describe
        self._unknown = unknown_message
        self._applies = applies

    def applies(self) -> bool:
        """False while the figure has never been recorded: the check stays out of reports."""
        return True if self._applies is None else self._applies()

    def check(self) -> HealthCheckResult:
        value = self._read()
        details = {"value": value, "warning": self.warning, "critical": self.critical}
        if value is None:
            return HealthCheckResult(
                self.name, HealthStatus.UNKNOWN, self._unknown, details, time.time()
            )
        if value >= self.critical:
            status = HealthStatus.UNHEALTHY
        elif value > self.warning:
            status = HealthStatus.DEGRADED
        else:
            status = HealthStatus.HEALTHY
        return HealthCheckResult(self.name, status, self._describe(value), details, time.time())
