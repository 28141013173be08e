"""The agent tier of benchmarks/fleet.py (``--agents K``): the same running fleet, scraped by K
Prometheus agents (``prometheus --agent``, Prometheus 3) that remote-write to one central
receiver (Prometheus 3 with ``--web.enable-remote-write-receiver``), as ``ops render --mode
agent`` sets it up for a fleet past one machine.

Method: once the server tier's window has closed (the bots keep running), the bots are dealt
round-robin to K agents, each with its own ``file_sd`` targets file and the same scrape interval,
remote-writing to the receiver's ``/api/v1/write``. The window opens once every bot's ``up``
series is at the receiver and lasts ``--seconds``. Measured: series per bot at the receiver
(``count by (instance)``), the receiver's ingest rate (``prometheus_tsdb_head_samples_appended_
total`` read from its own ``/metrics`` when the window opens and closes), each agent's samples
sent (``prometheus_remote_storage_samples_total``), failed sends, the remote-write lag
(highest timestamp in vs sent), and CPU seconds and peak RSS of the agents and the receiver.
Everything listens on 127.0.0.1; the processes are stopped by fleet.py's registry.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import fleet as base

AGENT_UP_TIMEOUT = 60.0
_SAMPLE_LINE = re.compile(r"^(\w+)(\{[^}]*\})? (\S+)", re.MULTILINE)
# Prometheus 3 logs msg="Listening on" component=web address=... (2.42: no component).
_LISTENING = re.compile(r'msg="Listening on"[^\n]*? address=(127\.0\.0\.1:\d+)')


def locate_prometheus3(explicit: str | None) -> str:
    """``--prometheus3 PATH``, else the binary .ci/go-tools.sh built (``--locate``)."""
    if explicit:
        return explicit
    script = Path(__file__).resolve().parent.parent / ".ci" / "go-tools.sh"
    result = subprocess.run(  # noqa: S603 - our own script
        ["bash", str(script), "--locate"],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.startswith("TT_PROMETHEUS3="):
            return line.split("=", 1)[1]
    raise base.SetupError(
        f"the agent tier needs Prometheus 3: {result.stderr.strip()} (or pass --prometheus3)"
    )


def metric_sum(text: str, name: str) -> float:
    """The sum of every sample of ``name`` in a Prometheus text exposition."""
    return sum(float(m.group(3)) for m in _SAMPLE_LINE.finditer(text) if m.group(1) == name)


def own_metrics(server: base.Prometheus) -> str:
    status, body = base.http_get(f"{server.base_url}/metrics")
    if status != 200:
        raise RuntimeError(f"{server.base_url}/metrics: HTTP {status}")
    return body.decode()


def start(
    processes: base.Processes, name: str, binary: str, config: Path, *flags: str
) -> base.Prometheus:
    """A Prometheus (server or agent) on 127.0.0.1:0, its data under the work dir."""
    data = processes.workdir / f"{name}-data"
    storage = "--storage.agent.path" if "--agent" in flags else "--storage.tsdb.path"
    child = processes.start(
        name,
        [binary, f"--config.file={config}", f"{storage}={data}",
         "--web.listen-address=127.0.0.1:0", *flags],
    )  # fmt: skip
    deadline = time.monotonic() + base.PROMETHEUS_START_TIMEOUT
    while True:
        match = _LISTENING.search(child.stderr_path.read_text(errors="replace"))
        if match is not None:
            url = f"http://{match.group(1)}"
            try:
                if base.http_get(f"{url}/-/ready")[0] == 200:
                    return base.Prometheus(child, url)
            except OSError:
                pass
        if child.popen.poll() is not None or time.monotonic() > deadline:
            raise base.SetupError(f"{name} did not start: {child.stderr_tail()}")
        time.sleep(0.1)


def run_agent_tier(
    processes: base.Processes,
    settings: base.Settings,
    bots: Sequence[base.Child],
    binary: str,
    *,
    agents: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Deal ``bots`` to ``agents`` agents writing to one receiver; the figures of the window."""
    workdir = processes.workdir
    receiver_config = workdir / "receiver.yml"
    receiver_config.write_text(json.dumps({"global": {"scrape_interval": "1m"}}) + "\n")
    receiver = start(
        processes, "receiver", binary, receiver_config, "--web.enable-remote-write-receiver"
    )
    started = [b for b in bots if b.url is not None and b.popen.poll() is None]
    shares = [started[i::agents] for i in range(agents)]
    agent_servers: list[base.Prometheus] = []
    for index, share in enumerate(shares):
        if not share:
            continue
        targets = workdir / f"agent-{index}-targets.json"
        groups = [{"targets": [base.host_port(b.url or "")], "labels": {"bot": b.name}}
                  for b in share]  # fmt: skip
        targets.write_text(json.dumps(groups) + "\n")
        config = workdir / f"agent-{index}.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {
                        "scrape_interval": settings.scrape_interval,
                        "scrape_timeout": settings.scrape_interval,
                        "external_labels": {"agent": f"agent-{index}"},
                    },
                    "scrape_configs": [
                        {"job_name": base.JOB, "file_sd_configs": [{"files": [str(targets)]}]}
                    ],
                    "remote_write": [{"url": f"{receiver.base_url}/api/v1/write"}],
                }
            )
            + "\n"
        )
        agent_servers.append(start(processes, f"agent-{index}", binary, config, "--agent"))
    progress(
        f"agent tier: {len(agent_servers)} agents, {len(started)} bots, receiver on "
        f"{receiver.base_url}; waiting for every bot's up series at the receiver"
    )
    deadline = time.monotonic() + AGENT_UP_TIMEOUT
    up = 0.0
    while time.monotonic() < deadline:
        try:
            up = receiver.scalar(f'count(up{{job="{base.JOB}"}} == 1)', time.time()) or 0.0
        except (OSError, RuntimeError):
            up = 0.0
        if up >= len(started):
            break
        time.sleep(0.5)
    watched = [receiver.child, *(a.child for a in agent_servers)]
    for child in watched:
        child.cpu_window_start = base.cpu_seconds(child.pid)
    appended0 = metric_sum(own_metrics(receiver), "prometheus_tsdb_head_samples_appended_total")
    sent0 = [metric_sum(own_metrics(a), "prometheus_remote_storage_samples_total")
             for a in agent_servers]  # fmt: skip
    window_open = time.monotonic()
    base.sample_until(window_open + settings.seconds, watched)
    window = time.monotonic() - window_open
    for child in watched:
        child.cpu_window_end = base.cpu_seconds(child.pid)
    appended1 = metric_sum(own_metrics(receiver), "prometheus_tsdb_head_samples_appended_total")
    agent_texts = [own_metrics(a) for a in agent_servers]
    sent1 = [metric_sum(t, "prometheus_remote_storage_samples_total") for t in agent_texts]
    failed = sum(metric_sum(t, "prometheus_remote_storage_samples_failed_total")
                 for t in agent_texts)  # fmt: skip
    at = time.time()
    per_instance = [
        float(s["value"][1])
        for s in receiver.query(f'count by (instance) ({{job="{base.JOB}"}})', at)
    ]
    cpu = {c.name: base.cpu_delta(c) for c in watched}
    agent_cpu = [v for name, v in cpu.items() if name.startswith("agent-") and v is not None]
    return {
        "agents": len(agent_servers),
        "bots": len(started),
        "bots_per_agent": [len(s) for s in shares if s],
        "up_at_receiver_at_start": up,
        "window_seconds": window,
        "series_per_bot": {
            "min": min(per_instance, default=None),
            "max": max(per_instance, default=None),
        },
        "receiver_series": sum(per_instance),
        "receiver_samples_per_second": (appended1 - appended0) / window,
        "agents_samples_sent_per_second": (sum(sent1) - sum(sent0)) / window,
        "agents_samples_failed_total": failed,
        "cpu_cores": {
            "receiver": None if cpu["receiver"] is None else cpu["receiver"] / window,
            "agent_mean": sum(agent_cpu) / len(agent_cpu) / window if agent_cpu else None,
        },
        "rss_peak_bytes": {
            "receiver": receiver.child.rss_peak,
            "agent_max": max((a.child.rss_peak for a in agent_servers), default=0),
        },
        "prometheus3": _version(binary),
    }


