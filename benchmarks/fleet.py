"""A fleet of demo bots scraped by one real Prometheus, against the same bot running alone.

Run from the repository root::

    python benchmarks/fleet.py                  # 50 bots, 90 s window, 400 symbols (~4 min)
    python benchmarks/fleet.py --quick          # 5 bots, 20 s window: a smoke run
    python benchmarks/fleet.py --bots 20 --seconds 60 --json fleet.json
    python benchmarks/fleet.py --agents 2       # then the agent tier: 2 agents -> 1 receiver

Needs ``prometheus`` on PATH (Debian package, 2.42) and ``trader_telemetry`` importable by this
interpreter: every bot is ``sys.executable -m trader_telemetry demo ...``. Everything listens on
127.0.0.1 only, and everything started lives in one temp dir that is removed at the end.

Method:

1. Solo baseline. One demo bot (``--symbols``, ``--interval``, ``--summary``) runs alone for the
   window plus a fixed settle time (about what a fleet bot spends before its window starts).
   This script scrapes it every scrape interval with the Accept headers Prometheus sends
   (OpenMetrics, gzip), so the solo bot pays the same exposition cost as a fleet bot and the
   ratios below isolate the fleet. SIGTERM stops it; its cycle p50, p99 and max come from the
   ``--summary`` JSON line it prints.
2. Fleet. N bots start at once, each its own process with its own ``--seed`` on an ephemeral
   loopback port read from its first stdout line. A ``file_sd`` targets file (one group per
   bot, label ``bot``) and a ``prometheus.yml`` with one job ``bots`` (``scrape_timeout`` equal
   to ``scrape_interval``) go into the temp dir, and a real Prometheus starts on 127.0.0.1:0
   with its TSDB there. The window opens once every started bot is ``up`` in
   ``/api/v1/targets`` (the first scrape comes about 5.4 s after Prometheus starts) and lasts
   ``--seconds``. VmRSS (``/proc/PID/status``) of every process is sampled every 2 s and the
   peak kept; utime+stime (``/proc/PID/stat``) is read when the window opens and closes;
   machine-wide busy time comes from ``/proc/stat``.
3. When the window closes, before anything stops, Prometheus is asked for: targets up;
   every raw sample of ``scrape_duration_seconds{job="bots"}[W]`` (W = the window), pooled
   over all targets, giving the p50, p99 (nearest rank) and max of all scrapes in the window;
   also ``quantile(0.99, max_over_time(...[W]))``, the p99 across targets of each target's
   worst scrape; failed scrapes from ``up``; series per bot from ``scrape_samples_scraped``
   and ``count by (instance) ({job="bots"})``. Then every bot gets SIGTERM (SIGKILL after
   20 s) and prints its ``--summary``; each bot's cycle p50/p99/max is divided by the solo
   bot's, and the table shows the median and the worst ratio across bots.

4. Agent tier (``--agents K``, needs Prometheus 3: ``.ci/go-tools.sh`` builds it, or
   ``--prometheus3 PATH``): the same bots, now scraped by K Prometheus agents remote-writing to
   one central receiver; see benchmarks/fleet_agent.py for what is measured. The server
   tier's Prometheus is stopped first; the bots' cycle summaries then also cover this tier.

Reading the cycle ratios: every 30th demo cycle sleeps 3.5 s, so with a few hundred cycles
the p99 (and max) is one of those slow cycles on both sides and moves little; CPU contention
shows in the p50. This is a measurement, not a gate: the exit status is 0 unless setup failed
(prometheus missing, the solo bot or no fleet bot starting), then 2 with a message; 130 on
Ctrl-C. Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType
from typing import IO, Any

JOB = "bots"
NAMESPACE = "trader"
#: Seconds the solo bot runs beyond ``--seconds``: about what a fleet bot spends before its
#: window opens (fleet start-up, Prometheus start-up and its ~5.4 s first-scrape throttle).
SOLO_SETTLE = 10.0
SAMPLE_EVERY = 2.0
BOT_START_TIMEOUT = 60.0
PROMETHEUS_START_TIMEOUT = 30.0
TARGETS_UP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
HTTP_TIMEOUT = 10.0
#: What Prometheus 2.42 sends when it scrapes (used for the solo bot's scrapes).
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
URL_LINE = re.compile(r"metrics on (http://127\.0\.0\.1:\d+/metrics)")
LISTENING = re.compile(r'msg="Listening on" address=(127\.0\.0\.1:\d+)')
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)$")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


class SetupError(Exception):
    """The benchmark could not be set up; the message says what is missing."""


# ---------------------------------------------------------------------------------- settings
@dataclass(frozen=True, slots=True)
class Settings:
    """What one run does."""

    bots: int
    seconds: float
    symbols: int
    interval: float
    scrape_interval: str
    quick: bool

    @property
    def scrape_seconds(self) -> float:
        return parse_duration(self.scrape_interval)

    def demo_flags(self) -> list[str]:
        """The flags every bot, solo and fleet, gets (plus its own ``--seed``)."""
        return [
            "--namespace",
            NAMESPACE,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--interval",
            f"{self.interval:g}",
            "--cycles",
            "0",
            "--symbols",
            str(self.symbols),
            "--summary",
        ]


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as ``5s``, ``500ms`` or ``1m``.

    Example:
        >>> parse_duration("500ms"), parse_duration("5s"), parse_duration("1m")
        (0.5, 5.0, 60.0)
    """
    match = DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration like 5s, 500ms or 1m: {text!r}")
    number, unit = float(match.group(1)), match.group(2)
    return number * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile by nearest rank (as the demo's ``--summary`` computes it).

    Example:
        >>> nearest_rank([0.1, 0.2, 0.3, 0.4], 0.5), nearest_rank([], 0.5)
        (0.2, None)
    """
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------- /proc
def cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` in seconds, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int | None:
    """VmRSS of ``pid`` in bytes, or None once it is gone (or a zombie)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def machine_cpu() -> tuple[float, float]:
    """(busy, total) seconds of all cores since boot, from ``/proc/stat``."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    total = sum(fields)
    idle = fields[3] + fields[4]  # idle + iowait
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def machine_info() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_total = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024
                break
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_total_mib": None if mem_total is None else round(mem_total / MIB),
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ---------------------------------------------------------------------------------- processes
@dataclass
class Child:
    """A process this script started, in its own session (so its own process group)."""

    name: str
    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    started: float
    stopped: float | None = None
    url: str | None = None
    seed: int | None = None
    cpu_window_start: float | None = None
    cpu_window_end: float | None = None
    rss_peak: int = 0
    rss_last: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr_tail(self, lines: int = 5) -> str:
        text = self.stderr_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def sample(self) -> int | None:
        rss = rss_bytes(self.pid)
        if rss is not None:
            self.rss_last = rss
            self.rss_peak = max(self.rss_peak, rss)
        return rss

    def summary(self) -> dict[str, Any] | None:
        """The ``--summary`` figures the bot printed when it stopped, if it did."""
        for line in self.stdout().splitlines():
            if line.startswith('{"summary"'):
                with contextlib.suppress(ValueError):
                    summary: dict[str, Any] = json.loads(line)["summary"]
                    return summary
        return None


class Processes:
    """Every process started, so that all of them are stopped whatever happens."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: list[Child] = []

    def start(self, name: str, argv: Sequence[str]) -> Child:
        stdout_path = self.workdir / f"{name}.out"
        stderr_path = self.workdir / f"{name}.err"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            popen = subprocess.Popen(  # noqa: S603 - our own interpreter and prometheus
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.workdir,
                start_new_session=True,
            )
        child = Child(name, popen, stdout_path, stderr_path, time.monotonic())
        self.children.append(child)
        return child

    def stop(self, children: Iterable[Child], timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM each one's process group, then SIGKILL whatever is left after ``timeout``."""
        children = list(children)
        for child in children:
            signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.popen.wait(max(0.0, deadline - time.monotonic()))
        for child in children:
            if child.popen.poll() is None:
                signal_group(child, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.popen.wait(5.0)
        now = time.monotonic()
        for child in children:
            if child.stopped is None:
                child.stopped = now

    def stop_all(self) -> None:
        self.stop([c for c in self.children if c.popen.poll() is None])


def signal_group(child: Child, signum: signal.Signals) -> None:
    """Signal the process group of ``child`` (its pid: it leads its own session)."""
    if child.popen.poll() is not None:  # reaped: the pid may belong to someone else now
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)


def demo_argv(settings: Settings, seed: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "trader_telemetry",
        "demo",
        *settings.demo_flags(),
        "--seed",
        str(seed),
    ]


def wait_for_urls(bots: Sequence[Child], timeout: float) -> None:
    """Read each bot's metrics URL from its first stdout line, until all have one or gave up."""
    deadline = time.monotonic() + timeout
    pending = list(bots)
    while pending and time.monotonic() < deadline:
        still: list[Child] = []
        for bot in pending:
            match = URL_LINE.search(bot.stdout())
            if match is not None:
                bot.url = match.group(1)
            elif bot.popen.poll() is None:
                still.append(bot)
        pending = still
        if pending:
            time.sleep(0.1)


def host_port(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc


# ---------------------------------------------------------------------------------- HTTP
def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"refusing a non-loopback URL: {url}")
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
            status: int = response.status
            body: bytes = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return status, body
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Prometheus:
    """A real Prometheus on an ephemeral loopback port, scraping the ``bots`` job."""

    def __init__(self, child: Child, base_url: str) -> None:
        self.child = child
        self.base_url = base_url

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        status, body = http_get(f"{self.base_url}{path}{query}")
        payload = json.loads(body)
        if status != 200 or payload.get("status") != "success":
            raise RuntimeError(f"{path} {params}: HTTP {status}: {payload.get('error')}")
        return payload["data"]

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        data = self.api("/api/v1/query", query=expr, time=f"{at:.3f}")
        result: list[dict[str, Any]] = data["result"]
        return result

    def scalar(self, expr: str, at: float) -> float | None:
        result = self.query(expr, at)
        return float(result[0]["value"][1]) if result else None

    def raw_samples(self, selector: str, window_s: int, at: float) -> list[float]:
        """Every raw sample value of ``selector`` over ``[window_s]``, pooled over series."""
        return [
            float(value)
            for series in self.query(f"{selector}[{window_s}s]", at)
            for _, value in series["values"]
        ]

    def head_series(self) -> float | None:
        """Series in the TSDB head, from ``/api/v1/status/tsdb`` (Prometheus does not scrape
        itself here)."""
        with contextlib.suppress(KeyError, TypeError, ValueError, RuntimeError, OSError):
            return float(self.api("/api/v1/status/tsdb")["headStats"]["numSeries"])
        return None

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self.api("/api/v1/targets", state="active")["activeTargets"]
        return [t for t in active if t.get("scrapePool") == JOB]


def prometheus_version(binary: str) -> str:
    result = subprocess.run(  # noqa: S603 - the binary found on PATH
        [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def write_prometheus_config(workdir: Path, bots: Sequence[Child], scrape_interval: str) -> Path:
    """The targets file and prometheus.yml (JSON is YAML, so no YAML library is needed)."""
    targets = workdir / "targets.json"
    groups = [
        {"targets": [host_port(bot.url)], "labels": {"bot": bot.name}}
        for bot in bots
        if bot.url is not None
    ]
    targets.write_text(json.dumps(groups, indent=2) + "\n")
    config = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": scrape_interval,
        },
        "scrape_configs": [
            {
                "job_name": JOB,
                "scrape_interval": scrape_interval,
                "scrape_timeout": scrape_interval,
                "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "5s"}],
            }
        ],
    }
    path = workdir / "prometheus.yml"
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def start_prometheus(processes: Processes, binary: str, config: Path) -> Prometheus:
    data = processes.workdir / "data"
    child = processes.start(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--web.listen-address=127.0.0.1:0",
            "--web.enable-lifecycle",
        ],
    )
    deadline = time.monotonic() + PROMETHEUS_START_TIMEOUT
    address = None
    while address is None:
        match = LISTENING.search(child.stderr_path.read_text(errors="replace"))
        if match is not None:
            address = match.group(1)
        elif child.popen.poll() is not None or time.monotonic() > deadline:
            raise SetupError(f"prometheus did not start: {child.stderr_tail()}")
        else:
            time.sleep(0.05)
    base_url = f"http://{address}"
    while True:
        with contextlib.suppress(OSError):
            if http_get(f"{base_url}/-/ready")[0] == 200:
                return Prometheus(child, base_url)
        if child.popen.poll() is not None or time.monotonic() > deadline:
            raise SetupError(f"prometheus never became ready: {child.stderr_tail()}")
        time.sleep(0.1)


def wait_targets_up(prometheus: Prometheus, expected: int, timeout: float) -> int:
    """Poll ``/api/v1/targets`` until ``expected`` bots are up; the count up at the end."""
    deadline = time.monotonic() + timeout
    up = 0
    while True:
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            up = sum(1 for t in prometheus.targets() if t.get("health") == "up")
        if up >= expected or time.monotonic() > deadline:
            return up
        time.sleep(0.25)


# ---------------------------------------------------------------------------------- solo
class SoloScraper(threading.Thread):
    """Scrapes one bot every ``interval`` seconds the way Prometheus does, timing each GET."""

    def __init__(self, url: str, interval: float) -> None:
        super().__init__(name="solo-scraper", daemon=True)
        self.url = url
        self.interval = interval
        self.halt = threading.Event()
        self.durations: list[float] = []
        self.errors = 0

    def run(self) -> None:
        headers = {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
        next_at = time.monotonic()
        while not self.halt.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval
            start = time.perf_counter()
            try:
                status, _ = http_get(self.url, headers)
            except OSError:
                self.errors += 1
                continue
            if status == 200:
                self.durations.append(time.perf_counter() - start)
            else:
                self.errors += 1


@dataclass
class SoloResult:
    summary: dict[str, Any]
    lifetime_s: float
    cpu_s: float | None
    rss_peak: int
    rss_last: int | None
    scrape_durations: list[float]
    scrape_errors: int
    machine_busy_fraction: float | None


def run_solo(
    processes: Processes, settings: Settings, progress: Callable[[str], None]
) -> SoloResult:
    seed = 0
    bot = processes.start("solo", demo_argv(settings, seed))
    bot.seed = seed
    wait_for_urls([bot], BOT_START_TIMEOUT)
    if bot.url is None:
        processes.stop([bot])
        raise SetupError(f"the solo demo bot did not start: {bot.stderr_tail() or bot.stdout()}")
    runtime = settings.seconds + SOLO_SETTLE
    progress(f"solo: 1 bot on {bot.url}, running {runtime:g} s")
    scraper = SoloScraper(bot.url, settings.scrape_seconds)
    scraper.start()
    busy0, total0 = machine_cpu()
    try:
        sample_until(time.monotonic() + runtime, [bot])
    finally:
        scraper.halt.set()
        scraper.join(HTTP_TIMEOUT + 1)
    busy1, total1 = machine_cpu()
    cpu = cpu_seconds(bot.pid)
    processes.stop([bot])
    summary = bot.summary()
    if summary is None or not summary.get("cycles"):
        raise SetupError(f"the solo demo bot printed no summary: {bot.stdout()!r}")
    assert bot.stopped is not None
    return SoloResult(
        summary=summary,
        lifetime_s=bot.stopped - bot.started,
        cpu_s=cpu,
        rss_peak=bot.rss_peak,
        rss_last=bot.rss_last,
        scrape_durations=scraper.durations,
        scrape_errors=scraper.errors,
        machine_busy_fraction=(busy1 - busy0) / (total1 - total0) if total1 > total0 else None,
    )


def sample_until(deadline: float, children: Sequence[Child]) -> None:
    """Sample every child's RSS every ``SAMPLE_EVERY`` seconds until ``deadline``."""
    while True:
        for child in children:
            child.sample()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(SAMPLE_EVERY, remaining))


# ---------------------------------------------------------------------------------- fleet
@dataclass
class FleetResult:
    """Everything measured on the fleet (None where a figure could not be had)."""

    bots: list[Child]
    prometheus: Prometheus
    pre_window_s: float
    window_s: float
    up_at_start: int
    up_at_end: int
    down_targets: list[str]
    scrape_durations: list[float]
    scrape_p99_of_target_max: float | None
    scrapes: int
    failed_scrapes: int
    samples_scraped: list[float]
    series_per_instance: list[float]
    head_series: float | None
    machine_busy_s: float
    machine_total_s: float
    bots_rss_total_peak: int = 0
    bots_rss_total_last: int = 0
    exited_early: list[str] = field(default_factory=list)


def run_fleet(
    processes: Processes, settings: Settings, binary: str, progress: Callable[[str], None]
) -> FleetResult:
    fleet_start = time.monotonic()
    bots: list[Child] = []
    for i in range(settings.bots):
        seed = 1000 + i
        bot = processes.start(f"bot-{i:03d}", demo_argv(settings, seed))
        bot.seed = seed
        bots.append(bot)
    wait_for_urls(bots, BOT_START_TIMEOUT)
    started = [b for b in bots if b.url is not None]
    for bot in bots:
        if bot.url is None:
            progress(f"fleet: {bot.name} did not start: {bot.stderr_tail() or bot.stdout()!r}")
    if not started:
        raise SetupError("no fleet bot started")
    progress(
        f"fleet: {len(started)}/{settings.bots} bots serving after "
        f"{time.monotonic() - fleet_start:.1f} s; starting prometheus"
    )

    config = write_prometheus_config(processes.workdir, started, settings.scrape_interval)
    prometheus = start_prometheus(processes, binary, config)
    up_at_start = wait_targets_up(prometheus, len(started), TARGETS_UP_TIMEOUT)
    pre_window = time.monotonic() - fleet_start
    progress(
        f"fleet: {up_at_start}/{settings.bots} targets up after {pre_window:.1f} s "
        f"(prometheus on {prometheus.base_url}); window of {settings.seconds:g} s"
    )

    watched = [*started, prometheus.child]
    for child in watched:
        child.cpu_window_start = cpu_seconds(child.pid)
    busy0, total0 = machine_cpu()
    window_open = time.monotonic()
    deadline = window_open + settings.seconds
    peak_total = 0
    last_total = 0
    while True:
        last_total = sum(b.sample() or 0 for b in started)
        prometheus.child.sample()
        peak_total = max(peak_total, last_total)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(SAMPLE_EVERY, remaining))
    busy1, total1 = machine_cpu()
    window_s = time.monotonic() - window_open
    at = time.time()
    for child in watched:
        child.cpu_window_end = cpu_seconds(child.pid)
    exited = [b.name for b in started if b.popen.poll() is not None]

    targets = prometheus.targets()
    up_at_end = sum(1 for t in targets if t.get("health") == "up")
    down = [
        f"{t.get('labels', {}).get('bot', t.get('scrapeUrl'))}: "
        f"{t.get('lastError') or t.get('health')}"
        for t in targets
        if t.get("health") != "up"
    ]
    range_s = max(1, round(window_s))
    selector = f'{{job="{JOB}"}}'
    durations = prometheus.raw_samples(f"scrape_duration_seconds{selector}", range_s, at)
    ups = prometheus.raw_samples(f"up{selector}", range_s, at)
    p99_of_max = prometheus.scalar(
        f"quantile(0.99, max_over_time(scrape_duration_seconds{selector}[{range_s}s]))", at
    )
    samples = [
        float(s["value"][1]) for s in prometheus.query(f"scrape_samples_scraped{selector}", at)
    ]
    per_instance = [
        float(s["value"][1]) for s in prometheus.query(f"count by (instance) ({selector})", at)
    ]
    head = prometheus.head_series()
    return FleetResult(
        bots=bots,
        prometheus=prometheus,
        pre_window_s=pre_window,
        window_s=window_s,
        up_at_start=up_at_start,
        up_at_end=up_at_end,
        down_targets=down,
        scrape_durations=durations,
        scrape_p99_of_target_max=p99_of_max,
        scrapes=len(ups),
        failed_scrapes=sum(1 for v in ups if v == 0),
        samples_scraped=samples,
        series_per_instance=per_instance,
        head_series=head,
        machine_busy_s=busy1 - busy0,
        machine_total_s=total1 - total0,
        bots_rss_total_peak=peak_total,
        bots_rss_total_last=last_total,
        exited_early=exited,
    )


