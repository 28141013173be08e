"""Per-cycle cost of slow-cycle tracing, next to no tracing and to exporting every cycle.

Run from the repository root::

    python benchmarks/tracing.py              # full run: best of 7 repeats, ~0.15 s each
    python benchmarks/tracing.py --quick      # smoke run, about two seconds, noisy figures
    python benchmarks/tracing.py --json out.json

Every row times one FAST cycle with five empty phases, in microseconds per cycle:

1. ``no tracing``: ``tt.Telemetry(serve=False)``, ``with t.cycle_timer() as c:`` around five
   ``with c.phase("p0"): pass`` ... ``"p4"``.
2. ``tracing on, fast cycle``: the same on a ``Telemetry`` built with
   ``tracing=tt.TracingConfig(exporter=CountingExporter())``. The cycle is far below
   ``slow_cycle_seconds`` (3 s), so the tail sampler buffers its six spans and drops them when the
   root ends; nothing reaches the exporter.
3. ``plain OTel spans exported through a BatchSpanProcessor``: an SDK ``TracerProvider`` with a
   ``BatchSpanProcessor(CountingExporter())``, one root span and five children per cycle through
   ``tracer.start_as_current_span`` (no metrics): what exporting every cycle would cost.
4. ``tracing on, slow cycle kept`` (informative): row 2 with ``slow_cycle_seconds=1e-9``, so
   every cycle counts as slow and its whole trace goes to the batch processor.

``CountingExporter`` only counts the spans it is handed and returns ``SUCCESS``: no network, no
serialisation; the batch processor's background thread still runs as it would in production.

The timing machinery is the one of ``benchmarks/hot_path.py``: a :class:`timeit.Timer` whose
objects are bound as locals of the timing function, the number of cycles calibrated so that a
repeat lasts about ``seconds_per_repeat``, repeats taken round-robin across the rows (so a drift
of the machine's speed hits every row alike), the best (minimum) repeat reported, loop overhead
not subtracted, and, as with :mod:`timeit`, the garbage collector off while a repeat runs. The
batch processors' worker threads are not paused between rows: with a counting exporter their
work is tiny, and what there is belongs to the cost of exporting.

The targets: tracing adds at most 50 us to a fast cycle (row 2 minus row 1), and a fast cycle
with tracing on is cheaper than exporting plain OTel spans (row 2 below row 3). After the runs
every pipeline is flushed and the spans each exporter received are checked: none for row 2, six
per cycle for rows 3 and 4 (and the ``slow_cycle_traces_total`` of rows 2 and 4 is read from a
scrape: no trace kept, one per cycle). Row 3 records no metrics while rows 1, 2 and 4 record the
cycle and phase histograms, so an informative line also sets the tracing overhead alone against
row 3.

This is a measurement, not a gate: the verdicts print PASS or MISS and the exit status is 0.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import timeit
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import trader_telemetry as tt
from versions import versions

Namespace = dict[str, Any]

#: Phases per cycle; every cycle is one root span and this many children when traced.
PHASES = 5
SPANS_PER_CYCLE = 1 + PHASES
#: The most tracing may add to a fast cycle, in microseconds.
OVERHEAD_TARGET_US = 50.0
#: Small enough that every cycle is "slow" (row 4).
TINY_SLOW_SECONDS = 1e-9
SHUTDOWN_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Settings:
    """How long and how often each row is timed."""

    repeats: int
    seconds_per_repeat: float


FULL = Settings(repeats=7, seconds_per_repeat=0.15)
QUICK = Settings(repeats=3, seconds_per_repeat=0.1)


class CountingExporter(SpanExporter):
    """Counts the spans it is handed; exports nothing anywhere."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans = 0
        self.batches = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self.spans += len(spans)
            self.batches += 1
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


# ---------------------------------------------------------------------------------- the rows
def telemetry_cycle(t: str) -> str:
    """One cycle of five empty phases on the Telemetry bound as ``t``."""
    phases = "".join(f'    with c.phase("p{i}"):\n        pass\n' for i in range(PHASES))
    return f"with {t}.cycle_timer() as c:\n{phases}"


def otel_cycle(tracer: str) -> str:
    """One root span and five empty child spans on the SDK tracer bound as ``tracer``."""
    children = "".join(
        f'    with {tracer}.start_as_current_span("p{i}"):\n        pass\n' for i in range(PHASES)
    )
    return f'with {tracer}.start_as_current_span("cycle"):\n{children}'


