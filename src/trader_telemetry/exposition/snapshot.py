"""The ``/metrics.json`` document (docs/events.md), built from recorded state."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..catalogue import MetricSpec
from ..clock import Clock, rfc3339
from ..config import TelemetryConfig
from ..row_values import Reading
from ..selfmonitor import SelfMonitor
from ..state import RecordedState
from ..version import package_version

__all__ = ["build_snapshot", "finite_json", "row_values"]


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


#: The document's key order (docs/events.md). A key a new catalogue row adds (its ``json``) comes
#: last in its section; a new section comes before ``health``.
_ORDER: dict[str, tuple[str, ...]] = {
    "account_snapshot": (
        "equity", "total_pnl", "realized_pnl", "unrealized_pnl", "funding_pnl", "timestamp",
        "age_seconds",
    ),
    "cycle_metrics": (
        "count", "ok", "errors", "errors_by_type", "last_duration_seconds",
        "last_cycle_age_seconds", "in_progress_seconds",
    ),
    "risk": (
        "daily_loss", "daily_loss_limit", "daily_loss_ratio", "circuit_breaker_triggered",
        "circuit_breaker_reason", "circuit_breaker_trips",
    ),
}  # fmt: skip


def _ordered(section: str, values: dict[str, Any]) -> dict[str, Any]:
    order = _ORDER.get(section, ())
    rank = {key: index for index, key in enumerate(order)}
    return dict(sorted(values.items(), key=lambda item: rank.get(item[0], len(order))))


def row_values(
    readings: Iterable[tuple[MetricSpec, Reading]], monitor: SelfMonitor
) -> dict[str, dict[str, Any]]:
    """section -> key -> value of each row that names its place in the document (``json``),
    read as the row says; a reading that fails is counted and reads None."""
    sections: dict[str, dict[str, Any]] = {}
    for spec, read in readings:
        assert spec.json is not None  # noqa: S101 - the caller passes rows with a place
        section, _, key = spec.json.rpartition(".")
        try:
            value = read()
        except Exception as exc:  # noqa: BLE001 - the document is answered whatever one row does
            monitor.fault(f"json_{spec.name}", exc)
            value = None
        sections.setdefault(section, {})[key] = value.copy() if isinstance(value, dict) else value
    return sections


def build_snapshot(
    state: RecordedState,
    config: TelemetryConfig,
    monitor: SelfMonitor,
    clock: Clock,
    readings: Iterable[tuple[MetricSpec, Reading]] = (),
) -> dict[str, Any]:
    """Everything a human or a file-reading tool needs, as one JSON-ready dict.

    The values a catalogue row names a place for (its ``json``: the account figures and age,
    cycle errors and ages, daily loss, the breaker, staleness, the library's own counts) come
    from ``readings``, the same readings ``/metrics`` uses. Written here are the figures that
    are no metric's value as read: the envelope, the cycle counts summed and split, the last
    duration in seconds (the metric is in ms), the loss ratio, the breaker's reason, the
    positions (three metrics joined by symbol, with prices) and the account's wall time.
    """
    now = clock.monotonic()
    account = state.account
    counts = state.cycle_counts()
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
    sections: dict[str, dict[str, Any]] = {
        "account_snapshot": {
            "timestamp": None if account.recorded_wall is None else rfc3339(account.recorded_wall),
        },
        "cycle_metrics": {
            "count": sum(counts.values()),
            "ok": counts["ok"],
            "errors": counts["error"],
            "last_duration_seconds": state.last_cycle_seconds,
        },
        "risk": {
            "daily_loss_ratio": _ratio(loss, limit),
            "circuit_breaker_reason": state.breaker_reason,
        },
        "market_data": {},
        "telemetry": {},
    }
    for section, values in row_values(readings, monitor).items():
        sections.setdefault(section, {}).update(values)
    document: dict[str, Any] = {
        "timestamp": rfc3339(clock.time()),
        "namespace": config.namespace,
        "profile": config.profile,
        "version": package_version(),
    }
    for section, values in sections.items():
        document[section] = _ordered(section, values)
        if section == "risk":
            document["positions"] = positions
    # Filled in by Telemetry.snapshot() from the (cached) health report.
    document["health"] = {"status": "unknown", "checks": {}}
    return document
