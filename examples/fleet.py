"""A fleet of three bots, found by Prometheus through a rendered ``file_sd`` scrape config.

One endpoint per bot (docs/ops.md, "Fleets"): each bot serves its own ``/metrics``, and
Prometheus finds them through a targets file it watches, so adding a bot is a file edit, not a
reload. This script plays the part of the deployment tooling:

1. starts three bots (``examples/sync_bot.py``), each on a free port of 127.0.0.1;
2. renders the monitoring bundle for the fleet with the command an operator runs::

       trader-telemetry ops render --out DIR --job fleet --targets-file 'targets/*.json' \\
           --no-alertmanager

   (``prometheus.yml`` with ``file_sd_configs``, the alert rules and their tests, the Grafana
   dashboard, the compose bundle);
3. writes ``DIR/targets/fleet.json``, the three bots' addresses with a ``bot`` label, atomically
   (Prometheus may read it at any moment);
4. waits for the bots; Ctrl-C or SIGTERM stops them all.

It prints the three metrics URLs, separated by spaces, on its first line. Then run a Prometheus
on the rendered config and watch the three targets come up::

    python examples/fleet.py --out fleet/
    prometheus --config.file=fleet/prometheus.yml --storage.tsdb.path=fleet/data \\
        --web.listen-address=127.0.0.1:9090
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

BOTS = ("alpha", "bravo", "charlie")
SYNC_BOT = Path(__file__).with_name("sync_bot.py")


def start_bots(args: argparse.Namespace) -> list[tuple[subprocess.Popen[str], str]]:
    """Start one bot per name; returns each process with the metrics URL it printed."""
    bots: list[tuple[subprocess.Popen[str], str]] = []
    for _name in BOTS:
        command = [
            *(sys.executable, str(SYNC_BOT), "--port", "0", "--namespace", args.namespace),
            *("--cycles", str(args.cycles), "--interval", str(args.interval)),
            *("--linger", str(args.linger)),
        ]
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            command, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        bots.append((process, ""))
    started: list[tuple[subprocess.Popen[str], str]] = []
    for name, (process, _) in zip(BOTS, bots, strict=True):  # three imports run in parallel
        assert process.stdout is not None  # noqa: S101 - stdout=PIPE
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            stop_bots(bots)
            raise SystemExit(f"bot {name} did not start: {url!r}")
        started.append((process, url))
    return started


def relay(name: str, stream: TextIO) -> None:
    """Copy a bot's output lines to ours, prefixed with its name, until it exits."""
    for line in stream:
        print(f"[{name}] {line.rstrip()}", flush=True)


def render_bundle(out: Path, args: argparse.Namespace) -> None:
    """``trader-telemetry ops render`` for the fleet, with file_sd targets."""
    command = [
        *(sys.executable, "-m", "trader_telemetry", "ops", "render", "--out", str(out)),
        *("--namespace", args.namespace, "--job", "fleet"),
        *("--targets-file", "targets/*.json", "--no-alertmanager"),
        *("--scrape-interval", str(args.scrape_interval)),
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # noqa: S603 - as above


def write_targets(out: Path, urls: Sequence[str]) -> Path:
    """The file_sd targets file, replaced atomically so Prometheus never reads half of it."""
    groups = [
        {"targets": [urlsplit(url).netloc], "labels": {"bot": name}}
        for name, url in zip(BOTS, urls, strict=True)
    ]
    directory = out / "targets"
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".fleet-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(groups, handle, indent=2)
    target = directory / "fleet.json"
    Path(tmp).replace(target)
    return target


def stop_bots(bots: Sequence[tuple[subprocess.Popen[str], str]]) -> None:
    """SIGTERM each bot that is still running (each stops cleanly on it)."""
    for process, _ in bots:
        if process.poll() is None:
            process.terminate()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The example's options (``--cycles`` lets the test suite bound it)."""
    parser = argparse.ArgumentParser(description="Three bots and their file_sd scrape config.")
    parser.add_argument("--out", default="fleet", help="where the bundle is rendered")
    parser.add_argument("--cycles", type=int, default=0, help="each bot stops after N (0: never)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between cycles")
    parser.add_argument("--namespace", default="trader", help="the bots' metric prefix")
    parser.add_argument(
        "--scrape-interval", type=int, default=5, help="seconds, in the rendered config"
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=0.0,
        help="after their last cycle, the bots keep serving this long (for a final scrape)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Start, render, publish the targets, wait; exit 0 when every bot stopped cleanly."""
    args = parse_args(argv)
    out = Path(args.out)
    stopping = threading.Event()

    bots = start_bots(args)

    def request_stop(signum: int, frame: object) -> None:
        stopping.set()
        stop_bots(bots)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        render_bundle(out, args)
        urls = [url for _, url in bots]
        targets = write_targets(out, urls)
        print(" ".join(urls), flush=True)
        print(f"rendered {out}/prometheus.yml; targets in {targets}", flush=True)
        relays = []
        for name, (process, _) in zip(BOTS, bots, strict=True):
            # Keep reading each bot's output (a full pipe would block it), prefixed with its name.
            assert process.stdout is not None  # noqa: S101 - stdout=PIPE
            relays.append(threading.Thread(target=relay, args=(name, process.stdout), daemon=True))
            relays[-1].start()
        codes = [process.wait() for process, _ in bots]
        for thread in relays:
            thread.join(timeout=5)  # the last lines of each bot's output
    finally:
        stop_bots(bots)
    print(f"bots stopped: exit codes {codes}", flush=True)
    return 0 if all(code == 0 for code in codes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