@dataclass(frozen=True, slots=True)
class Case:
    """One row of the table.

    Attributes:
        name: The row, as the table shows it.
        key: Short identifier (JSON, and the names of its objects in the namespace).
        stmt: The statement timed: one cycle (names come from the namespace, bound as locals).
        exporter: The namespace entry of the row's counting exporter, or None.
        spans_expected: Whether the exporter should receive every span of every cycle (True),
            none (False), or the row has no exporter (None).
    """

    name: str
    key: str
    stmt: str
    exporter: str | None = None
    spans_expected: bool | None = None


NO_TRACING = Case("no tracing", "no_tracing", telemetry_cycle("t_off"))
FAST = Case(
    "tracing on, fast cycle (spans created and dropped)",
    "tracing_fast",
    telemetry_cycle("t_fast"),
    exporter="exp_fast",
    spans_expected=False,
)
PLAIN_OTEL = Case(
    "plain OTel spans exported through a BatchSpanProcessor",
    "plain_otel_batch",
    otel_cycle("tracer"),
    exporter="exp_otel",
    spans_expected=True,
)
SLOW = Case(
    "tracing on, slow cycle kept",
    "tracing_slow_kept",
    telemetry_cycle("t_slow"),
    exporter="exp_slow",
    spans_expected=True,
)
CASES: tuple[Case, ...] = (NO_TRACING, FAST, PLAIN_OTEL, SLOW)


@dataclass(slots=True)
class Result:
    """The timings of one row: microseconds per cycle for every repeat."""

    case: Case
    number: int
    per_cycle_us: list[float] = field(default_factory=list)
    cycles_run: int = 0  # every cycle run, calibration included

    @property
    def best_us(self) -> float:
        return min(self.per_cycle_us)


# ---------------------------------------------------------------------------------- fixtures
def build_namespace(stack: ExitStack) -> Namespace:
    """Every object the statements use, with teardown registered on ``stack``.

    Teardown (flush and shut down) is explicit in :func:`drain`; ``stack`` only guarantees it
    happens when the timing fails half-way.
    """
    exp_fast, exp_otel, exp_slow = CountingExporter(), CountingExporter(), CountingExporter()

    t_off = tt.Telemetry(serve=False)
    stack.callback(t_off.shutdown, SHUTDOWN_TIMEOUT_SECONDS)
    t_fast = tt.Telemetry(serve=False, tracing=tt.TracingConfig(exporter=exp_fast))
    stack.callback(t_fast.shutdown, SHUTDOWN_TIMEOUT_SECONDS)
    t_slow = tt.Telemetry(
        serve=False,
        tracing=tt.TracingConfig(exporter=exp_slow, slow_cycle_seconds=TINY_SLOW_SECONDS),
    )
    stack.callback(t_slow.shutdown, SHUTDOWN_TIMEOUT_SECONDS)

    provider = TracerProvider()  # never the global one
    provider.add_span_processor(BatchSpanProcessor(exp_otel))
    stack.callback(provider.shutdown)

    return {
        "t_off": t_off,
        "t_fast": t_fast,
        "t_slow": t_slow,
        "provider": provider,
        "tracer": provider.get_tracer("tracing_benchmark"),
        "exp_fast": exp_fast,
        "exp_otel": exp_otel,
        "exp_slow": exp_slow,
    }


# ---------------------------------------------------------------------------------- timing
def make_timer(case: Case, ns: Namespace) -> timeit.Timer:
    """A timer whose statement sees every namespace entry as a local variable."""
    setup = "; ".join(f"{name} = _ns[{name!r}]" for name in ns)
    return timeit.Timer(case.stmt, setup=setup, globals={"_ns": ns})


def time_once(result: Result, timer: timeit.Timer, number: int) -> float:
    """Seconds for ``number`` cycles of the row (counted in ``result.cycles_run``)."""
    elapsed = timer.timeit(number)
    result.cycles_run += number
    return elapsed


def calibrate(result: Result, timer: timeit.Timer, seconds: float) -> None:
    """Set the number of cycles that makes one repeat last about ``seconds`` (also warms up)."""
    number = 1
    while True:
        elapsed = time_once(result, timer, number)
        if elapsed >= seconds / 10:
            result.number = max(1, math.ceil(number * seconds / elapsed))
            return
        number *= 10


