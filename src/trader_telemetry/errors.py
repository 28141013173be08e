"""The library's own exception classes.

Only configuration and start-up raise. Once a :class:`~trader_telemetry.Telemetry` is running,
recording calls never raise into the bot: they log and count instead.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "EndpointError",
    "NotReadyError",
    "PortInUseError",
    "TelemetryError",
]


class TelemetryError(Exception):
    """Base class of every exception trader_telemetry raises on purpose."""


class ConfigurationError(TelemetryError, ValueError):
    """A configuration value is invalid; the message names the field and the value.

    Example:
        >>> from trader_telemetry import TelemetryConfig
        >>> TelemetryConfig(port=70000)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ConfigurationError: TelemetryConfig.port must be an integer in 0..65535, got 70000
    """


class EndpointError(TelemetryError, OSError):
    """The metrics endpoint could not bind its address (raised by ``configure()``)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot serve metrics on {host}:{port}: {reason}")
        self.host = host
        self.port = port


class PortInUseError(EndpointError):
    """Another process already listens on the configured host and port."""


class NotReadyError(TelemetryError):
    """Raised by a refresh hook when the data is not complete yet (the file exporter's first
    catch-up): ``/metrics`` and ``/metrics.json`` answer 503 with ``Retry-After`` instead of
    serving partial counters. Never raised into the bot.

    Example:
        >>> NotReadyError("catching up", retry_after=2.0).retry_after
        2.0
    """

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
