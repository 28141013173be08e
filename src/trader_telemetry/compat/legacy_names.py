"""The names GPT-Trader's own exporter served, kept so an operator's old dashboards keep working.

GPT-Trader's exporter (``scripts/monitoring/export_metrics.py``, prefix ``coinbase_trader_``)
served these names; ``serve`` serves them with the values they should have had, beside the
library's catalogue. Names it shares with the catalogue (``equity``, the PnL gauges,
``cycle_latency_ms``, ``circuit_breaker_triggered``, ``websocket_reconnects_total``,
``stale_marks_total``) come from the catalogue; the rest are here. Symbols are kept as written
(``BTC-PERP``; the old exporter rewrote them to ``BTC_PERP``). docs/migration.md maps each name.

These rows stay outside :data:`~trader_telemetry.catalogue.CATALOGUE`: they exist only in
``serve``, for compatibility, and nothing new should be built on them.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Final

from ..catalogue import Component, MetricKind, MetricSpec
from ..events.field_values import as_float
from ..row_values import json_at

__all__ = ["LEGACY_SPECS", "LegacyFigures", "limit_remaining"]

_G, _C = MetricKind.GAUGE, MetricKind.COUNTER


def _spec(
    name: str,
    kind: MetricKind,
    unit: str,
    text: str,
    *labels: str,
    read: str | None = None,
    json: str | None = None,
) -> MetricSpec:
    """A compatibility row: kept in :class:`LegacyFigures` at ``read`` (default: its name in
    ``values``, or in ``counts`` for a counter); ``json``: where GPT-Trader's ``metrics.json``
    and cycle rows carry it, when they carry it as is."""
    lint = _OLD_UNITS if name.endswith(("bytes", "gigabytes")) else None
    if read is None:
        read = f"{'counts' if kind is MetricKind.COUNTER else 'values'}.{name}"
    return MetricSpec(
        name,
        kind,
        unit,
        text + _SUFFIX,
        labels,
        component=Component.EXPORTER,
        lint_exception=lint,
        read=read,
        json=json,
    )


_OLD_UNITS: Final = "the old exporter's name: promtool asks for bytes, old dashboards for MB/GB"


_SUFFIX: Final = " GPT-Trader exporter name, kept for old dashboards."
LEGACY_SPECS: Final[tuple[MetricSpec, ...]] = (
    _spec(
        "metrics_timestamp_seconds",
        _G,
        "s",
        "Time of the bot's last cycle row or metrics.json (epoch seconds).",
    ),
    _spec(
        "open_orders",
        _G,
        "{order}",
        "Open orders in the bot's last cycle row or metrics.json.",
        json="open_orders",
    ),
    _spec(
        "cpu_percent",
        _G,
        "{percent}",
        "The bot host's CPU percent, as the bot reported it.",
        json="system.cpu_percent",
    ),
    _spec(
        "memory_percent",
        _G,
        "{percent}",
        "The bot host's memory percent, as the bot reported it.",
        json="system.memory_percent",
    ),
    _spec(
        "disk_percent",
        _G,
        "{percent}",
        "The bot host's disk use percent, as the bot reported it.",
        json="system.disk_percent",
    ),
    _spec(
        "disk_used_gigabytes",
        _G,
        "{GB}",
        "The bot host's disk use in GB, as the bot reported it.",
        json="system.disk_used_gb",
    ),
    _spec(
        "network_sent_megabytes",
        _G,
        "{MB}",
        "MB sent by the bot host, as the bot reported it (a gauge: resets with the bot).",
        json="system.network_sent_mb",
    ),
    _spec(
        "network_received_megabytes",
        _G,
        "{MB}",
        "MB received by the bot host, as the bot reported it (a gauge: resets with the bot).",
        json="system.network_recv_mb",
    ),
    _spec(
        "fee_tier",
        _G,
        "1",
        "The account's fee tier as a label; always 1.",
        "tier",
        read="fee_tiers()",
    ),
    _spec(
        "account_limit_remaining",
        _G,
        "{USD}",
        "Remaining trading limit in USD from the account snapshot.",
    ),
    _spec(
        "order_preview_failures_total",
        _C,
        "{failure}",
        "Order preview failures (preview_reject events).",
    ),
    _spec(
        "symbol_exposure_usd",
        _G,
        "{USD}",
        "Signed exposure per symbol in USD.",
        "symbol",
        read="symbol_exposures()",
    ),
    _spec(
        "symbol_pnl_usd",
        _G,
        "{USD}",
        "Realized + unrealized PnL per symbol from its latest pnl_update.",
        "symbol",
        read="symbol_pnls()",
    ),
    _spec(
        "unfilled_orders_total",
        _C,
        "{alert}",
        "Unfilled-order alerts (unfilled_order_alert events).",
    ),
    _spec(
        "trades_executed_total",
        _C,
        "{trade}",
        "Executions: fills, and executed trades no fill describes.",
    ),
    _spec(
        "trades_blocked_total",
        _C,
        "{trade}",
        "Trades blocked by a gate (trade_gate_blocked events).",
    ),
)

#: The rows GPT-Trader's documents carry as they are (``open_orders``, ``system{...}``).
_AS_WRITTEN: Final = tuple(spec for spec in LEGACY_SPECS if spec.json is not None)
_LIMIT_KEYS: Final = ("remaining", "remaining_balance", "available", "max_order",
                      "available_trading_balance")  # fmt: skip


def limit_remaining(limits: object) -> float | None:
    """The remaining trading limit of an ``account_snapshot.limits`` block, looked up in the
    order GPT-Trader's exporter used; None when there is none.

    Example:
        >>> limit_remaining({"max_order": "50000"}), limit_remaining({})
        (50000.0, None)
    """
    if not isinstance(limits, dict):
        return None
    for key in _LIMIT_KEYS:
        if (value := as_float(limits.get(key))) is not None:
            return value
    trading = limits.get("trading_limits")
    if isinstance(trading, dict):
        for key in ("max_order", "remaining", "available"):
            if (value := as_float(trading.get(key))) is not None:
                return value
        balances = trading.get("remaining_balances")
        if isinstance(balances, list) and balances and isinstance(balances[0], dict):
            return as_float(balances[0].get("amount"))
    return None


@dataclass
class LegacyFigures:
    """What the compatibility names serve, kept up to date by the feed (thread-safe reads).

    Example:
        >>> figures = LegacyFigures()
        >>> figures.document({"open_orders": 2, "system": {"cpu_percent": 4.8}}, at=60.0)
        >>> figures.values["open_orders"], figures.values["cpu_percent"]
        (2.0, 4.8)
    """

    document_at: float = -math.inf
    values: dict[str, float] = field(default_factory=dict)
    fee_tier: str | None = None
    exposures: dict[str, float] = field(default_factory=dict)
    symbol_pnl: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, name: str, amount: int = 1) -> None:
        """Add to one of the counters (``trades_executed_total``...)."""
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + amount

    def document(self, document: dict[str, Any], *, at: float) -> None:
        """A cycle row or ``metrics.json`` as of ``at`` (an older one than the last is ignored)."""
        if at < self.document_at:
            return
        values: dict[str, float] = {"metrics_timestamp_seconds": at}
        for spec in _AS_WRITTEN:
            assert spec.json is not None  # noqa: S101 - _AS_WRITTEN's rows have one
            if (value := as_float(json_at(document, spec.json))) is not None:
                values[spec.name] = value
        account = document.get("account_snapshot")
        tier = None
        if isinstance(account, dict):
            schedule = account.get("fee_schedule")
            if isinstance(schedule, dict) and isinstance(schedule.get("tier"), str):
                tier = schedule["tier"]
            if (remaining := limit_remaining(account.get("limits"))) is not None:
                values["account_limit_remaining"] = remaining
        with self.lock:
            self.document_at = at
            self.values.update(values)
            if tier is not None:
                self.fee_tier = tier

    def fee_tiers(self) -> dict[str, float]:
        """``fee_tier{tier}``: 1 for the account's tier, once known."""
        with self.lock:
            return {} if self.fee_tier is None else {self.fee_tier: 1.0}

    def symbol_exposures(self) -> dict[str, float]:
        """``symbol_exposure_usd{symbol}``, by symbol in order."""
        with self.lock:
            return dict(sorted(self.exposures.items()))

    def symbol_pnls(self) -> dict[str, float]:
        """``symbol_pnl_usd{symbol}``, by symbol in order."""
        with self.lock:
            return dict(sorted(self.symbol_pnl.items()))
