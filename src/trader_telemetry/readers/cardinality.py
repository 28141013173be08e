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
    classes = (
        Counter,
        UpDownCounter,
        Histogram,
        ObservableCounter,
        ObservableUpDownCounter,
        ObservableGauge,
    )
    return dict.fromkeys(classes, limit)