def measure(cases: Sequence[Case], ns: Namespace, settings: Settings) -> list[Result]:
    """Time every case; repeats go round-robin across the cases."""
    timers = [make_timer(case, ns) for case in cases]
    results = [Result(case, 0) for case in cases]
    for result, timer in zip(results, timers, strict=True):
        # Twice: the first cycles of a row run slower (first spans, first records), and a
        # calibration on them alone would make the repeats much shorter than asked.
        calibrate(result, timer, settings.seconds_per_repeat)
        calibrate(result, timer, settings.seconds_per_repeat)
    for _ in range(settings.repeats):
        for result, timer in zip(results, timers, strict=True):
            elapsed = time_once(result, timer, result.number)
            result.per_cycle_us.append(elapsed / result.number * 1e6)
    return results


# ---------------------------------------------------------------------------------- sanity
@dataclass(frozen=True, slots=True)
class Check:
    """What one row's exporter received, once every pipeline was flushed and shut down."""

    case: Case
    cycles: int
    exported: int
    kept_traces: int | None  # from the Telemetry's own metric; None for the plain OTel row

    @property
    def expected(self) -> int:
        return self.cycles * SPANS_PER_CYCLE if self.case.spans_expected else 0

    @property
    def ok(self) -> bool:
        if self.case.spans_expected:
            # Every span of every cycle, unless the batch queue overflowed (then some, reported).
            kept_ok = self.kept_traces is None or self.kept_traces == self.cycles
            return 0 < self.exported <= self.expected and kept_ok
        return self.exported == 0 and not self.kept_traces