# ---------------------------------------------------------------------------------- report
def versions(binary: str) -> dict[str, str]:
    try:
        ours = version("trader_telemetry")
    except PackageNotFoundError:
        ours = "not installed"
    return {
        "python": f"{platform.python_version()} ({platform.python_implementation()}, "
        f"{platform.system()} {platform.machine()})",
        "prometheus": prometheus_version(binary),
        "trader_telemetry": ours,
    }


def mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:,.0f} MiB"


def secs(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def cpu_delta(child: Child) -> float | None:
    if child.cpu_window_start is None or child.cpu_window_end is None:
        return None
    return child.cpu_window_end - child.cpu_window_start


def figures(settings: Settings, solo: SoloResult, fleet: FleetResult) -> dict[str, Any]:
    """Every figure of the report, as plain data (the table and the JSON are made from it)."""
    started = [b for b in fleet.bots if b.url is not None]
    summaries = {b.name: s for b in started if (s := b.summary()) is not None and s["cycles"]}
    ratios: dict[str, list[float]] = {"p50": [], "p99": [], "max": []}
    for summary in summaries.values():
        for key, values in ratios.items():
            ours, theirs = summary[f"{key}_seconds"], solo.summary[f"{key}_seconds"]
            if ours is not None and theirs:
                values.append(ours / theirs)
    bot_window_cpu = [d for b in started if (d := cpu_delta(b)) is not None]
    bot_lifetime_cpu = [b.cpu_window_end for b in started if b.cpu_window_end is not None]
    prom = fleet.prometheus.child
    cores = os.cpu_count() or 1
    window = fleet.window_s
    durations = fleet.scrape_durations
    samples = fleet.samples_scraped
    return {
        "settings": {
            "bots": settings.bots,
            "seconds": settings.seconds,
            "symbols": settings.symbols,
            "interval": settings.interval,
            "scrape_interval": settings.scrape_interval,
            "scrape_timeout": settings.scrape_interval,
            "quick": settings.quick,
            "solo_settle_seconds": SOLO_SETTLE,
        },
        "bots_started": len(started),
        "bots_exited_early": fleet.exited_early,
        "bots_with_summary": len(summaries),
        "pre_window_seconds": fleet.pre_window_s,
        "window_seconds": window,
        "targets_up_at_start": fleet.up_at_start,
        "targets_up_at_end": fleet.up_at_end,
        "targets_down": fleet.down_targets,
        "scrapes": fleet.scrapes,
        "failed_scrapes": fleet.failed_scrapes,
        "scrape_duration_seconds": {
            "pooled_samples": len(durations),
            "p50": nearest_rank(durations, 0.50),
            "p99": nearest_rank(durations, 0.99),
            "max": max(durations, default=None),
            "p99_across_targets_of_target_max": fleet.scrape_p99_of_target_max,
        },
        "series_per_bot": {
            "scrape_samples_scraped_mean": statistics.fmean(samples) if samples else None,
            "scrape_samples_scraped_min": min(samples, default=None),
            "scrape_samples_scraped_max": max(samples, default=None),
            "count_by_instance_mean": (
                statistics.fmean(fleet.series_per_instance) if fleet.series_per_instance else None
            ),
        },
        "prometheus_head_series": fleet.head_series,
        "solo": {
            "summary": solo.summary,
            "lifetime_seconds": solo.lifetime_s,
            "cpu_seconds": solo.cpu_s,
            "rss_peak_bytes": solo.rss_peak,
            "rss_final_bytes": solo.rss_last,
            "client_scrapes": len(solo.scrape_durations),
            "client_scrape_errors": solo.scrape_errors,
            "client_scrape_p99_seconds": nearest_rank(solo.scrape_durations, 0.99),
            "machine_busy_fraction": solo.machine_busy_fraction,
        },
        "fleet_cycles_median": (
            statistics.median(s["cycles"] for s in summaries.values()) if summaries else None
        ),
        "fleet_lifetime_seconds_median": statistics.median(
            b.stopped - b.started for b in started if b.stopped is not None
        ),
        "cycle_ratio_vs_solo": {
            key: {
                "median": statistics.median(values) if values else None,
                "worst": max(values, default=None),
            }
            for key, values in ratios.items()
        },
        "cpu": {
            "cores": cores,
            "bots_window_seconds": sum(bot_window_cpu),
            "bots_lifetime_seconds": sum(bot_lifetime_cpu),
            "bot_window_seconds_max": max(bot_window_cpu, default=None),
            "prometheus_window_seconds": cpu_delta(prom),
            "prometheus_lifetime_seconds": prom.cpu_window_end,
            "machine_busy_fraction": (
                fleet.machine_busy_s / fleet.machine_total_s if fleet.machine_total_s else None
            ),
            "ours_busy_fraction": (
                (sum(bot_window_cpu) + (cpu_delta(prom) or 0.0)) / (window * cores)
            ),
        },
        "rss": {
            "bots_total_peak_bytes": fleet.bots_rss_total_peak,
            "bots_total_final_bytes": fleet.bots_rss_total_last,
            "bot_peak_bytes_max": max((b.rss_peak for b in started), default=None),
            "prometheus_peak_bytes": prom.rss_peak,
            "prometheus_final_bytes": prom.rss_last,
        },
        "per_bot": [
            {
                "bot": b.name,
                "seed": b.seed,
                "url": b.url,
                "summary": summaries.get(b.name),
                "cpu_window_seconds": cpu_delta(b),
                "cpu_lifetime_seconds": b.cpu_window_end,
                "rss_peak_bytes": b.rss_peak,
            }
            for b in fleet.bots
        ],
    }


def format_table(f: dict[str, Any]) -> list[str]:
    n = f["settings"]["bots"]
    sd = f["scrape_duration_seconds"]
    series = f["series_per_bot"]
    solo = f["solo"]
    cpu = f["cpu"]
    rss = f["rss"]
    ratios = f["cycle_ratio_vs_solo"]
    window = f["window_seconds"]
    cores = cpu["cores"]

    def cores_worth(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds:.1f} s ({seconds / window:.2f} cores)"

    def summary_text(s: dict[str, Any]) -> str:
        return (
            f"p50 {secs(s['p50_seconds'])}, p99 {secs(s['p99_seconds'])}, "
            f"max {secs(s['max_seconds'])} ({s['cycles']} cycles)"
        )

    samples_mean = series["scrape_samples_scraped_mean"]
    rows = [
        ("bots started", f"{f['bots_started']}/{n}", "first stdout line gave a URL"),
        (
            "targets up",
            f"{f['targets_up_at_end']}/{n} at end ({f['targets_up_at_start']}/{n} at start)",
            '/api/v1/targets, health == "up"',
        ),
        (
            "scrapes in window (failed)",
            f"{f['scrapes']} ({f['failed_scrapes']})",
            f"samples of up[W], W = {window:.0f} s window",
        ),
        (
            "scrape_duration_seconds p50 / p99 / max",
            f"{secs(sd['p50'])} / {secs(sd['p99'])} / {secs(sd['max'])}",
            f"all {sd['pooled_samples']} raw samples in the window, pooled over targets",
        ),
        (
            "p99 across targets of each target's max",
            secs(sd["p99_across_targets_of_target_max"]),
            "quantile(0.99, max_over_time(scrape_duration_seconds[W]))",
        ),
        (
            "solo bot scrape (client-side) p99",
            secs(solo["client_scrape_p99_seconds"]),
            f"{solo['client_scrapes']} GETs with Prometheus' Accept + gzip",
        ),
        (
            "series per bot",
            "-"
            if samples_mean is None
            else f"{samples_mean:,.0f} (min {series['scrape_samples_scraped_min']:,.0f}, "
            f"max {series['scrape_samples_scraped_max']:,.0f})",
            "scrape_samples_scraped at window end",
        ),
        (
            "series per instance in TSDB",
            "-"
            if series["count_by_instance_mean"] is None
            else f"{series['count_by_instance_mean']:,.0f}",
            'mean of count by (instance) ({job="bots"}), incl. up and scrape_*',
        ),
        (
            "Prometheus head series",
            "-" if f["prometheus_head_series"] is None else f"{f['prometheus_head_series']:,.0f}",
            "/api/v1/status/tsdb headStats.numSeries",
        ),
        (
            "solo cycle",
            summary_text(solo["summary"]),
            f"one bot alone, {solo['lifetime_seconds']:.0f} s, --summary",
        ),
        (
            "fleet cycle p50 / solo p50",
            ratio_text_of(ratios["p50"]),
            f"{f['bots_with_summary']} bot summaries, median {f['fleet_cycles_median']} cycles "
            f"in {f['fleet_lifetime_seconds_median']:.0f} s",
        ),
        ("fleet cycle p99 / solo p99", ratio_text_of(ratios["p99"]), "nearest rank, per bot"),
        ("fleet cycle max / solo max", ratio_text_of(ratios["max"]), ""),
        (
            "bots CPU, window",
            cores_worth(cpu["bots_window_seconds"]),
            f"sum of utime+stime; busiest bot {secs(cpu['bot_window_seconds_max'], 1)}",
        ),
        ("bots CPU, lifetime", secs(cpu["bots_lifetime_seconds"], 1), "start-up to window end"),
        (
            "solo bot CPU, lifetime",
            secs(solo["cpu_seconds"], 1),
            f"{solo['lifetime_seconds']:.0f} s alone",
        ),
        ("Prometheus CPU, window", cores_worth(cpu["prometheus_window_seconds"]), ""),
        ("Prometheus CPU, lifetime", secs(cpu["prometheus_lifetime_seconds"], 1), ""),
        (
            "machine busy, fleet window",
            busy_text(cpu["machine_busy_fraction"], cores),
            f"/proc/stat, every process; bots + Prometheus: {cpu['ours_busy_fraction']:.0%}",
        ),
        (
            "machine busy, solo run",
            busy_text(solo["machine_busy_fraction"], cores),
            "/proc/stat, every process (the solo bot and this script included)",
        ),
        (
            "bots RSS total, peak / final",
            f"{mib(rss['bots_total_peak_bytes'])} / {mib(rss['bots_total_final_bytes'])}",
            f"VmRSS every {SAMPLE_EVERY:g} s; largest bot {mib(rss['bot_peak_bytes_max'])}",
        ),
        (
            "solo bot RSS, peak / final",
            f"{mib(solo['rss_peak_bytes'])} / {mib(solo['rss_final_bytes'])}",
            "",
        ),
        (
            "Prometheus RSS, peak / final",
            f"{mib(rss['prometheus_peak_bytes'])} / {mib(rss['prometheus_final_bytes'])}",
            "",
        ),
    ]
    lines = ["| figure | value | how |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return lines


def format_notes(f: dict[str, Any]) -> list[str]:
    """Caveats the figures themselves show."""
    notes = []
    cpu = f["cpu"]
    busy, ours = cpu["machine_busy_fraction"], cpu["ours_busy_fraction"]
    if busy is not None and busy - ours > 0.25:
        notes.append(
            f"note: other processes kept the machine {busy - ours:.0%} busy during the fleet "
            f"window (bots + Prometheus: {ours:.0%}); the cycle ratios include that contention."
        )
    solo_busy = f["solo"]["machine_busy_fraction"]
    if busy is not None and solo_busy is not None and abs(busy - solo_busy) > 0.25:
        notes.append(
            f"note: the machine was {solo_busy:.0%} busy during the solo run and {busy:.0%} "
            "during the fleet window: the baseline and the fleet ran under different load."
        )
    solo_p99 = f["solo"]["summary"]["p99_seconds"]
    if solo_p99 is not None and solo_p99 > 1.0:
        notes.append(
            f"note: the solo p99 ({solo_p99:.2f} s) is one of the demo's scheduled slow cycles; "
            "p99 and max compare those on both sides, the p50 ratio is where contention shows."
        )
    notes += [f"down at end: {target}" for target in f["targets_down"]]
    notes += [f"exited before the window closed: {name}" for name in f["bots_exited_early"]]
    return notes


def busy_text(fraction: float | None, cores: int) -> str:
    return "-" if fraction is None else f"{fraction:.0%} of {cores} cores"


def ratio_text_of(entry: dict[str, float | None]) -> str:
    if entry["median"] is None or entry["worst"] is None:
        return "-"
    return f"median {entry['median']:.2f}x, worst {entry['worst']:.2f}x"


def one_line(f: dict[str, Any]) -> str:
    n = f["settings"]["bots"]
    sd = f["scrape_duration_seconds"]
    cpu = f["cpu"]
    rss = f["rss"]
    r = f["cycle_ratio_vs_solo"]
    window = f["window_seconds"]
    busy = cpu["machine_busy_fraction"]
    prom_cpu = cpu["prometheus_window_seconds"]
    return (
        f"summary: {f['targets_up_at_end']}/{n} targets up, {f['failed_scrapes']} failed "
        f"scrapes; scrape p99 {secs(sd['p99'])} (max {secs(sd['max'])}); "
        f"bot cycle p99 vs solo {ratio_text_of(r['p99'])}, p50 {ratio_text_of(r['p50'])}; "
        f"bots {cpu['bots_window_seconds'] / window:.2f} cores, Prometheus "
        f"{'-' if prom_cpu is None else f'{prom_cpu / window:.2f}'} cores, machine "
        f"{'-' if busy is None else f'{busy:.0%}'} busy of {cpu['cores']} "
        f"(ours {cpu['ours_busy_fraction']:.0%}); RSS bots "
        f"{mib(rss['bots_total_peak_bytes'])} peak, Prometheus {mib(rss['prometheus_peak_bytes'])}"
    )


# ---------------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bots", type=int, help="demo bots in the fleet (default 50; 5 --quick)")
    parser.add_argument(
        "--seconds", type=float, help="window once all targets are up (default 90; 20 --quick)"
    )
    parser.add_argument("--symbols", type=int, default=400, help="--symbols per bot (default 400)")
    parser.add_argument(
        "--interval", type=float, default=0.5, help="demo --interval, seconds (default 0.5)"
    )
    parser.add_argument(
        "--scrape-interval", default="5s", help="Prometheus scrape_interval (default 5s)"
    )
    parser.add_argument(
        "--agents",
        type=int,
        default=0,
        metavar="K",
        help="then run the agent tier: K Prometheus 3 agents remote-writing to one receiver",
    )
    parser.add_argument(
        "--prometheus3", metavar="PATH", help="Prometheus 3 binary (default: .ci/go-tools.sh's)"
    )
    parser.add_argument("--quick", action="store_true", help="5 bots, 20 s: a smoke run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    try:
        parse_duration(args.scrape_interval)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if args.bots is None:
        args.bots = 5 if args.quick else 50
    if args.seconds is None:
        args.seconds = 20.0 if args.quick else 90.0
    if args.bots < 1 or args.seconds <= 0 or args.symbols < 1 or args.interval < 0:
        parser.error("--bots, --seconds and --symbols must be positive, --interval >= 0")
    if args.agents < 0:
        parser.error("--agents must be >= 0")
    return args


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def workspace() -> Iterator[Processes]:
    """A temp dir and a process registry; on the way out every process is stopped (Ctrl-C
    ignored meanwhile) and the dir is removed."""
    workdir = Path(tempfile.mkdtemp(prefix="trader-telemetry-fleet-"))
    processes = Processes(workdir)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield processes
    finally:
        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            processes.stop_all()
        finally:
            signal.signal(signal.SIGINT, interrupt)
            signal.signal(signal.SIGTERM, previous)
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, binary: str, out: IO[str]) -> dict[str, Any]:
    settings = Settings(
        bots=args.bots,
        seconds=args.seconds,
        symbols=args.symbols,
        interval=args.interval,
        scrape_interval=args.scrape_interval,
        quick=args.quick,
    )
    with workspace() as processes:
        solo = run_solo(processes, settings, progress)
        progress(f"solo: {solo.summary['cycles']} cycles, p99 {secs(solo.summary['p99_seconds'])}")
        fleet = run_fleet(processes, settings, binary, progress)
        agent_tier = None
        if args.agents:
            # fleet_agent imports this module as `fleet`: the running script must be that
            # module (not a second copy), so that its SetupError is the one caught in main().
            sys.modules.setdefault("fleet", sys.modules[__name__])
            import fleet_agent

            progress("fleet: stopping prometheus; the bots stay up for the agent tier")
            processes.stop([fleet.prometheus.child])
            agent_tier = fleet_agent.run_agent_tier(
                processes,
                settings,
                fleet.bots,
                fleet_agent.locate_prometheus3(args.prometheus3),
                agents=args.agents,
                progress=progress,
            )
        progress("fleet: stopping bots (SIGTERM), then prometheus")
        processes.stop([b for b in fleet.bots if b.popen.poll() is None])
        processes.stop([c for c in processes.children if c.popen.poll() is None])
        result = figures(settings, solo, fleet)
        if agent_tier is not None:
            result["agent_tier"] = agent_tier
    for line in format_table(result):
        print(line, file=out)
    if agent_tier is not None:
        import fleet_agent

        print(file=out)
        for line in fleet_agent.format_agent_tier(agent_tier):
            print(line, file=out)
    notes = format_notes(result)
    if notes:
        print(file=out)
    for note in notes:
        print(note, file=out)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    binary = shutil.which("prometheus")
    if binary is None:
        print(
            "fleet.py: setup failed: prometheus is not on PATH "
            "(apt-get install --no-install-recommends prometheus)",
            file=sys.stderr,
        )
        return 2
    info = versions(binary)
    machine = machine_info()
    for name, value in info.items():
        print(f"{name}: {value}")
    print(
        f"machine: {machine['cores']} cores ({machine['usable_cores']} usable), "
        f"{machine['cpu_model']}, {machine['memory_total_mib']} MiB, "
        f"Linux {machine['kernel']}, load {machine['load_average_at_start']}"
    )
    print(
        f"method: {args.bots} demo bots (--symbols {args.symbols} --interval {args.interval:g}) "
        f"scraped every {args.scrape_interval} by one Prometheus for {args.seconds:g} s once all "
        f"are up, against one bot alone for {args.seconds + SOLO_SETTLE:g} s"
        + (" (--quick: a smoke run, figures are indicative only)" if args.quick else "")
    )
    print(flush=True)
    try:
        result = run(args, binary, sys.stdout)
    except SetupError as exc:
        print(f"fleet.py: setup failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fleet.py: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    print()
    if args.json is not None:
        payload = {"versions": info, "machine": machine, **result}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    print(one_line(result))
    return 0  # a measurement, not a gate


if __name__ == "__main__":
    sys.exit(main())
