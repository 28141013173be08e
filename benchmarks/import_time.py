"""What ``import trader_telemetry`` costs, next to importing the packages it needs.

Run from the repository root::

    python benchmarks/import_time.py              # full run: 31 fresh interpreters per row
    python benchmarks/import_time.py --quick      # smoke run, noisy figures
    python benchmarks/import_time.py --json out.json
    python benchmarks/import_time.py --heavy      # also list the slowest modules (-X importtime)
    python benchmarks/import_time.py --instructions  # also count instructions (valgrind)

Each row starts fresh interpreters (``python -c STATEMENT``, same flags, same environment) and
takes the median CPU time (user + system of the child, from ``wait4``) and the median wall time;
the rows are interleaved, so a change of the machine's load hits each alike. The interpreter's
own start (``pass``) is subtracted from every row, so the figures are the import itself. The
package's bytecode is written first (``compileall``), as ``pip install`` does for the
dependencies: otherwise an editable install under ``PYTHONDONTWRITEBYTECODE`` compiles our
modules from source in every run and the comparison is unfair to us. The
verdict compares ``import trader_telemetry`` with importing ``opentelemetry.sdk.metrics`` and
``prometheus_client`` (target **<= 1.15x**) on CPU time, which other processes on a busy
machine disturb far less than the wall time. ``import trader_telemetry`` itself loads no module
of the library (public names import their module on first use), so a second row holds the
core a bot uses (``tt.Telemetry``, ``tt.configure``, ``tt.cycle_timer``) to the same target;
the run checks that the core really loads both dependencies (else the comparison would
flatter us).

``--instructions`` also counts the instructions each row executes, once, under valgrind's
cachegrind (when valgrind is installed): a count that other processes on the machine do not
change, for comparing two versions on a busy machine. It weighs every instruction alike, so its
ratio is not the time ratio (ours are more of them compiling generated code; the dependencies'
more of them waiting on memory); the verdict stays on CPU time.

This is a measurement, not a gate: the verdict prints PASS or MISS and the exit status is 0.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from versions import versions

#: (row, statement run in a fresh interpreter)
ROWS = (
    ("interpreter start (subtracted)", "pass"),
    (
        "import opentelemetry.sdk.metrics, prometheus_client",
        "import opentelemetry.sdk.metrics, prometheus_client",
    ),
    ("import trader_telemetry", "import trader_telemetry"),
    (
        "import trader_telemetry; tt.Telemetry (the core a bot uses)",
        "import trader_telemetry as tt; tt.Telemetry, tt.configure, tt.cycle_timer",
    ),
    (
        "import trader_telemetry; configure(serve=False) (informative)",
        "import trader_telemetry as tt; tt.configure(serve=False); tt.shutdown()",
    ),
)
BASELINE = ROWS[1][0]
#: The rows held to the target: the package import itself, and the core it gives access to.
SUBJECTS = (ROWS[2][0], ROWS[3][0])
TARGET = 1.15
FULL_RUNS = 31
CLOCKS = ("cpu", "wall")
QUICK_RUNS = 3


def run_once(statement: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one fresh interpreter running
    ``statement``. The CPU time is the child's own (``wait4``), so it is much less disturbed by
    other processes on a busy machine than the wall time."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", statement])  # noqa: S603 - our interpreter
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, statement)
    return wall, usage.ru_utime + usage.ru_stime


def compile_package() -> Path:
    """Write the package's bytecode, as ``pip install`` does: an editable install (or
    ``PYTHONDONTWRITEBYTECODE=1``) would otherwise compile every module of ours from source in
    every run, while the dependencies load their installed ``.pyc`` files."""
    spec = importlib.util.find_spec("trader_telemetry")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    package = Path(next(iter(spec.submodule_search_locations)))
    compileall.compile_dir(package, quiet=1)
    return package


def measure(runs: int) -> dict[str, dict[str, list[float]]]:
    """{clock ("cpu", "wall"): {row: every run's seconds}}, rows interleaved run by run."""
    samples: dict[str, dict[str, list[float]]] = {
        clock: {name: [] for name, _ in ROWS} for clock in CLOCKS
    }
    for statement in ("pass", "import trader_telemetry"):  # warm the file cache and .pyc files
        run_once(statement)
    for _ in range(runs):
        for name, statement in ROWS:
            wall, cpu = run_once(statement)
            samples["wall"][name].append(wall)
            samples["cpu"][name].append(cpu)
    return samples


def loads_its_dependencies() -> bool:
    """The core (``tt.Telemetry``) imports the SDK's metrics and prometheus_client itself."""
    probe = (
        "import sys, trader_telemetry as tt; tt.Telemetry; "
        "print(all(m in sys.modules for m in ('opentelemetry.sdk.metrics', 'prometheus_client')))"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return out.strip() == "True"


def heaviest_modules(limit: int = 15) -> list[tuple[float, str]]:
    """The modules with the largest own import time (-X importtime) when the core loads."""
    err = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-X", "importtime", "-c", ROWS[3][1]],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    found = []
    for line in err.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, _cumulative, name = line.split(":", 1)[1].split("|")
            found.append((int(own) / 1000, name.strip()))
    return sorted(found, reverse=True)[:limit]


def instructions(statement: str) -> int | None:
    """Instructions a fresh interpreter executes running ``statement`` (valgrind cachegrind),
    or None without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    err = subprocess.run(  # noqa: S603 - valgrind running our own interpreter
        [
            valgrind,
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            "-c",
            statement,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    found = re.search(r"\bI\s+refs:\s*([\d,]+)", err)  # "==123== I   refs:  594,694,897"
    return None if found is None else int(found.group(1).replace(",", ""))


def medians_ms(samples: dict[str, list[float]]) -> dict[str, float]:
    start = statistics.median(samples[ROWS[0][0]])
    return {
        name: (statistics.median(values) - (0.0 if name == ROWS[0][0] else start)) * 1000
        for name, values in samples.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 runs per row")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--heavy", action="store_true", help="list the slowest modules")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions (valgrind)"
    )
    args = parser.parse_args(argv)
    runs = QUICK_RUNS if args.quick else FULL_RUNS

    info = versions()
    print(" ".join(f"{k}={v}" for k, v in info.items()))
    print(f"bytecode written for {compile_package()} (as an install does)")
    samples = measure(runs)
    figures = {clock: medians_ms(samples[clock]) for clock in CLOCKS}
    print(f"\nmedian of {runs} fresh interpreters per row, interpreter start subtracted\n")
    print("| row | CPU ms | ratio | wall ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, _ in ROWS:
        cells = []
        for clock in CLOCKS:
            ms = figures[clock][name]
            ratio = "" if name == ROWS[0][0] else f"{ms / figures[clock][BASELINE]:.2f}x"
            cells += [f"{ms:.1f}", ratio]
        print(f"| {name} | {' | '.join(cells)} |")
    ratios = {
        subject: {clock: figures[clock][subject] / figures[clock][BASELINE] for clock in CLOCKS}
        for subject in SUBJECTS
    }
    loads = loads_its_dependencies()
    print()
    for subject, ratio in ratios.items():
        verdict = "PASS" if ratio["cpu"] <= TARGET else "MISS"
        print(
            f"{verdict}: {subject} is {ratio['cpu']:.2f}x (CPU) / {ratio['wall']:.2f}x (wall) "
            f"of {BASELINE} (target <= {TARGET}x, on CPU time)"
        )
    print(f"the core loads opentelemetry.sdk.metrics and prometheus_client itself: {loads}")
    counted: dict[str, int] = {}
    if args.instructions:
        for name, statement in ROWS:
            count = instructions(statement)
            if count is None:
                print("\nvalgrind is not installed: no instruction counts")
                break
            counted[name] = count
    if counted:
        start = counted[ROWS[0][0]]
        base = counted[BASELINE] - start
        print("\ninstructions (valgrind cachegrind, one run, interpreter start subtracted):\n")
        print("| row | instructions (M) | ratio |")
        print("|---|---:|---:|")
        for name, _ in ROWS[1:]:
            own = counted[name] - start
            print(f"| {name} | {own / 1e6:.1f} | {own / base:.2f}x |")
    if args.heavy:
        print("\nslowest modules when the core loads (own time, ms, one -X importtime run):")
        for own, name in heaviest_modules():
            print(f"  {own:6.1f}  {name}")
    if args.json:
        document = {
            "versions": info,
            "runs": runs,
            "rows": [
                {
                    "row": name,
                    **{f"median_{clock}_ms": figures[clock][name] for clock in CLOCKS},
                    **{f"{clock}_seconds": samples[clock][name] for clock in CLOCKS},
                }
                for name, _ in ROWS
            ],
            "ratios": ratios,
            "instructions": counted,
            "target": TARGET,
            "loads_dependencies": loads,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
