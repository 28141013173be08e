"""Scrape cost: time, bytes and memory to render many series, three implementations side by side.

Run from the repository root::

    python benchmarks/scrape.py              # full run: 100, 1,000 and 10,000 series, ~30 s
    python benchmarks/scrape.py --quick      # smoke run: 100 and 1,000 series, about a second
    python benchmarks/scrape.py --json out.json

The workload is the same for every implementation. At size N there are N gauge series
``bench_exposure_usd{symbol="SYM00001-PERP"}`` ... and one histogram series per ten gauge series
(N/10 series of ``bench_order_latency_seconds{symbol=...}``, buckets 0.005 ... 10 s, three
observations each). The implementations:

* ``prometheus_client``: the baseline written by hand. A ``Gauge`` and a ``Histogram`` with the
  label ``symbol`` on a fresh ``CollectorRegistry`` (never the global one), each gauge child
  ``.set()`` once, rendered with ``prometheus_client.generate_latest(registry)``.
* ``native``: ours, :class:`trader_telemetry.readers.native.NativePrometheusReader`. The gauge is
  an OTel observable gauge whose scrape-time callback returns N ``Observation`` objects from a
  dict (the way the library's own callbacks work); the histogram is an OTel ``Histogram`` with
  the buckets as ``explicit_bucket_boundaries_advisory``. One render is ``reader.render().body``.
* ``upstream OTel``: :class:`trader_telemetry.readers.upstream.OtelPrometheusReader`, the upstream
  ``opentelemetry-exporter-prometheus`` reader on its own registry, with the same instruments.

Three informative variants are timed as well and clearly labelled: ``native`` with a synchronous
OTel ``Gauge`` (``meter.create_gauge``, set once per symbol) instead of the observable gauge;
``prometheus_client`` with its ``_created`` series switched off for the render (by default it
writes one ``_created`` line per histogram series, which the OTel readers do not); and the
library as a bot uses it (``Telemetry.record_exposure`` per symbol, the catalogue's
``exposure_usd`` with namespace ``bench``, rendered by the default reader, which reads the
catalogue's scrape-time metrics without OTel's per-series aggregation; its body also carries the
core's other families and ``process_*``). The target is judged on the ``native`` row, the
reader on plain OTel instruments.

Both OTel readers get ``max_label_values=20000``, so OTel's cardinality limit never folds a
series; every body is checked to hold exactly N gauge and N/10 histogram series.

Time: one render is one full scrape (collect + render to bytes). Each implementation renders
once to warm up (not counted), then the repeats go round-robin across the implementations of a
size; before every repeat a few gauge values change and a few histogram observations are added,
identically for every implementation, so no render can be a cached one. The table shows the best
(minimum) repeat in milliseconds, the body's size in bytes and the ratio of the time against
prometheus_client at the same size. As with :mod:`timeit`, the garbage collector is off while a
render is timed.

Memory: for each implementation in turn, after a warm-up of all three (so imports and one-off
caches are not counted) and a garbage collection, :mod:`tracemalloc` starts, the 1,000-series
set-up is built from a list of symbol strings made beforehand (shared, not counted), one render is
done and its body dropped, the garbage is collected, and the traced memory still allocated is read:
the bytes the set-up retains, in KiB per 1,000 series (1,000 gauge + 100 histogram series). For
the OTel rows this includes the meter provider, the dict the gauge callback reads and the reader's
caches. The peak during build and render is shown too.

This is a measurement, not a gate: the verdict prints PASS or MISS and the exit status is 0.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import prometheus_client
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.view import View

import trader_telemetry as tt
from trader_telemetry.readers.native import NativePrometheusReader
from trader_telemetry.readers.upstream import OtelPrometheusReader
from versions import versions

GAUGE = "bench_exposure_usd"
HISTOGRAM = "bench_order_latency_seconds"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LATENCIES = (0.0031, 0.042, 0.73, 0.012, 1.7)
OBSERVATIONS_PER_HISTOGRAM = 3
HISTOGRAM_EVERY = 10  # one histogram series per ten gauge series
MAX_LABEL_VALUES = 20_000  # >= the largest size, so OTel's cardinality limit never folds
CHANGES_PER_REPEAT = 5  # gauge values changed and histogram observations added before a repeat
MEMORY_SIZE = 1_000
TARGET_SIZE = 10_000
TARGET = 0.75  # native vs prometheus_client at TARGET_SIZE

BASELINE = "prometheus_client"
NATIVE = "native"
UPSTREAM = "upstream OTel"
NATIVE_SYNC = "native, sync OTel Gauge (variant)"
LIBRARY = "trader_telemetry, record_exposure (variant)"
PROM_NO_CREATED = "prometheus_client, _created off (variant)"
MAIN = (BASELINE, NATIVE, UPSTREAM)


@dataclass(frozen=True, slots=True)
class Settings:
    """Which sizes are rendered and how many timed repeats each gets."""

    repeats: dict[int, int]

    @property
    def sizes(self) -> list[int]:
        return sorted(self.repeats)


FULL = Settings(repeats={100: 200, 1_000: 60, 10_000: 25})
QUICK = Settings(repeats={100: 5, 1_000: 3})


# ---------------------------------------------------------------------------------- workload
def make_symbols(size: int) -> list[str]:
    """The symbol label values for ``size`` gauge series."""
    return [f"SYM{i:05d}-PERP" for i in range(1, size + 1)]


def exposure(index: int) -> float:
    """A deterministic, varied gauge value for the series at ``index``."""
    return float((index * 7919) % 20_001 - 10_000) * 0.5


def histogram_symbols(symbols: Sequence[str]) -> Sequence[str]:
    return symbols[::HISTOGRAM_EVERY]


def initial_observations(position: int) -> list[float]:
    """The observations recorded at set-up into the histogram series at ``position``."""
    return [LATENCIES[(position + k) % len(LATENCIES)] for k in range(OBSERVATIONS_PER_HISTOGRAM)]


@dataclass(frozen=True, slots=True)
class Change:
    """What changes before one repeat: new gauge values and extra histogram observations."""

    gauges: list[tuple[str, float]]
    observations: list[tuple[str, float]]


def change_for(repeat: int, symbols: Sequence[str]) -> Change:
    """The same few changes for every implementation before repeat number ``repeat``."""
    hist = histogram_symbols(symbols)
    gauges = []
    observations = []
    for k in range(CHANGES_PER_REPEAT):
        step = repeat * CHANGES_PER_REPEAT + k
        index = (step * 7) % len(symbols)
        gauges.append((symbols[index], exposure(index) + repeat + 1))
        observations.append((hist[step % len(hist)], LATENCIES[step % len(LATENCIES)]))
    return Change(gauges, observations)


# ---------------------------------------------------------------------------------- subjects
@dataclass(slots=True)
class Subject:
    """One implementation set up at one size.

    Attributes:
        render: One full scrape (collect and render), returning the body.
        apply: Applies a :class:`Change` (outside the timed render).
    """

    render: Callable[[], bytes]
    apply: Callable[[Change], None]


Builder = Callable[[Sequence[str], ExitStack], Subject]


def build_prometheus_client(symbols: Sequence[str], stack: ExitStack) -> Subject:
    """The hand-written baseline on a registry of its own."""
    registry = prometheus_client.CollectorRegistry()  # never the global REGISTRY
    gauge = prometheus_client.Gauge(
        GAUGE, "Exposure by symbol.", ["symbol"], unit="", registry=registry
    )
    histogram = prometheus_client.Histogram(
        HISTOGRAM, "Order latency by symbol.", ["symbol"], registry=registry, buckets=BUCKETS
    )
    for index, symbol in enumerate(symbols):
        gauge.labels(symbol).set(exposure(index))
    for position, symbol in enumerate(histogram_symbols(symbols)):
        child = histogram.labels(symbol)
        for value in initial_observations(position):
            child.observe(value)

    def apply(change: Change) -> None:
        for symbol, value in change.gauges:
            gauge.labels(symbol).set(value)
        for symbol, value in change.observations:
            histogram.labels(symbol).observe(value)

    return Subject(lambda: prometheus_client.generate_latest(registry), apply)


def build_prometheus_client_no_created(symbols: Sequence[str], stack: ExitStack) -> Subject:
    """The baseline rendered with prometheus_client's ``_created`` series switched off."""
    subject = build_prometheus_client(symbols, stack)
    inner = subject.render

    def render() -> bytes:
        # A process-wide switch, read at collect time: only the renders of this row see it off.
        # (prometheus_client leaves both switches untyped.)
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
        try:
            return inner()
        finally:
            prometheus_client.enable_created_metrics()  # type: ignore[no-untyped-call]

    return Subject(render, subject.apply)


