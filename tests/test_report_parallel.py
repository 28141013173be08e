"""Reading on several processes gives the very report that reading in one does."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import trader_telemetry as tt
from trader_telemetry.report import compute_daily_report
from trader_telemetry.report import parallel as parallel_module
from trader_telemetry.report.parallel import plan_chunks, start_method
from trader_telemetry.simulation import run_demo

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
FIXTURE = Path(__file__).parent / "fixtures" / "report" / "events.jsonl"


@pytest.fixture(scope="module")
def demo_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo day with a few corrupt lines and a torn last line mixed in."""
    directory = tmp_path_factory.mktemp("demo")
    clock = tt.ManualClock(wall=datetime(2026, 11, 25, tzinfo=UTC).timestamp() + 1.0)
    telemetry = tt.Telemetry(serve=False, clock=clock, data_dir=str(directory))
    run_demo(telemetry, cycles=300, interval=2.0, seed=5, sleep=clock.advance)
    telemetry.event("health", check="market_data", status="degraded", previous="healthy")
    telemetry.shutdown()
    path = directory / "events.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    rng = random.Random(1)
    for at in sorted(rng.sample(range(len(lines)), 5), reverse=True):
        lines.insert(at, "{not json\n")
    path.write_text("".join(lines) + '{"timestamp": "2026-11-25T23:', encoding="utf-8")
    return path


def report(files: list[Path], workers: int) -> dict[str, Any]:
    return compute_daily_report(
        events_files=files, metrics_file=None, day=DAY, now=NOW, workers=workers,
        parallel_min_bytes=0,
    )  # fmt: skip


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_equals_serial_on_a_demo_day(demo_events: Path, workers: int) -> None:
    chunks = plan_chunks([demo_events], workers, 0)
    assert chunks is not None
    assert len(chunks) == workers
    serial, split = report([demo_events], 1), report([demo_events], workers)
    assert split == serial
    assert serial["sources"]["skipped"]["corrupt"] == 5
    assert serial["sources"]["skipped"]["truncated_last_line"] == 1
    assert serial["operations"]["cycles"] == 300


