"""OTel's own cardinality limit, set from ``max_label_values`` so the two limits agree.

The OTel SDK folds attribute sets past a per-instrument limit (2,000 by default) into one series
with ``otel.metric.overflow=true``. Our label limiter already caps each label at
``max_label_values`` distinct values (plus ``__overflow__``); OTel's limit is set just above what
our caps allow for the widest instrument of the catalogue (two labels), so OTel never folds
before we do. Anything it still folds (a bot's own instruments on a shared provider) is counted
by the native reader.
"""

from __future__ import annotations

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)

# The SDK's synchronous Gauge class is not re-exported by opentelemetry.sdk.metrics, but the
# reader's cardinality_limits accept it as a key: without it a bot's own sync gauges would keep
# OTel's default limit of 2,000.
_SYNC_GAUGE: type | None
try:
    from opentelemetry.sdk.metrics._internal.instrument import Gauge as _SyncGauge

    _SYNC_GAUGE = _SyncGauge
except ImportError:  # pragma: no cover - a future SDK that moves it
    _SYNC_GAUGE = None

__all__ = ["OVERFLOW_ATTRIBUTE", "cardinality_limit", "cardinality_limits"]

#: The attribute OTel puts on the series it folds overflowing attribute sets into.
OVERFLOW_ATTRIBUTE = "otel.metric.overflow"


def cardinality_limit(max_label_values: int) -> int:
    """Attribute sets per instrument: every combination of two capped labels, each with its
    ``__overflow__`` value, plus OTel's own overflow series.

    Example:
        >>> cardinality_limit(200)
        40402
    """
    per_label = max_label_values + 1
    return per_label * per_label + 1


def cardinality_limits(max_label_values: int) -> dict[type, int]:
    """The limit for every instrument class, as ``MetricReader(cardinality_limits=)`` takes it."""
    limit = cardinality_limit(max_label_values)
    classes: list[type] = [Counter, UpDownCounter, Histogram]
    classes += [ObservableCounter, ObservableUpDownCounter, ObservableGauge]
    if _SYNC_GAUGE is not None:
        classes.append(_SYNC_GAUGE)
    return dict.fromkeys(classes, limit)