def _version(binary: str) -> str:
    # A `go install` build prints no version of its own; .ci/go-tools.sh's path names it.
    match = re.search(r"prometheus-(v[0-9][0-9.]*)", binary)
    if match is not None:
        return f"Prometheus 3, Go module {match.group(1)}"
    return base.prometheus_version(binary)


def format_agent_tier(f: dict[str, Any]) -> list[str]:
    """The agent tier's lines of the report."""
    spb = f["series_per_bot"]
    cpu = f["cpu_cores"]
    rss = f["rss_peak_bytes"]

    def cores(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    return [
        f"agent tier ({f['prometheus3']}): {f['agents']} agents, bots per agent "
        f"{f['bots_per_agent']}, window {f['window_seconds']:.0f} s",
        f"  series per bot at the receiver: {spb['min']:g}..{spb['max']:g} "
        f"({f['receiver_series']:g} in all)"
        if spb["min"] is not None
        else "  series per bot at the receiver: none arrived",
        f"  receiver ingest {f['receiver_samples_per_second']:.0f} samples/s; agents sent "
        f"{f['agents_samples_sent_per_second']:.0f} samples/s, "
        f"{f['agents_samples_failed_total']:g} failed",
        f"  CPU: receiver {cores(cpu['receiver'])} cores, agent mean {cores(cpu['agent_mean'])} "
        f"cores; RSS peak: receiver {base.mib(rss['receiver'])}, agent "
        f"{base.mib(rss['agent_max'])}",
    ]
