"""Hot-path cost of trader_telemetry's recording calls, side by side with baselines.

Run from the repository root::

    python benchmarks/hot_path.py              # full run: best of 7 repeats, ~0.15 s each
    python benchmarks/hot_path.py --quick      # smoke run, a second or two, noisy figures
    python benchmarks/hot_path.py --json out.json

Every row is timed in the same process with the same machinery: a :class:`timeit.Timer` whose
objects are bound as locals of the timing function (so no row pays global look-ups the others
do not). Each row reports the best (minimum) repeat in nanoseconds per operation; the loop
overhead is not subtracted, so the ratios compare like with like. Repeats are taken round-robin
across the rows, so a drift of the machine's speed during the run hits every row alike.
As with :mod:`timeit`, the garbage collector is off while a repeat runs.

This is a measurement, not a gate: the verdicts print PASS or MISS and the exit status is 0.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prometheus_client
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import trader_telemetry as tt
from trader_telemetry.catalogue import CYCLE_BUCKETS
from trader_telemetry.default import swap_default
from versions import versions

Namespace = dict[str, Any]
#: Wraps one timing call, e.g. to hold a cycle open while phases are timed.
Around = Callable[[Namespace], AbstractContextManager[object]]


@dataclass(frozen=True, slots=True)
class Settings:
    """How long and how often each row is timed."""

    repeats: int
    seconds_per_repeat: float


FULL = Settings(repeats=7, seconds_per_repeat=0.15)
QUICK = Settings(repeats=3, seconds_per_repeat=0.01)


@dataclass(frozen=True, slots=True)
class Case:
    """One row of the table.

    Attributes:
        name: The operation, as the table shows it.
        stmt: The statement timed (names come from the run's namespace, bound as locals).
        alias: A short name other rows use to refer to this one as their baseline.
        baseline: The name of the row this one is compared against, or None.
        target: The ratio against ``baseline`` this row should stay within, or None when the
            comparison is informative only.
        micros: Show the figure in microseconds (slow, per-call rows such as a scrape).
        around: Entered around each timing call (after the namespace is ready).
    """

    name: str
    stmt: str
    alias: str | None = None
    baseline: str | None = None
    target: float | None = None
    micros: bool = False
    around: Around | None = None

    @property
    def is_baseline(self) -> bool:
        return self.alias is not None


@dataclass(slots=True)
class Result:
    """The timings of one row: nanoseconds per operation for every repeat."""

    case: Case
    number: int
    per_op_ns: list[float]

    @property
    def best_ns(self) -> float:
        return min(self.per_op_ns)


# ---------------------------------------------------------------------------------- the rows
@contextmanager
def _open_cycle(ns: Namespace) -> Iterator[None]:
    """Hold one cycle open (as ``cycle`` in the namespace) while its phases are timed."""
    with ns["t"].cycle_timer() as cycle:
        ns["cycle"] = cycle
        yield


PC_PAIR = "perf_counter pair"
DICT_STORE = "dict store of time.monotonic()"
OTEL_RECORD = "raw OTel Histogram.record"
PC_PAIR_OTEL = "perf_counter pair + raw OTel Histogram.record"
PROM_TIME = "prometheus_client Histogram.time()"
CYCLE_TIMER = "cycle_timer enter+exit"
MODULE_CYCLE_TIMER = "tt.cycle_timer() enter+exit (module-level, as the README)"
RECORD_MARK = "record_mark (with price)"

CASES: tuple[Case, ...] = (
    # Baselines: what the bot would pay doing the same by hand.
    Case(
        PC_PAIR,
        "a = time.perf_counter(); b = time.perf_counter(); b - a",
        alias="perf_counter pair",
    ),
    Case(DICT_STORE, "d[sym] = time.monotonic()", alias="dict store"),
    Case(OTEL_RECORD, "h.record(0.5)", alias="raw OTel record"),
    Case(
        PC_PAIR_OTEL,
        "a = time.perf_counter(); b = time.perf_counter(); h.record(b - a)",
        alias="perf_counter pair + raw OTel record",
    ),
    Case(PROM_TIME, "with hist.time():\n    pass", alias="prometheus .time()"),
    # Ours.
    Case(
        CYCLE_TIMER,
        "with t.cycle_timer():\n    pass",
        baseline=PC_PAIR_OTEL,
        target=1.3,
    ),
    Case(
        MODULE_CYCLE_TIMER,
        "with tt.cycle_timer():\n    pass",
        baseline=PC_PAIR_OTEL,
        target=1.3,
    ),
    Case(
        RECORD_MARK,
        't.record_mark("BTC-PERP", 97000.0)',
        baseline=DICT_STORE,
        target=3.0,
    ),
    Case("record_mark (no price)", 't.record_mark("BTC-PERP")', baseline=DICT_STORE),
    Case(
        "record_account",
        "t.record_account(equity=10000.0, realized_pnl=1.0, unrealized_pnl=2.0, funding_pnl=-0.5)",
        baseline=DICT_STORE,
    ),
    Case(
        "phase enter+exit inside a cycle",
        'with cycle.phase("fetch"):\n    pass',
        baseline=PC_PAIR_OTEL,
        around=_open_cycle,
    ),
    Case("render_metrics() (one scrape)", "t.render_metrics()", micros=True),
)


# ---------------------------------------------------------------------------------- fixtures
def build_namespace(stack: ExitStack) -> Namespace:
    """Everything the statements use, with teardown registered on ``stack``."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    stack.callback(provider.shutdown)
    meter = provider.get_meter("hot_path_benchmark")
    histogram = meter.create_histogram(
        "x", unit="s", description="x", explicit_bucket_boundaries_advisory=list(CYCLE_BUCKETS)
    )

    registry = prometheus_client.CollectorRegistry()  # never the global REGISTRY
    prom_hist = prometheus_client.Histogram(
        "hot_path_seconds", "x", registry=registry, buckets=CYCLE_BUCKETS
    )

    telemetry = tt.Telemetry(serve=False)
    stack.callback(telemetry.shutdown)
    warm_up(telemetry)
    # The module-level helpers act on the default instance: this one, for the run.
    previous = swap_default(telemetry)
    stack.callback(swap_default, previous)

    return {
        "time": time,
        "d": {"BTC-PERP": time.monotonic(), "ETH-PERP": time.monotonic()},
        "sym": "BTC-PERP",
        "h": histogram,
        "hist": prom_hist,
        "t": telemetry,
        "tt": tt,
        "cycle": None,  # set by _open_cycle
    }


def warm_up(telemetry: tt.Telemetry) -> None:
    """Record a little of everything, so the symbol is known before timing and a scrape has
    something to render."""
    with telemetry.cycle_timer() as cycle:
        with cycle.phase("fetch"):
            telemetry.record_marks({"BTC-PERP": 97_000.0, "ETH-PERP": 3_500.0, "SOL-PERP": 180.0})
        with cycle.phase("decide"):
            telemetry.record_account(equity=10_000.0, realized_pnl=1.0, unrealized_pnl=2.0)
        telemetry.record_exposures({"BTC-PERP": 5_000.0, "ETH-PERP": -1_200.0})
        telemetry.record_order("BTC-PERP", "buy")
        telemetry.record_fill("BTC-PERP", "buy", quantity=0.05, price=97_000.0, fee=0.3)
        telemetry.record_order_latency(0.012)
    telemetry.record_mark("BTC-PERP", 97_000.0)


# ---------------------------------------------------------------------------------- timing
def make_timer(case: Case, ns: Namespace) -> timeit.Timer:
    """A timer whose statement sees every namespace entry as a local variable."""
    setup = "; ".join(f"{name} = _ns[{name!r}]" for name in ns)
    return timeit.Timer(case.stmt, setup=setup, globals={"_ns": ns})


def time_once(case: Case, timer: timeit.Timer, number: int, ns: Namespace) -> float:
    """Seconds for ``number`` runs of the statement."""
    around = case.around(ns) if case.around is not None else nullcontext()
    with around:
        return timer.timeit(number)


def calibrate(case: Case, timer: timeit.Timer, ns: Namespace, seconds: float) -> int:
    """The number of runs that makes one repeat last about ``seconds`` (also warms up)."""
    number = 1
    while True:
        elapsed = time_once(case, timer, number, ns)
        if elapsed >= seconds / 10:
            return max(1, math.ceil(number * seconds / elapsed))
        number *= 10


def measure(cases: Sequence[Case], ns: Namespace, settings: Settings) -> list[Result]:
    """Time every case; repeats go round-robin across the cases."""
    timers = [make_timer(case, ns) for case in cases]
    results = [
        Result(case, calibrate(case, timer, ns, settings.seconds_per_repeat), [])
        for case, timer in zip(cases, timers, strict=True)
    ]
    for _ in range(settings.repeats):
        for result, timer in zip(results, timers, strict=True):
            elapsed = time_once(result.case, timer, result.number, ns)
            result.per_op_ns.append(elapsed / result.number * 1e9)
    return results


# ---------------------------------------------------------------------------------- report
def ratio_of(result: Result, by_name: dict[str, Result]) -> float | None:
    if result.case.baseline is None:
        return None
    return result.best_ns / by_name[result.case.baseline].best_ns


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio <= target else "MISS"


def format_table(results: Sequence[Result]) -> list[str]:
    by_name = {r.case.name: r for r in results}
    lines = ["| operation | ns/op | vs baseline | target |", "|---|---:|---:|---|"]
    for result in results:
        case = result.case
        if case.micros:
            cost = f"{result.best_ns / 1e3:,.1f} us/call"
        else:
            cost = f"{result.best_ns:,.1f}"
        ratio = ratio_of(result, by_name)
        if ratio is None:
            versus = "-"
        else:
            assert case.baseline is not None
            versus = f"{ratio:.2f}x {by_name[case.baseline].case.alias}"
        if case.is_baseline:
            target = "baseline"
        elif case.target is None or ratio is None:
            target = "- (informative)"
        else:
            target = f"<= {case.target:.1f}x {verdict(ratio, case.target)}"
        lines.append(f"| {case.name} | {cost} | {versus} | {target} |")
    return lines


def format_verdicts(results: Sequence[Result]) -> list[str]:
    by_name = {r.case.name: r for r in results}
    lines = []
    for result in results:
        ratio = ratio_of(result, by_name)
        target = result.case.target
        if ratio is None or target is None:
            continue
        paired = paired_ratio(result, by_name)
        lines.append(
            f"{verdict(ratio, target)}: {result.case.name} is {ratio:.2f}x "
            f"{result.case.baseline} (target <= {target:.1f}x; median of the per-round "
            f"ratios {paired:.2f}x)"
        )
    return lines


def paired_ratio(result: Result, by_name: dict[str, Result]) -> float:
    """The median over repeats of (this row / its baseline) within the same round: the rows of
    one round run back to back, so on a busy machine this moves less than best / best."""
    assert result.case.baseline is not None
    baseline = by_name[result.case.baseline].per_op_ns
    return statistics.median(ns / base for ns, base in zip(result.per_op_ns, baseline, strict=True))


def as_json(results: Sequence[Result], settings: Settings, info: dict[str, str]) -> object:
    by_name = {r.case.name: r for r in results}
    rows = []
    for result in results:
        ratio = ratio_of(result, by_name)
        target = result.case.target
        rows.append(
            {
                "operation": result.case.name,
                "statement": result.case.stmt,
                "kind": "baseline" if result.case.is_baseline else "trader_telemetry",
                "ns_per_op": result.best_ns,
                "ns_per_op_repeats": result.per_op_ns,
                "number": result.number,
                "baseline": result.case.baseline,
                "ratio": ratio,
                "target": target,
                "verdict": None if ratio is None or target is None else verdict(ratio, target),
            }
        )
    return {
        "versions": info,
        "settings": {
            "repeats": settings.repeats,
            "seconds_per_repeat": settings.seconds_per_repeat,
            "statistic": "min",
        },
        "rows": rows,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="few, short repeats: a smoke run, not a measurement"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument(
        "--repeats",
        type=int,
        metavar="N",
        help="repeats per row (default 7): more on a busy machine, where the best of few is noisy",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.repeats is not None:
        settings = Settings(
            repeats=max(1, args.repeats), seconds_per_repeat=settings.seconds_per_repeat
        )
    info = versions("opentelemetry-sdk", "prometheus_client")
    for name, value in info.items():
        print(f"{name}: {value}")
    print(
        f"method: best of {settings.repeats} repeats of ~{settings.seconds_per_repeat:g} s each, "
        "round-robin; loop overhead not subtracted; gc off while timing"
        + (" (--quick: figures are indicative only)" if args.quick else "")
    )
    print()

    with ExitStack() as stack:
        ns = build_namespace(stack)
        results = measure(CASES, ns, settings)

    for line in format_table(results):
        print(line)
    print()
    for line in format_verdicts(results):
        print(line)

    if args.json is not None:
        args.json.write_text(json.dumps(as_json(results, settings, info), indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0  # a measurement, not a gate


if __name__ == "__main__":
    sys.exit(main())