def _otel_instruments(
    provider: MeterProvider, symbols: Sequence[str], *, sync_gauge: bool
) -> Callable[[Change], None]:
    """The gauge and histogram on ``provider``; returns the function that applies a change."""
    meter = provider.get_meter("scrape_benchmark")
    histogram = meter.create_histogram(
        HISTOGRAM,
        unit="s",
        description="Order latency by symbol.",
        explicit_bucket_boundaries_advisory=list(BUCKETS),
    )
    for position, symbol in enumerate(histogram_symbols(symbols)):
        attributes = {"symbol": symbol}
        for value in initial_observations(position):
            histogram.record(value, attributes)

    if sync_gauge:
        gauge = meter.create_gauge(GAUGE, unit="{USD}", description="Exposure by symbol.")
        for index, symbol in enumerate(symbols):
            gauge.set(exposure(index), {"symbol": symbol})

        def apply_sync(change: Change) -> None:
            for symbol, value in change.gauges:
                gauge.set(value, {"symbol": symbol})
            for symbol, value in change.observations:
                histogram.record(value, {"symbol": symbol})

        return apply_sync

    values = {symbol: exposure(index) for index, symbol in enumerate(symbols)}

    def observe(options: CallbackOptions) -> Iterable[Observation]:
        # As the library's own callbacks do it (instruments.py): a copy, one Observation each.
        return [Observation(v, {"symbol": k}) for k, v in values.copy().items()]

    # "{USD}" is an annotation: neither reader adds a unit suffix to the name.
    meter.create_observable_gauge(GAUGE, [observe], unit="{USD}", description="Exposure by symbol.")

    def apply(change: Change) -> None:
        values.update(change.gauges)
        for symbol, value in change.observations:
            histogram.record(value, {"symbol": symbol})

    return apply


