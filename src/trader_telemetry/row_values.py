"""A catalogue row's value, read where the row says it is kept.

A row's ``read`` is a dotted path from the producing part's state (``"account.equity"``,
``"cycle_counts()"``, ``"gauges.margin_ratio"``); ``computed`` names a value worked out when
scraped, which the producing part supplies. :func:`reading` turns either into a function
returning the value as kept (None, a number, a bool, a dict); :func:`samples` turns that value
into the series of the row's shape, which its labels give. Paths are checked when a reading is
built (at the start of a ``Telemetry``), so a row that names nothing real is a clear error then,
not a missing series later.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from .catalogue import Computed, MetricKind, MetricSpec
from .errors import ConfigurationError

__all__ = [
    "Producer",
    "Reading",
    "Sample",
    "json_at",
    "producer",
    "producers",
    "reading",
    "samples",
]

#: One series: its label values (in the row's label order) and its value.
Sample = tuple[tuple[str, ...], float]
Producer = Callable[[], list[Sample]]
#: Returns a row's value as kept: None, a number or bool, or a dict by label value(s). A
#: computed value's dict is its own (the caller may keep it); a read one may be the state's.
Reading = Callable[[], Any]


def _row_error(spec: MetricSpec, problem: str) -> ConfigurationError:
    return ConfigurationError(f"catalogue row {spec.name!r}: {problem}")


def reading(
    spec: MetricSpec, root: object, computed: Callable[[Computed], Reading] | None = None
) -> Reading:
    """The function returning ``spec``'s value now: its ``computed`` value (from ``computed``),
    else what its ``read`` path reaches from ``root``.

    Raises:
        ConfigurationError: the row has neither, or its path does not exist on ``root``.

    Example:
        >>> from trader_telemetry.catalogue import metric
        >>> from trader_telemetry.state import RecordedState
        >>> state = RecordedState(started_monotonic=0.0)
        >>> state.daily_loss = 120.0
        >>> reading(metric("risk_daily_loss"), state)()
        120.0
    """
    if spec.computed is not None:
        if computed is None:
            raise _row_error(spec, f"computed={spec.computed!s}, and nothing here computes it")
        return computed(spec.computed)
    if spec.read is None:
        raise _row_error(
            spec, "no read= (where its value is kept) and no computed= (how it is worked out)"
        )
    return _path(spec, spec.read, root)


def _path(spec: MetricSpec, path: str, root: object) -> Reading:
    """Compile ``path`` against ``root``: attributes, then optionally one call ``()`` or one key
    of a dict as the last step. The path is walked once now to check it exists."""
    *parents, last = path.split(".")
    target: object = root
    for name in parents:
        if not name.isidentifier() or not hasattr(target, name):
            raise _row_error(spec, f"read={path!r}: {type(target).__name__} has no {name!r}")
        target = getattr(target, name)
    prefix = ".".join(parents)
    if isinstance(target, Mapping):  # "gauges.margin_ratio": a key, maybe not recorded yet
        if not parents:
            raise _row_error(spec, f"read={path!r}: the path starts with a key, not an attribute")
        get_dict = operator.attrgetter(prefix)
        return lambda: get_dict(root).get(last)
    call = last.endswith("()")
    name = last.removesuffix("()")
    if not name.isidentifier() or not hasattr(target, name):
        raise _row_error(spec, f"read={path!r}: {type(target).__name__} has no {name!r}")
    if call and not callable(getattr(target, name)):
        raise _row_error(spec, f"read={path!r}: {name!r} is not a method")
    get = operator.attrgetter(f"{prefix}.{name}" if prefix else name)
    if call:

        def call_it() -> Any:
            return get(root)()  # looked up each time: a part of the path may be replaced

        return call_it
    return partial(get, root)  # no Python frame of its own: scrapes call this for every row


def samples(spec: MetricSpec, value: Any) -> list[Sample]:
    """``value`` (as a :func:`reading` returns it) as the series of ``spec``'s shape: one series
    for a row without labels (none for a gauge whose value is None, 0 for such a counter; a bool
    reads 0 or 1), else one per key of the dict.

    Example:
        >>> from trader_telemetry.catalogue import metric
        >>> samples(metric("circuit_breaker_triggered"), True)
        [((), 1)]
        >>> samples(metric("stale_marks_total"), {"BTC-PERP": 2})
        [(('BTC-PERP',), 2)]
    """
    return producer(spec, lambda: value)()


def producer(spec: MetricSpec, read: Reading) -> Producer:
    """The function producing ``spec``'s series now from ``read``: :func:`samples` with the
    shape chosen once, here, rather than at every scrape."""
    if not spec.labels:
        missing: list[Sample] = [((), 0)] if spec.kind is MetricKind.COUNTER else []

        def one() -> list[Sample]:
            value = read()
            if value is None:
                return list(missing)
            return [((), int(value) if value.__class__ is bool else value)]

        return one
    if spec.computed is not None:  # a computed value is a dict of its own: no copy needed
        if len(spec.labels) == 1:
            return lambda: [((key,), number) for key, number in read().items()]
        return lambda: list(read().items())
    if len(spec.labels) == 1:
        return lambda: [((key,), number) for key, number in read().copy().items()]
    return lambda: list(read().copy().items())


def producers(specs: Iterable[MetricSpec], root: object) -> dict[str, Producer]:
    """Row name -> producer, for rows read from ``root`` (a part outside the core, such as the
    file exporter, whose rows have ``read`` paths into it)."""
    return {spec.name: producer(spec, reading(spec, root)) for spec in specs}


def json_at(document: Mapping[str, Any], path: str) -> Any:
    """The value at a row's ``json`` path in a ``metrics.json`` document, or None.

    Example:
        >>> json_at({"risk": {"daily_loss": 120.0}}, "risk.daily_loss")
        120.0
    """
    value: Any = document
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