def test_parallel_equals_serial_across_rotated_files(demo_events: Path, tmp_path: Path) -> None:
    """The demo day rotated into two files (a missing one named between them)."""
    lines = demo_events.read_bytes().splitlines(keepends=True)
    old, new = tmp_path / "events.jsonl.1", tmp_path / "events.jsonl"
    old.write_bytes(b"".join(lines[: len(lines) // 3]))
    new.write_bytes(b"".join(lines[len(lines) // 3 :]))
    files = [old, tmp_path / "missing.jsonl", new]
    serial, split = report(files, 1), report(files, 3)
    assert split == serial
    assert split["sources"]["missing"] == [str(tmp_path / "missing.jsonl")]
    assert split["sources"]["events_files"] == [str(old), str(new)]


def test_parallel_equals_serial_on_the_hand_checked_day() -> None:
    assert report([FIXTURE], 2) == report([FIXTURE], 1)


def test_chunks_start_at_line_starts(demo_events: Path) -> None:
    chunks = plan_chunks([demo_events], 4, 0)
    assert chunks is not None
    data = demo_events.read_bytes()
    for chunk in chunks[1:]:
        assert data[chunk.start - 1 : chunk.start] == b"\n"
    assert [c.end for c in chunks[:-1]] == [c.start for c in chunks[1:]]
    assert chunks[-1].end is None
    assert plan_chunks([demo_events], 1, 0) is None
    assert plan_chunks([demo_events], 2, demo_events.stat().st_size + 1) is None


def test_no_worker_processes_falls_back_in_process(
    demo_events: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("no processes here")

    monkeypatch.setattr(parallel_module, "ProcessPoolExecutor", refuse)
    assert report([demo_events], 2) == report([demo_events], 1)
    assert "reading in-process" in caplog.text


def test_warning_line_numbers_are_the_files(demo_events: Path) -> None:
    """A corrupt line found by a later worker is still named by its line in the file."""
    numbers = [
        i for i, line in enumerate(demo_events.read_bytes().splitlines(), 1) if line == b"{not json"
    ]
    for workers in (1, 2, 3):
        warnings = report([demo_events], workers)["sources"]["warnings"]
        corrupt = [w for w in warnings if w.startswith("corrupt")]
        assert corrupt == [f"corrupt lines skipped (first at line {numbers[0]} of events.jsonl)"]
    assert json.loads(json.dumps(report([demo_events], 2)))  # JSON-ready


def _run_script(
    events: Path, *, with_thread: bool, prelude: str = "", argv: tuple[str, ...] = ("-",)
) -> subprocess.CompletedProcess[str]:
    """Report on ``events`` with 2 workers from a script given on stdin (or to ``-c`` when
    ``argv`` says so), optionally while another thread runs; ``prelude`` runs first."""
    script = (
        "import threading\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from trader_telemetry.report import compute_daily_report\n"
        f"{prelude}"
        "stop = threading.Event()\n"
        f"if {with_thread}:\n"
        "    threading.Thread(target=stop.wait, daemon=True).start()\n"
        f"report = compute_daily_report(events_files=[Path({str(events)!r})], "
        "metrics_file=None, day=date(2026, 11, 25), workers=2, parallel_min_bytes=0)\n"
        "stop.set()\n"
        "print(report['operations']['cycles'])\n"
    )
    command = [sys.executable, *argv] + ([script] if argv == ("-c",) else [])
    return subprocess.run(
        command, input=None if argv == ("-c",) else script, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_workers_that_die_leave_a_whole_report_and_no_thread_error(demo_events: Path) -> None:
    """Every worker dies on its first part (a fault injected on purpose: ``os._exit`` in the
    forked child): the parts are read in-process, the report is whole, and the pool's own
    thread does not fail (a cancelled future would make Python 3.11's broken pool raise
    there)."""
    prelude = (
        "import os\n"
        "from trader_telemetry.report import parallel\n"
        "parent, real = os.getpid(), parallel.fold_chunk\n"
        "def dying(*args, **kwargs):\n"
        "    if os.getpid() != parent:\n"
        "        os._exit(3)\n"
        "    return real(*args, **kwargs)\n"
        "parallel.fold_chunk = dying\n"
    )
    result = _run_script(demo_events, with_thread=False, prelude=prelude)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == report([demo_events], 1)["operations"]["cycles"]
    assert "reading that part here" in result.stderr
    assert "Exception in thread" not in result.stderr
    assert "InvalidStateError" not in result.stderr


def test_a_caller_with_threads_and_no_main_file_spawns_its_workers(demo_events: Path) -> None:
    """``python -c`` (no main file to run again) with another thread running: the workers are
    spawned, and they read (multiprocessing's own log names each spawned process)."""
    prelude = "import logging, multiprocessing\nmultiprocessing.log_to_stderr(logging.INFO)\n"
    result = _run_script(demo_events, with_thread=True, prelude=prelude, argv=("-c",))
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == report([demo_events], 1)["operations"]["cycles"]
    assert "SpawnProcess-1] child process calling self.run()" in result.stderr
    assert "reading in this process" not in result.stderr
    assert "reading that part here" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bot_script_is_never_run_again_by_a_worker(demo_events: Path, tmp_path: Path) -> None:
    """A bot (other threads running, so workers would be spawned) asks for the report from a
    script without a ``__main__`` guard. A spawned worker runs the caller's main script before
    it reads: here that would start the bot's loop once more per worker. The report reads in
    this process instead, and says why at INFO; the bot's top-level code runs once."""
    marker = tmp_path / "bot-started.txt"
    script = tmp_path / "bot.py"
    script.write_text(
        "import logging, os, threading\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from trader_telemetry.report import compute_daily_report\n"
        "logging.basicConfig(level=logging.INFO)\n"
        f"with open({str(marker)!r}, 'a') as f:\n"
        "    f.write(f'{os.getpid()}\\n')  # the bot's loop would start here\n"
        "stop = threading.Event()\n"
        "threading.Thread(target=stop.wait, daemon=True).start()\n"
        f"report = compute_daily_report(events_files=[Path({str(demo_events)!r})], "
        "metrics_file=None, day=date(2026, 11, 25), workers=2, parallel_min_bytes=0)\n"
        "stop.set()\n"
        "print(report['operations']['cycles'])\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == report([demo_events], 1)["operations"]["cycles"]
    assert len(marker.read_text().splitlines()) == 1, result.stderr
    assert "a spawned worker would run" in result.stderr
    assert "bot.py" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_a_single_threaded_caller_forks_its_workers(demo_events: Path) -> None:
    """Without other threads the workers are forked: they start at once, need not import the
    caller's script (read from stdin here), and read their parts."""
    result = _run_script(demo_events, with_thread=False)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == report([demo_events], 1)["operations"]["cycles"]
    assert result.stderr == ""


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_the_pool_thread_is_joined_before_the_report_returns(demo_events: Path) -> None:
    """The report leaves no thread of its pool behind, even when a worker is slow to exit.

    A pool told to shut down without waiting forgets its manager thread; left running, that
    thread races Python 3.11's exit hook (which writes to the wake-up pipe the thread is
    closing) and the caller's process ends with "Exception ignored ... Bad file descriptor".
    Here every worker lingers 0.5 s at exit (a fault injected on purpose, run in the child by
    its ``threading._shutdown``), so a thread not joined is still alive when the report returns.
    """
    script = (
        "import os, threading, time\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from trader_telemetry.report import compute_daily_report\n"
        "parent = os.getpid()\n"
        "def linger():\n"
        "    if os.getpid() != parent:\n"
        "        time.sleep(0.5)\n"
        "threading._register_atexit(linger)\n"
        f"report = compute_daily_report(events_files=[Path({str(demo_events)!r})], "
        "metrics_file=None, day=date(2026, 11, 25), workers=2, parallel_min_bytes=0)\n"
        "left = [t.name for t in threading.enumerate() if t is not threading.main_thread()]\n"
        "print(report['operations']['cycles'], left)\n"
    )
    result = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    cycles = report([demo_events], 1)["operations"]["cycles"]
    assert result.stdout.split(maxsplit=1) == [str(cycles), "[]\n"]
    assert result.stderr == ""


def test_start_method_spawns_while_another_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert start_method() == "spawn"
    finally:
        stop.set()
        thread.join()
    if sys.platform == "linux" and threading.active_count() == 1:
        # The joined thread's kernel task may outlive join() for a moment: poll, with a deadline.
        deadline = time.monotonic() + 10
        while start_method() != "fork" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert start_method() == "fork"


def test_ranges_shrink_toward_where_the_processes_meet(demo_events: Path) -> None:
    size = demo_events.stat().st_size
    chunks = plan_chunks([demo_events], 2, 0, per_worker=8)
    assert chunks is not None
    lengths = [(c.end if c.end is not None else size) - c.start for c in chunks]
    assert sum(lengths) == size
    middle = min(range(len(lengths)), key=lambda i: abs(chunks[i].start - size // 2))
    assert lengths[0] > 4 * lengths[middle]
    assert lengths[-1] > 4 * lengths[middle]
    assert lengths[0] == max(lengths[: len(lengths) // 2])


def _gpt_trader_orders_day(path: Path) -> None:
    """Trades and fills linked by order ids across the whole day (a fill before or long after
    its trade, a trade written twice, fills by client id), so many lie in different ranges."""
    rng = random.Random(7)
    lines = []
    for i in range(4000):
        stamp = f"2026-11-25T{i // 180:02d}:{i // 3 % 60:02d}:{i % 60:02d}.{i:06d}+00:00"
        symbol = ("BTC-PERP", "ETH-PERP", "SOL-PERP")[i % 3]
        order = f"o{rng.randrange(1500)}"
        kind = rng.randrange(6)
        if kind == 0:
            line = {"type": "trade", "order_id": order, "symbol": symbol, "status": "filled",
                    "realized_pnl": round(rng.uniform(-9, 9), 2), "fee": "0.05"}  # fmt: skip
        elif kind == 1:
            line = {"type": "trade", "client_order_id": f"c{order}", "symbol": symbol,
                    "status": rng.choice(["filled", "open", "FILLED"]), "pnl": "1.5"}  # fmt: skip
        elif kind == 2:
            name = rng.choice(["order_id", "client_order_id"])
            line = {"type": "fill", name: order if name == "order_id" else f"c{order}",
                    "symbol": symbol, "pnl": round(rng.uniform(-5, 5), 2), "fee": 0.04}  # fmt: skip
        elif kind == 3:
            line = {"type": "fill", "symbol": symbol, "pnl": round(rng.uniform(-5, 5), 2)}
        elif kind == 4:
            line = {"type": "position", "symbol": symbol, "quantity": "1.5", "mark_price": "9"}
        else:
            line = {"type": "pnl_update", "symbol": symbol, "realized_pnl": 0.0,
                    "unrealized_pnl": round(rng.uniform(-5, 5), 2)}  # fmt: skip
        lines.append(json.dumps({**line, "time": stamp}) + "\n")
    path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_equals_serial_with_trades_and_fills_in_different_ranges(
    tmp_path: Path, workers: int
) -> None:
    events = tmp_path / "events.jsonl"
    _gpt_trader_orders_day(events)
    chunks = plan_chunks([events], workers, 0, per_worker=8)
    assert chunks is not None
    assert len(chunks) > 10
    serial = report([events], 1)
    split = compute_daily_report(
        events_files=[events], metrics_file=None, day=DAY, now=NOW, workers=workers,
        parallel_min_bytes=0,
    )  # fmt: skip
    assert split == serial
    assert 300 < serial["trades"]["total"] < 4000
    assert serial["operations"]["orders"] > 1000


def test_a_worker_that_cannot_be_started_falls_back_in_process(
    demo_events: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The pool is created, but starting its process fails (fork or spawn refused, as when the
    system is out of processes): the report is read here, whole."""

    class NoProcesses(ProcessPoolExecutor):
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(parallel_module, "ProcessPoolExecutor", NoProcesses)
    assert report([demo_events], 2) == report([demo_events], 1)
    assert "no worker processes" in caplog.text