def kept_traces(telemetry: tt.Telemetry) -> int:
    """``slow_cycle_traces_total`` summed over its reasons, read from a scrape."""
    family = f"{telemetry.config.namespace}_slow_cycle_traces_total"
    body = telemetry.render_metrics().body.decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(family) and not line.startswith(f"{family}_"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def drain(results: Sequence[Result], ns: Namespace) -> list[Check]:
    """Flush and shut every pipeline down, then read what each exporter received."""
    kept = {
        FAST.key: kept_traces(ns["t_fast"]),
        SLOW.key: kept_traces(ns["t_slow"]),
    }
    for name in ("t_off", "t_fast", "t_slow"):
        ns[name].shutdown(SHUTDOWN_TIMEOUT_SECONDS)  # flushes the batch processor first
    ns["provider"].force_flush()
    ns["provider"].shutdown()
    return [
        Check(r.case, r.cycles_run, ns[r.case.exporter].spans, kept.get(r.case.key))
        for r in results
        if r.case.exporter is not None
    ]


# ---------------------------------------------------------------------------------- report
@dataclass(frozen=True, slots=True)
class Verdicts:
    """The two targets, computed from the rows' best repeats."""

    overhead_us: float
    fast_us: float
    plain_us: float

    @property
    def overhead_ok(self) -> bool:
        return self.overhead_us <= OVERHEAD_TARGET_US

    @property
    def below_plain_ok(self) -> bool:
        return self.fast_us < self.plain_us


def verdicts_of(results: Sequence[Result]) -> Verdicts:
    by_key = {r.case.key: r for r in results}
    fast = by_key[FAST.key].best_us
    return Verdicts(
        overhead_us=fast - by_key[NO_TRACING.key].best_us,
        fast_us=fast,
        plain_us=by_key[PLAIN_OTEL.key].best_us,
    )


def pass_miss(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def format_table(results: Sequence[Result], verdicts: Verdicts) -> list[str]:
    base = next(r for r in results if r.case is NO_TRACING).best_us
    lines = [
        "| row | us/cycle | minus no tracing | target |",
        "|---|---:|---:|---|",
    ]
    for result in results:
        case = result.case
        if case is NO_TRACING:
            delta, target = "-", "baseline"
        else:
            delta = f"{result.best_us - base:+,.1f} us"
            if case is FAST:
                target = (
                    f"overhead <= {OVERHEAD_TARGET_US:.0f} us {pass_miss(verdicts.overhead_ok)}; "
                    f"< plain OTel {pass_miss(verdicts.below_plain_ok)}"
                )
            elif case is PLAIN_OTEL:
                target = "reference (export every cycle)"
            else:
                target = "- (informative)"
        lines.append(f"| {case.name} | {result.best_us:,.1f} | {delta} | {target} |")
    return lines


def format_verdicts(verdicts: Verdicts) -> list[str]:
    return [
        f"{pass_miss(verdicts.overhead_ok)}: tracing adds {verdicts.overhead_us:,.1f} us to a fast "
        f"cycle of {PHASES} phases (target <= {OVERHEAD_TARGET_US:.0f} us)",
        f"{pass_miss(verdicts.below_plain_ok)}: a fast cycle with tracing on costs "
        f"{verdicts.fast_us:,.1f} us, {verdicts.fast_us / verdicts.plain_us:.2f}x plain OTel spans "
        f"exported through a BatchSpanProcessor ({verdicts.plain_us:,.1f} us; target: below it)",
        f"info: the tracing overhead alone ({verdicts.overhead_us:,.1f} us) is "
        f"{verdicts.overhead_us / verdicts.plain_us:.2f}x the plain OTel row, which records no "
        "metrics (rows 1 and 2 both record the cycle and phase histograms)",
    ]


def format_checks(checks: Sequence[Check]) -> list[str]:
    parts = []
    for check in checks:
        text = f"{check.case.key} {check.exported:,} spans exported of {check.expected:,} expected"
        if check.kept_traces is not None:
            text += f", {check.kept_traces:,} traces kept"
        text += f" ({check.cycles:,} cycles)"
        parts.append(text)
    status = "OK" if all(check.ok for check in checks) else "UNEXPECTED"
    lines = [f"sanity {status}: " + "; ".join(parts)]
    lines.extend(
        f"  note: {check.case.key}: {check.expected - check.exported:,} spans dropped by the "
        "batch queue (full)"
        for check in checks
        if check.case.spans_expected and 0 < check.exported < check.expected
    )
    return lines


def summary(verdicts: Verdicts) -> str:
    return (
        f"summary: tracing costs +{verdicts.overhead_us:,.1f} us per fast cycle "
        f"({pass_miss(verdicts.overhead_ok)}, <= {OVERHEAD_TARGET_US:.0f} us), "
        f"{verdicts.fast_us:,.1f} vs {verdicts.plain_us:,.1f} us for exporting plain OTel spans "
        f"({pass_miss(verdicts.below_plain_ok)})"
    )


def as_json(
    results: Sequence[Result],
    checks: Sequence[Check],
    verdicts: Verdicts,
    settings: Settings,
    info: dict[str, str],
) -> object:
    by_key = {check.case.key: check for check in checks}
    rows = []
    for result in results:
        check = by_key.get(result.case.key)
        rows.append(
            {
                "row": result.case.name,
                "key": result.case.key,
                "statement": result.case.stmt,
                "us_per_cycle": result.best_us,
                "us_per_cycle_repeats": result.per_cycle_us,
                "number": result.number,
                "cycles_run": result.cycles_run,
                "spans_exported": None if check is None else check.exported,
                "spans_expected": None if check is None else check.expected,
                "traces_kept": None if check is None else check.kept_traces,
            }
        )
    return {
        "versions": info,
        "settings": {
            "repeats": settings.repeats,
            "seconds_per_repeat": settings.seconds_per_repeat,
            "phases_per_cycle": PHASES,
            "statistic": "min",
        },
        "rows": rows,
        "verdicts": {
            "tracing_overhead_us": verdicts.overhead_us,
            "tracing_overhead_target_us": OVERHEAD_TARGET_US,
            "tracing_overhead": pass_miss(verdicts.overhead_ok),
            "fast_below_plain_otel": pass_miss(verdicts.below_plain_ok),
            "sanity": all(check.ok for check in checks),
        },
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="few, short repeats: a smoke run, not a measurement"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    info = versions("opentelemetry-sdk")
    for name, value in info.items():
        print(f"{name}: {value}")
    print(
        f"method: one cycle of {PHASES} empty phases per statement; best of {settings.repeats} "
        f"repeats of ~{settings.seconds_per_repeat:g} s each, round-robin; loop overhead not "
        "subtracted; gc off while timing"
        + (" (--quick: figures are indicative only)" if args.quick else "")
    )
    print()

    with ExitStack() as stack:
        ns = build_namespace(stack)
        results = measure(CASES, ns, settings)
        checks = drain(results, ns)
    verdicts = verdicts_of(results)

    for line in format_table(results, verdicts):
        print(line)
    print()
    for line in format_verdicts(verdicts):
        print(line)
    for line in format_checks(checks):
        print(line)
    print(summary(verdicts))

    if args.json is not None:
        document = as_json(results, checks, verdicts, settings, info)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0  # a measurement, not a gate


if __name__ == "__main__":
    sys.exit(main())