def build_native(symbols: Sequence[str], stack: ExitStack) -> Subject:
    """Ours: the native reader, observable gauge."""
    reader = NativePrometheusReader(process_metrics=False, max_label_values=MAX_LABEL_VALUES)
    provider = MeterProvider(metric_readers=[reader])
    stack.callback(provider.shutdown)
    apply = _otel_instruments(provider, symbols, sync_gauge=False)
    return Subject(lambda: reader.render().body, apply)


def build_native_sync_gauge(symbols: Sequence[str], stack: ExitStack) -> Subject:
    """Ours with a synchronous OTel ``Gauge``.

    The reader's ``max_label_values`` sets OTel's cardinality limit for the instrument classes
    the library uses, which do not include the SDK's synchronous gauge: a view lifts its limit
    (2,000 by default) so that no series is folded here.
    """
    reader = NativePrometheusReader(process_metrics=False, max_label_values=MAX_LABEL_VALUES)
    view = View(instrument_name=GAUGE, aggregation_cardinality_limit=2 * MAX_LABEL_VALUES)
    provider = MeterProvider(metric_readers=[reader], views=[view])
    stack.callback(provider.shutdown)
    apply = _otel_instruments(provider, symbols, sync_gauge=True)
    return Subject(lambda: reader.render().body, apply)


