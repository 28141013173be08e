"""``trader-telemetry serve``: the file-based exporter, for bots that only write
``metrics.json`` and ``events.jsonl``.

Serves the same names as the in-process library (``/metrics``, ``/metrics.json``, ``/health``)
from what the files say; see docs/file-exporter.md. Stops cleanly on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import threading
from typing import Any

from ..compat import FileExporter
from ..compat.breaker import DEFAULT_HOLD_SECONDS
from ..errors import TelemetryError
from .exits import EXIT_USAGE

__all__ = ["register", "telemetry_options"]


def telemetry_options(args: argparse.Namespace) -> dict[str, Any]:
    """The served ``Telemetry``'s configuration from the command line.

    Every endpoint option maps to a ``TelemetryConfig`` field here, so an option added to
    ``serve`` (the security work's ``--web-config``) is one more argument in :func:`register`
    and one more entry in this dict.

    Example:
        >>> options = telemetry_options(
        ...     argparse.Namespace(
        ...         namespace="coinbase_trader", host="127.0.0.1", port=0, profile="prod"
        ...     )
        ... )
        >>> options["namespace"], options["port"]
        ('coinbase_trader', 0)
    """
    options: dict[str, Any] = {
        "namespace": args.namespace,
        "host": args.host,
        "port": args.port,
        "profile": args.profile,
    }
    if getattr(args, "web_config", None):
        options["web_config"] = args.web_config
    if getattr(args, "health_without_auth", False):
        options["health_without_auth"] = True
    return options


def _command(args: argparse.Namespace) -> int:
    if args.metrics_file is None and args.events_file is None and args.events_db is None:
        print(
            "trader-telemetry serve: give --metrics-file, --events-file or --events-db",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not (math.isfinite(args.interval) and args.interval >= 0):
        print(
            f"trader-telemetry serve: --interval must be a number >= 0, got {args.interval}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not (math.isfinite(args.breaker_hold) and args.breaker_hold > 0):
        print(
            "trader-telemetry serve: --breaker-hold must be a number of seconds > 0, "
            f"got {args.breaker_hold}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    # A long-running service: its warnings (a file missing, corrupt, back) belong in its log.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        exporter = FileExporter(
            args.metrics_file,
            args.events_file,
            events_db=args.events_db,
            breaker_hold_seconds=args.breaker_hold,
            **telemetry_options(args),
        )
    except (TelemetryError, ValueError) as exc:
        print(f"trader-telemetry serve: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    # `docker stop`, systemd and kill send SIGTERM: stop as cleanly as on Ctrl-C.
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        exporter.start(interval=args.interval)
        files = ", ".join(f for f in (args.metrics_file, args.events_file, args.events_db) if f)
        print(f"trader-telemetry serve: metrics on {exporter.metrics_url} ({files})", flush=True)
        while not stop.wait(0.5):
            pass
        print("trader-telemetry serve: stopping", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        exporter.close()
    print("trader-telemetry serve: stopped", flush=True)
    return 0


def register(commands: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="serve a bot's metrics.json and events.jsonl as Prometheus metrics",
        description="The file-based exporter: the library's metric names from the files a "
        "bot writes (ours or GPT-Trader's shapes).",
    )
    parser.add_argument("--metrics-file", default=None, help="the bot's metrics.json")
    parser.add_argument(
        "--events-file",
        default=None,
        help="the bot's events.jsonl (a SQLite events.db given here is recognised by its header)",
    )
    parser.add_argument(
        "--events-db",
        default=None,
        metavar="PATH",
        help="GPT-Trader's SQLite events.db: opened read-only, new rows followed by id",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=9000, help="port; 0 picks a free one (default: 9000)"
    )
    parser.add_argument(
        "--profile", default="default", help="deployment profile (default: default)"
    )
    parser.add_argument("--namespace", default="trader", help="metric prefix (default: trader)")
    parser.add_argument(
        "--interval",
        type=float,
        default=5.0,
        help="seconds between background refreshes; 0: refresh only when scraped (default: 5)",
    )
    parser.add_argument(
        "--breaker-hold",
        type=float,
        default=DEFAULT_HOLD_SECONDS,
        metavar="SECONDS",
        help="a circuit-breaker trip nothing confirms reads 0 after this long (default: 3600)",
    )
    parser.add_argument(
        "--web-config",
        default=None,
        metavar="FILE",
        help="TLS and basic auth, in the Prometheus exporter-toolkit web config format",
    )
    parser.add_argument(
        "--health-without-auth",
        action="store_true",
        help="leave /health open when --web-config sets basic auth (for probes)",
    )
    parser.set_defaults(handler=_command)
