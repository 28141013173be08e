"""The names the docs' fragments take as given, typed, for ``mypy --strict`` of those blocks.

A Python block of README.md or docs/*.md marked ``<!-- fragment -->`` may use a name it does
not define (the bot's own objects); tests/test_docs_run.py imports each such name from here
before type-checking the block. A name missing here fails that test, naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from trader_telemetry.readers import Exposition


class _OrdersStore:
    """The bot's order store, as ``StaleFillsHealthCheck`` reads it."""

    def open_order_ages(self) -> Iterable[float]:
        return []


class _MarketData:
    """The bot's market data, as ``StaleMarksHealthCheck`` reads it."""

    def mark_ages(self) -> Mapping[str, float]:
        return {}


class _WebSocketHandler:
    """The bot's websocket handler, as ``WebSocketReconnectHealthCheck`` reads it."""

    def reconnects_in_last(self, seconds: float) -> int:
        return 0

    def is_connected(self) -> bool | None:
        return True


class _Source:
    """What the endpoint serves (``MetricsSource``): a Telemetry, or anything shaped like one."""

    def render_metrics(self, accept: str | None = None) -> Exposition:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        return {}

    def health_response(self) -> tuple[int, dict[str, Any]]:
        return 200, {}

    def liveness_response(self) -> tuple[int, dict[str, Any]]:
        return 200, {}


orders_store = _OrdersStore()
market_data = _MarketData()
ws_handler = _WebSocketHandler()
source = _Source()