def build_upstream(symbols: Sequence[str], stack: ExitStack) -> Subject:
    """The upstream opentelemetry-exporter-prometheus reader, observable gauge."""
    reader = OtelPrometheusReader(process_metrics=False, max_label_values=MAX_LABEL_VALUES)
    stack.callback(reader.shutdown)  # after the provider's (callbacks run in reverse order)
    provider = MeterProvider(metric_readers=[reader.metric_reader])
    stack.callback(provider.shutdown)
    apply = _otel_instruments(provider, symbols, sync_gauge=False)
    return Subject(lambda: reader.render().body, apply)


def build_library(symbols: Sequence[str], stack: ExitStack) -> Subject:
    """The library as a bot uses it: ``Telemetry.record_exposure`` per symbol (the catalogue's
    ``exposure_usd``, namespace ``bench``), the histogram on the Telemetry's provider, and the
    default (native) reader, which reads the catalogue's scrape-time metrics without OTel's
    per-series aggregation. The body also carries the core's other families and ``process_*``.
    """
    telemetry = tt.Telemetry(namespace="bench", serve=False, max_label_values=MAX_LABEL_VALUES)
    stack.callback(telemetry.shutdown)
    for index, symbol in enumerate(symbols):
        telemetry.record_exposure(symbol, exposure(index))
    meter = telemetry.meter_provider.get_meter("scrape_benchmark")
    histogram = meter.create_histogram(
        HISTOGRAM,
        unit="s",
        description="Order latency by symbol.",
        explicit_bucket_boundaries_advisory=list(BUCKETS),
    )
    for position, symbol in enumerate(histogram_symbols(symbols)):
        for value in initial_observations(position):
            histogram.record(value, {"symbol": symbol})

    def apply(change: Change) -> None:
        for symbol, value in change.gauges:
            telemetry.record_exposure(symbol, value)
        for symbol, value in change.observations:
            histogram.record(value, {"symbol": symbol})

    return Subject(lambda: telemetry.render_metrics().body, apply)


BUILDERS: dict[str, Builder] = {
    BASELINE: build_prometheus_client,
    NATIVE: build_native,
    UPSTREAM: build_upstream,
    NATIVE_SYNC: build_native_sync_gauge,
    PROM_NO_CREATED: build_prometheus_client_no_created,
    LIBRARY: build_library,
}


# ---------------------------------------------------------------------------------- checks
def count_series(body: bytes) -> tuple[int, int]:
    """Gauge series and histogram series (``_count`` lines) in a text-format body."""
    gauges = histograms = 0
    gauge_prefix = f"{GAUGE}{{".encode()
    count_prefix = f"{HISTOGRAM}_count{{".encode()
    for line in body.splitlines():
        if line.startswith(gauge_prefix):
            gauges += 1
        elif line.startswith(count_prefix):
            histograms += 1
    return gauges, histograms


def check_body(name: str, size: int, body: bytes) -> str | None:
    """A warning when the body does not hold exactly the series of the workload."""
    expected = (size, len(range(0, size, HISTOGRAM_EVERY)))
    found = count_series(body)
    if found == expected:
        return None
    return (
        f"WARNING: {name} at {size} series rendered {found[0]} gauge and {found[1]} histogram "
        f"series, expected {expected[0]} and {expected[1]} (folded by a cardinality limit?)"
    )


# ---------------------------------------------------------------------------------- timing
def timed_render(render: Callable[[], bytes]) -> tuple[float, bytes]:
    """Seconds for one render (garbage collector off, as with timeit), and the body."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        body = render()
        elapsed = time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()
    return elapsed, body


@dataclass(slots=True)
class Row:
    """The timings of one implementation at one size."""

    size: int
    name: str
    bytes: int = 0
    warm_up_ms: float = 0.0
    repeats_ms: list[float] = field(default_factory=list)
    warning: str | None = None

    @property
    def best_ms(self) -> float:
        return min(self.repeats_ms)


def measure_size(size: int, repeats: int) -> list[Row]:
    """Build every implementation at ``size``, warm up, then time the repeats round-robin."""
    symbols = make_symbols(size)
    names = list(BUILDERS)
    rows = {name: Row(size, name) for name in names}
    with ExitStack() as stack:
        subjects = {name: BUILDERS[name](symbols, stack) for name in names}
        for name, subject in subjects.items():
            elapsed, body = timed_render(subject.render)
            rows[name].warm_up_ms = elapsed * 1e3
            rows[name].warning = check_body(name, size, body)
        for repeat in range(repeats):
            change = change_for(repeat, symbols)
            shift = repeat % len(names)  # rotate who goes first
            for name in names[shift:] + names[:shift]:
                subjects[name].apply(change)
                elapsed, body = timed_render(subjects[name].render)
                rows[name].repeats_ms.append(elapsed * 1e3)
                rows[name].bytes = len(body)
    return [rows[name] for name in names]


# ---------------------------------------------------------------------------------- memory
@dataclass(frozen=True, slots=True)
class Memory:
    """Bytes retained by one implementation's set-up after one render, and the peak."""

    name: str
    retained: int
    peak: int


