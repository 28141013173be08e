"""``trader-telemetry demo``: serve the simulated bot (:mod:`trader_telemetry.simulation`) on a
live endpoint until interrupted.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
from typing import Any

from ..default import configure, shutdown
from ..errors import TelemetryError
from ..health import StaleFillsHealthCheck
from ..simulation import SimulatedBot, cycle_summary, run_demo

__all__ = ["register"]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _command(args: argparse.Namespace) -> int:
    try:
        telemetry = configure(
            namespace=args.namespace,
            host=args.host,
            port=args.port,
            profile=args.profile,
            max_label_values=max(200, args.symbols),
            data_dir=args.data_dir,
        )
    except (TelemetryError, ValueError) as exc:
        print(f"trader-telemetry demo: {exc}")
        return 2
    # A shell starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: say what stops the demo there instead of promising Ctrl-C.
    ctrl_c = signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
    stop = "Ctrl-C to stop" if ctrl_c else "SIGINT is ignored here: SIGTERM stops it"
    print(f"trader-telemetry demo: metrics on {telemetry.metrics_url} ({stop})", flush=True)
    health_url = (telemetry.metrics_url or "").removesuffix("/metrics") + "/health"
    print(f"trader-telemetry demo: health on {health_url}", flush=True)
    # `docker stop`, systemd and kill send SIGTERM: stop as cleanly as on Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    bot = SimulatedBot(
        telemetry,
        random.Random(args.seed),
        symbols=args.symbols,
        keep_durations=args.summary,
        interval_hint=args.interval,
    )
    # The playbook's stale-fills check, reading the simulated order book (the other checks are
    # built in and read what the bot records).
    telemetry.health.register(StaleFillsHealthCheck(bot, max_age_minutes=0.5))
    try:
        run_demo(telemetry, cycles=args.cycles, interval=args.interval, seed=args.seed, bot=bot)
    except KeyboardInterrupt:
        print("trader-telemetry demo: interrupted, shutting down", flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutdown()
    if args.summary:
        print(json.dumps({"summary": cycle_summary(bot.durations)}), flush=True)
    print("trader-telemetry demo: stopped", flush=True)
    return 0


def register(commands: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = commands.add_parser("demo", help="run a simulated bot serving live metrics")
    parser.add_argument("--namespace", default="trader", help="metric prefix (default: trader)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=9000, help="port; 0 picks a free one (default: 9000)"
    )
    parser.add_argument("--profile", default="demo", help="deployment profile (default: demo)")
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between cycles (default: 2)"
    )
    parser.add_argument(
        "--cycles", type=int, default=0, help="cycles to run; 0 = forever (default: 0)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed for a repeatable run")
    parser.add_argument(
        "--symbols", type=int, default=3, help="symbols to trade; more symbols, more series"
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="also write events.jsonl and metrics.json here (e.g. var/data/trader/demo)",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="on stop, print one JSON line with cycle count, p50, p99 and max duration",
    )
    parser.set_defaults(handler=_command)
