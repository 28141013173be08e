"""Prometheus text format 0.0.4 and OpenMetrics 1.0, written straight from OTel's ``MetricsData``.

Label blocks are built once per series and cached by the identity of the series' attribute
dict, which the OTel SDK keeps for the life of the series; a render only formats numbers and
joins cached strings. Escaping follows the exposition formats: label values escape ``\\``,
``"`` and newline; HELP text escapes ``\\`` and newline (and ``"`` in OpenMetrics).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    Sum,
)

from ..instruments import DirectFamily
from .exemplars import ExemplarStore
from .otel_limits import OVERFLOW_ATTRIBUTE

__all__ = ["Renderer", "escape_help", "escape_label_value", "format_value", "sanitize_name"]

_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")
# OTel unit -> Prometheus name suffix, for instruments that are not ours (ours are named exactly).
_UNIT_SUFFIX = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "%": "percent"}


def sanitize_name(name: str) -> str:
    """A valid Prometheus metric name.

    Example:
        >>> sanitize_name("http.server.duration")
        'http_server_duration'
    """
    name = _INVALID_NAME.sub("_", name)
    return "_" + name if name[:1].isdigit() else name


def _sanitize_label(name: str) -> str:
    name = _INVALID_LABEL.sub("_", name)
    return "_" + name if name[:1].isdigit() else name


def escape_label_value(value: str) -> str:
    r"""Escape a label value.

    Example:
        >>> escape_label_value('a"b\\c\nd')
        'a\\"b\\\\c\\nd'
    """
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def escape_help(text: str, *, openmetrics: bool) -> str:
    """Escape HELP text for the chosen format."""
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text.replace('"', '\\"') if openmetrics else text


def format_value(value: float) -> str:
    """A sample value as both formats accept it.

    Example:
        >>> format_value(3), format_value(0.25), format_value(float("inf"))
        ('3', '0.25', '+Inf')
    """
    if type(value) is int:
        return str(value)
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _format_bound(bound: float) -> str:
    # OpenMetrics wants canonical floats for `le` ("1.0", not "1"); text accepts them too.
    return repr(float(bound))


def _label_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Family:
    __slots__ = ("declared", "help", "kind", "lines", "name", "unit")

    def __init__(
        self, kind: str, name: str, help: str, unit: str, *, declared: bool = False
    ) -> None:
        self.kind = kind  # counter | gauge | histogram
        self.name = name  # exposition name (counters with _total)
        self.help = help
        self.unit = unit
        self.lines: list[str] = []
        #: A catalogue family: HELP and TYPE go out even before its first sample.
        self.declared = declared


class Renderer:
    """Turns one collection into exposition text; keeps the per-series label cache.

    Not thread-safe: the reader renders one collection at a time per renderer.
    """

    def __init__(
        self,
        *,
        scope_labels: bool = False,
        target_info: bool = False,
        on_overflow: Callable[[str], None] | None = None,
        exemplars: ExemplarStore | None = None,
    ) -> None:
        self._scope_labels = scope_labels
        #: Shared by the text and OpenMetrics renderers: every collection feeds it.
        self._exemplars = exemplars
        self._target_info = target_info
        self._on_overflow = on_overflow
        # id(attributes) -> (attributes, label block). The SDK keeps one attributes dict per
        # series for the series' life, so its identity is the series'.
        self._labels: dict[int, tuple[Mapping[str, Any], str]] = {}
        # (family name, label values) -> label block, for the direct (scrape-time) families.
        self._direct_labels: dict[tuple[str, tuple[str, ...]], str] = {}

    def render(
        self,
        data: MetricsData | None,
        *,
        openmetrics: bool,
        direct: Sequence[DirectFamily] = (),
        direct_scope: tuple[str, str] = ("", ""),
    ) -> str:
        """The exposition of ``data`` and of the ``direct`` families (without ``# EOF``)."""
        families: dict[str, _Family] = {}
        fresh: dict[int, tuple[Mapping[str, Any], str]] = {}
        out: list[str] = []
        fresh_direct: dict[tuple[str, tuple[str, ...]], str] = {}
        if direct:
            extra = self._scope_block(*direct_scope, "") if self._scope_labels else ""
            for direct_family in direct:
                self._add_direct(direct_family, families, fresh_direct, extra)
        self._direct_labels = fresh_direct
        if data is not None:
            if self._target_info:
                self._render_target_info(data, out, openmetrics=openmetrics)
            for resource_metrics in data.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    scope = scope_metrics.scope
                    extra = ""
                    if self._scope_labels:
                        extra = self._scope_block(
                            scope.name or "", scope.version or "", scope.schema_url or ""
                        )
                    for metric in scope_metrics.metrics:
                        self._add_metric(metric, families, fresh, extra, openmetrics=openmetrics)
        self._labels = fresh  # series that disappeared drop out of the cache here
        for family in families.values():
            self._write_family(family, out, openmetrics=openmetrics)
        return "".join(out)

    @staticmethod
    def _scope_block(name: str, version: str, schema_url: str) -> str:
        return (
            f'otel_scope_name="{escape_label_value(name)}",'
            f'otel_scope_schema_url="{escape_label_value(schema_url)}",'
            f'otel_scope_version="{escape_label_value(version)}"'
        )

    def _add_direct(
        self,
        family: DirectFamily,
        families: dict[str, _Family],
        fresh: dict[tuple[str, tuple[str, ...]], str],
        extra: str,
    ) -> None:
        name = family.name
        target = families.get(name)
        if target is None:
            target = families[name] = _Family(
                str(family.kind), name, family.help, family.unit, declared=True
            )
        lines = target.lines
        cache = self._direct_labels
        label_names = family.labels
        for key, value in family.samples:
            cache_key = (name, key)
            labels = cache.get(cache_key)
            if labels is None:
                parts = sorted(
                    f'{label}="{escape_label_value(str(v))}"'
                    for label, v in zip(label_names, key, strict=True)
                )
                if extra:
                    parts.append(extra)
                labels = "{" + ",".join(parts) + "}" if parts else ""
            fresh[cache_key] = labels
            lines.append(f"{name}{labels} {format_value(value)}\n")

    # ---------------------------------------------------------------- families
    def _add_metric(
        self,
        metric: Metric,
        families: dict[str, _Family],
        fresh: dict[int, tuple[Mapping[str, Any], str]],
        extra: str,
        *,
        openmetrics: bool,
    ) -> None:
        data = metric.data
        if isinstance(data, Sum):
            monotonic = data.is_monotonic
            cumulative = data.aggregation_temporality == AggregationTemporality.CUMULATIVE
            kind = "counter" if monotonic and cumulative else "gauge"
        elif isinstance(data, Gauge):
            kind = "gauge"
        elif isinstance(data, Histogram):
            kind = "histogram"
        else:  # exponential histograms have no Prometheus text form: skip them
            return
        name = self._exposition_name(metric.name, metric.unit or "", kind)
        family = families.get(name)
        if family is None:
            family = families[name] = _Family(
                kind, name, metric.description or "", metric.unit or ""
            )
        lines = family.lines
        if isinstance(data, Histogram):
            for point in data.data_points:
                labels = self._label_block(name, point.attributes, fresh, extra)
                self._histogram_lines(name, labels, point, lines, openmetrics=openmetrics)
        else:
            for number in data.data_points:
                labels = self._label_block(name, number.attributes, fresh, extra)
                lines.append(f"{name}{labels} {format_value(number.value)}\n")

    @staticmethod
    def _exposition_name(name: str, unit: str, kind: str) -> str:
        name = sanitize_name(name)
        suffix = _UNIT_SUFFIX.get(unit)
        if suffix and not name.endswith("_" + suffix) and not name.endswith(f"_{suffix}_total"):
            name = f"{name}_{suffix}"
        if kind == "counter" and not name.endswith("_total"):
            name += "_total"
        return name

    def _label_block(
        self,
        name: str,
        attributes: Mapping[str, Any] | None,
        fresh: dict[int, tuple[Mapping[str, Any], str]],
        extra: str,
    ) -> str:
        if not attributes:
            return "{" + extra + "}" if extra else ""
        key = id(attributes)
        cached = self._labels.get(key)
        if cached is None or cached[0] is not attributes:
            parts = [
                f'{_sanitize_label(k)}="{escape_label_value(_label_value(v))}"'
                for k, v in sorted(attributes.items())
            ]
            if extra:
                parts.append(extra)
            cached = (attributes, "{" + ",".join(parts) + "}")
            # A new label block only: the callback hears of each overflow series once.
            if OVERFLOW_ATTRIBUTE in attributes and self._on_overflow is not None:
                self._on_overflow(name)
        fresh[key] = cached
        return cached[1]

    def _histogram_lines(
        self,
        name: str,
        labels: str,
        point: HistogramDataPoint,
        lines: list[str],
        *,
        openmetrics: bool,
    ) -> None:
        # The label block is "" or "{...}"; bucket lines need `le` inside it.
        inner = labels[1:-1] + "," if labels else ""
        store = self._exemplars
        if store is None:
            exemplars = _exemplars_by_bucket(point) if openmetrics and point.exemplars else {}
        else:
            if point.exemplars:
                store.update(name, labels, point)  # text scrapes too: they must not lose them
            latest = store.latest(name, labels) if openmetrics else {}
            exemplars = {index: _exemplar_suffix(e) for index, e in latest.items()}
        bounds: Sequence[float] = point.explicit_bounds
        cumulative = 0
        for index, count in enumerate(point.bucket_counts):
            cumulative += count
            le = _format_bound(bounds[index]) if index < len(bounds) else "+Inf"
            line = f'{name}_bucket{{{inner}le="{le}"}} {cumulative}'
            exemplar = exemplars.get(index)
            if exemplar is not None:
                line += exemplar
            lines.append(line + "\n")
        lines.append(f"{name}_count{labels} {point.count}\n")
        lines.append(f"{name}_sum{labels} {format_value(point.sum)}\n")

    @staticmethod
    def _write_family(family: _Family, out: list[str], *, openmetrics: bool) -> None:
        if not family.lines and not family.declared:
            return
        help_text = escape_help(family.help, openmetrics=openmetrics)
        if openmetrics:
            base = family.name[:-6] if family.kind == "counter" else family.name
            out.append(f"# HELP {base} {help_text}\n# TYPE {base} {family.kind}\n")
            if family.unit == "s" and base.endswith("_seconds"):
                out.append(f"# UNIT {base} seconds\n")
        else:
            out.append(f"# HELP {family.name} {help_text}\n# TYPE {family.name} {family.kind}\n")
        out.extend(family.lines)

    def _render_target_info(self, data: MetricsData, out: list[str], *, openmetrics: bool) -> None:
        attributes: dict[str, Any] = {}
        for resource_metrics in data.resource_metrics:
            attributes.update(resource_metrics.resource.attributes)
        labels = ",".join(
            f'{_sanitize_label(k)}="{escape_label_value(_label_value(v))}"'
            for k, v in sorted(attributes.items())
        )
        kind = "info" if openmetrics else "gauge"
        family = "target" if openmetrics else "target_info"
        out.append(f"# HELP {family} Target metadata\n# TYPE {family} {kind}\n")
        out.append(f"target_info{{{labels}}} 1\n")


def _exemplars_by_bucket(point: HistogramDataPoint) -> dict[int, str]:
    """The newest exemplar with a trace per bucket, as OpenMetrics exemplar suffixes."""
    bounds = point.explicit_bounds
    chosen: dict[int, Any] = {}
    for exemplar in point.exemplars:
        if exemplar.trace_id is None or exemplar.span_id is None:
            continue
        index = _bucket_index(bounds, exemplar.value)
        current = chosen.get(index)
        if current is None or exemplar.time_unix_nano > current.time_unix_nano:
            chosen[index] = exemplar
    return {index: _exemplar_suffix(e) for index, e in chosen.items()}


def _exemplar_suffix(e: Any) -> str:
    """`` # {trace_id=..,span_id=..} value timestamp``, after a bucket line."""
    return (
        f' # {{trace_id="{e.trace_id:032x}",span_id="{e.span_id:016x}"}} '
        f"{format_value(e.value)} {e.time_unix_nano / 1e9:.3f}"
    )


def _bucket_index(bounds: Sequence[float], value: float) -> int:
    # The first bucket whose upper bound is >= value (le is inclusive); len(bounds) is +Inf.
    return bisect.bisect_left(bounds, value)
