"""The ``/metrics.json`` document (docs/events.md), built from recorded state."""

from __future__ import annotations

import math
from typing import Any

from ..clock import Clock, rfc3339
from ..config import TelemetryConfig
from ..selfmonitor import SelfMonitor
from ..state import RecordedState
from ..version import package_version

__all__ = ["build_snapshot", "finite_json"]


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def finite_json(value: Any) -> tuple[Any, int]:
    """``value`` with every NaN or infinity (nested in dicts, lists, tuples) replaced by None,
    and how many were replaced: what strict JSON can carry.

    Example:
        >>> finite_json({"total": float("inf"), "parts": [1.0, float("nan")]})
        ({'total': None, 'parts': [1.0, None]}, 2)
    """
    if isinstance(value, float):
        return (value, 0) if math.isfinite(value) else (None, 1)
    if isinstance(value, dict):
        replaced = 0
        clean: dict[Any, Any] = {}
        for key, item in value.items():
            clean[key], count = finite_json(item)
            replaced += count
        return clean, replaced
    if isinstance(value, list | tuple):
        replaced = 0
        items = []
        for item in value:
            clean_item, count = finite_json(item)
            items.append(clean_item)
            replaced += count
        return items, replaced
    return value, 0


def _ratio(loss: float | None, limit: float | None) -> float | None:
    """loss / limit, or None without both or when it overflows (a tiny limit)."""
    if loss is None or not limit:
        return None
    ratio = loss / limit
    return ratio if math.isfinite(ratio) else None


def build_snapshot(
    state: RecordedState, config: TelemetryConfig, monitor: SelfMonitor, clock: Clock
) -> dict[str, Any]:
    """Everything a human or a file-reading tool needs, as one JSON-ready dict."""
    now = clock.monotonic()
    account = state.account
    counts = state.cycle_counts()
    running = state.oldest_running_start()
    since = state.last_cycle_end if state.last_cycle_end is not None else state.started_monotonic
    limit, loss = state.daily_loss_limit, state.daily_loss
    exposure = state.exposure.copy()
    staleness = state.staleness(now)
    # The tick path stores prices unchecked (it must stay a plain store): check them here.
    prices = {s: p for s, p in state.mark_prices.copy().items() if _finite(p)}
    positions = {
        symbol: {
            "exposure_usd": exposure.get(symbol),
            "mark_price": prices.get(symbol),
            "mark_age_seconds": staleness.get(symbol),
        }
        for symbol in sorted(set(exposure) | set(staleness))
    }
    return {
        "timestamp": rfc3339(clock.time()),
        "namespace": config.namespace,
        "profile": config.profile,
        "version": package_version(),
        "account_snapshot": {
            "equity": account.equity,
            "total_pnl": account.total,
            "realized_pnl": account.realized_pnl,
            "unrealized_pnl": account.unrealized_pnl,
            "funding_pnl": account.funding_pnl,
            "timestamp": None if account.recorded_wall is None else rfc3339(account.recorded_wall),
            "age_seconds": None
            if account.recorded_monotonic is None
            else max(0.0, now - account.recorded_monotonic),
        },
        "cycle_metrics": {
            "count": sum(counts.values()),
            "ok": counts["ok"],
            "errors": counts["error"],
            "errors_by_type": dict(state.cycle_errors),
            "last_duration_seconds": state.last_cycle_seconds,
            "last_cycle_age_seconds": max(0.0, now - since),
            "in_progress_seconds": 0.0 if running is None else max(0.0, now - running),
        },
        "risk": {
            "daily_loss": loss,
            "daily_loss_limit": limit,
            "daily_loss_ratio": _ratio(loss, limit),
            "circuit_breaker_triggered": state.breaker_triggered,
            "circuit_breaker_reason": state.breaker_reason,
            "circuit_breaker_trips": dict(state.breaker_trips),
        },
        "positions": positions,
        "market_data": {"staleness_seconds": staleness},
        "telemetry": {"errors": dict(monitor.errors), "rejected_values": dict(monitor.rejected)},
        # Filled in by Telemetry.snapshot() from the (cached) health report.
        "health": {"status": "unknown", "checks": {}},
    }