def measure_memory(size: int) -> list[Memory]:
    """Retained and peak traced memory of building ``size`` series and rendering once."""
    symbols = make_symbols(size)
    warm = make_symbols(HISTOGRAM_EVERY * 2)
    for name in MAIN:  # imports and one-off caches are not what this measures
        with ExitStack() as stack:
            BUILDERS[name](warm, stack).render()
    results = []
    for name in MAIN:
        with ExitStack() as stack:
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                subject = BUILDERS[name](symbols, stack)
                body = subject.render()
                del body
                gc.collect()
                current, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            results.append(Memory(name, current - before, peak - before))
            del subject
    return results


# ---------------------------------------------------------------------------------- report
def baseline_of(row: Row, rows: Sequence[Row]) -> Row:
    return next(r for r in rows if r.size == row.size and r.name == BASELINE)


def ratio(row: Row, rows: Sequence[Row]) -> float:
    return row.best_ms / baseline_of(row, rows).best_ms


def verdict(value: float) -> str:
    return "PASS" if value <= TARGET else "MISS"


def format_times(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| series | implementation | ms/render (best) | bytes | vs prometheus_client |",
        "|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        versus = "baseline" if row.name == BASELINE else f"{ratio(row, rows):.2f}x"
        flag = " (!)" if row.warning else ""
        lines.append(
            f"| {row.size:,} | {row.name}{flag} | {row.best_ms:,.2f} | {row.bytes:,} | {versus} |"
        )
    return lines


def format_memory(memory: Sequence[Memory]) -> list[str]:
    base = next(m for m in memory if m.name == BASELINE)
    per = MEMORY_SIZE / 1_000
    lines = [
        "| implementation | KiB retained per 1,000 series | vs prometheus_client "
        "| peak KiB during build + render |",
        "|---|---:|---:|---:|",
    ]
    for m in memory:
        versus = "baseline" if m.name == BASELINE else f"{m.retained / base.retained:.2f}x"
        lines.append(
            f"| {m.name} | {m.retained / 1024 / per:,.1f} | {versus} | {m.peak / 1024 / per:,.1f} |"
        )
    return lines


def target_line(rows: Sequence[Row]) -> str:
    native = [r for r in rows if r.size == TARGET_SIZE and r.name == NATIVE]
    if not native:
        return (
            f"target not measured: native <= {TARGET:.2f}x prometheus_client at "
            f"{TARGET_SIZE:,} series needs the full run"
        )
    value = ratio(native[0], rows)
    return (
        f"{verdict(value)}: native is {value:.2f}x prometheus_client at {TARGET_SIZE:,} series "
        f"(target <= {TARGET:.2f}x)"
    )


def summary_line(rows: Sequence[Row]) -> str:
    parts = []
    for size in sorted({r.size for r in rows}, reverse=True):
        at = {r.name: r for r in rows if r.size == size}
        parts.append(
            f"{size} series: native {ratio(at[NATIVE], rows):.2f}x prometheus_client, "
            f"upstream OTel {ratio(at[UPSTREAM], rows):.2f}x"
        )
    return "summary: " + "; ".join(parts)


def as_json(
    rows: Sequence[Row],
    memory: Sequence[Memory],
    settings: Settings,
    info: dict[str, str],
    quick: bool,
) -> object:
    native = [r for r in rows if r.size == TARGET_SIZE and r.name == NATIVE]
    target_ratio = ratio(native[0], rows) if native else None
    base_memory = next(m for m in memory if m.name == BASELINE)
    return {
        "versions": info,
        "settings": {
            "quick": quick,
            "sizes": settings.sizes,
            "repeats": {str(size): n for size, n in settings.repeats.items()},
            "statistic": "min",
            "histogram_series_per_gauge_series": 1 / HISTOGRAM_EVERY,
            "buckets": list(BUCKETS),
            "changes_per_repeat": CHANGES_PER_REPEAT,
            "gc_during_render": False,
        },
        "rows": [
            {
                "series": row.size,
                "histogram_series": len(range(0, row.size, HISTOGRAM_EVERY)),
                "implementation": row.name,
                "variant": row.name not in MAIN,
                "ms_per_render": row.best_ms,
                "ms_repeats": row.repeats_ms,
                "ms_warm_up": row.warm_up_ms,
                "bytes": row.bytes,
                "ratio_vs_prometheus_client": ratio(row, rows),
                "warning": row.warning,
            }
            for row in rows
        ],
        "memory": {
            "series": MEMORY_SIZE,
            "method": "tracemalloc: traced bytes still allocated after build + one render "
            "(body dropped, gc run), minus the traced bytes before the build",
            "rows": [
                {
                    "implementation": m.name,
                    "retained_bytes": m.retained,
                    "kib_per_1000_series": m.retained / 1024 / (MEMORY_SIZE / 1_000),
                    "peak_bytes": m.peak,
                    "ratio_vs_prometheus_client": m.retained / base_memory.retained,
                }
                for m in memory
            ],
        },
        "target": {
            "statement": f"native <= {TARGET}x prometheus_client at {TARGET_SIZE} series",
            "ratio": target_ratio,
            "verdict": None if target_ratio is None else verdict(target_ratio),
        },
        "summary": summary_line(rows),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="100 and 1,000 series, few repeats: a smoke run, not a measurement",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    info = versions("opentelemetry-sdk", "opentelemetry-exporter-prometheus", "prometheus_client")
    for name, value in info.items():
        print(f"{name}: {value}")
    repeats = ", ".join(f"{n} at {size:,}" for size, n in settings.repeats.items())
    print(
        f"method: N gauge series + N/10 histogram series ({len(BUCKETS)} buckets, "
        f"{OBSERVATIONS_PER_HISTOGRAM} observations each); one render = collect + render to bytes "
        f"(text format 0.0.4); warm-up render not counted; best of {repeats} repeats, "
        f"round-robin; {CHANGES_PER_REPEAT} gauge values and {CHANGES_PER_REPEAT} histogram "
        "observations change before each repeat; gc off while timing"
        + (" (--quick: figures are indicative only)" if args.quick else "")
    )
    print()

    rows: list[Row] = []
    for size in settings.sizes:
        rows.extend(measure_size(size, settings.repeats[size]))
    memory = measure_memory(MEMORY_SIZE)

    for line in format_times(rows):
        print(line)
    warnings = [row.warning for row in rows if row.warning]
    for warning in warnings:
        print(warning)
    print()
    print(
        f"memory ({MEMORY_SIZE:,} gauge + {MEMORY_SIZE // HISTOGRAM_EVERY:,} histogram series): "
        "tracemalloc started after a warm-up and a gc; the set-up is built, rendered once, the "
        "body dropped and gc run; retained = traced bytes then minus before (symbol strings made "
        "beforehand are not counted; OTel rows include the meter provider and the dict the "
        "gauge callback reads)"
    )
    print()
    for line in format_memory(memory):
        print(line)
    print()
    print(target_line(rows))

    if args.json is not None:
        figures = as_json(rows, memory, settings, info, args.quick)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")
    print(summary_line(rows))
    return 0  # a measurement, not a gate


if __name__ == "__main__":
    sys.exit(main())
