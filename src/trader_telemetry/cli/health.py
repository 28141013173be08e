"""``trader-telemetry health``: ask a running bot's ``/health`` endpoint how it is doing.

The probe of :mod:`trader_telemetry.health.probe` (one GET, no extra dependency), then an exit
code a supervisor, a cron job or a monitoring agent can act on, and a short report for the
operator:

====  ==================================================================================
code  meaning
====  ==================================================================================
0     healthy
1     degraded, or unknown (no data yet: not healthy, but not known to be bad either)
2     unhealthy
3     no usable answer: unreachable, timed out, or not the health document (reason on stderr)
====  ==================================================================================

The endpoint answers HTTP 200 (healthy, degraded, unknown during start-up) or 503 (unhealthy,
unknown after the grace period), with the same JSON document in both cases; the exit code comes
from the document's ``status``. Usage errors (bad options) exit 64 (``EX_USAGE``): argparse's
usual 2 would read as "unhealthy". ``--live`` asks ``/livez`` instead: the loop alone (heartbeat
and the running cycle's age), what a supervisor should restart on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping
from typing import Any

from ..health.probe import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    HealthProbeError,
    fetch_health,
    health_url,
    live_url,
    render_text,
)

__all__ = ["EXIT_CODES", "EXIT_NO_ANSWER", "exit_code", "register"]

#: Exit code for each overall status of the health document.
EXIT_CODES: Mapping[str, int] = {"healthy": 0, "degraded": 1, "unhealthy": 2, "unknown": 1}
#: Exit code when there is no usable answer (unreachable, timeout, not the health document).
EXIT_NO_ANSWER = 3

_PROG = "trader-telemetry health"


def exit_code(document: Mapping[str, Any]) -> int:
    """The exit code for a checked health document (see the module docstring).

    Example:
        >>> exit_code({"status": "degraded"})
        1
    """
    return EXIT_CODES[document["status"]]


def _write(stream: Any, text: str) -> None:
    """Write ``text``; characters the stream cannot encode are escaped, not fatal."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        stream.write(text.encode("ascii", "backslashreplace").decode("ascii"))
    stream.flush()


def _command(args: argparse.Namespace) -> int:
    url = live_url(args.url) if args.live else args.url
    try:
        document = fetch_health(url, args.timeout)
    except HealthProbeError as error:
        print(f"{_PROG}: {error}", file=sys.stderr, flush=True)
        return EXIT_NO_ANSWER
    if args.format == "json":
        output = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    else:
        output = render_text(document)
    try:
        _write(sys.stdout, output)
    except BrokenPipeError:  # `... | head`: the reader left; the exit code still tells
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        os.close(devnull)
    return exit_code(document)


def _url_argument(value: str) -> str:
    try:
        return health_url(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _timeout_argument(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {value!r}")
    return seconds


_EPILOG = """\
exit codes:
  0  healthy
  1  degraded; also unknown (no data yet: not healthy, but not known to be bad either)
  2  unhealthy
  3  no usable answer: unreachable, timed out, another HTTP code than 200/503, or not
     the health JSON document (the reason is on stderr)
 64  usage error: a mistyped command or option (never read as a verdict)

With --live the answer is /livez, the loop alone: 2 means dead or hung (restart it);
a daily-loss halt or a tripped breaker stays 0.

The URL may be the /health URL, the server's base URL or its /metrics URL:
  trader-telemetry health --url http://127.0.0.1:9000
  trader-telemetry health --url http://127.0.0.1:9000/metrics --format json
"""


def register(commands: Any) -> None:
    """Add the ``health`` subcommand.

    Args:
        commands: the ``add_subparsers()`` action of the ``trader-telemetry`` parser.
    """
    parser = commands.add_parser(
        "health",
        help="ask a running bot's /health endpoint; the exit code tells how it is",
        description="Query a bot's /health endpoint, print a report and exit with its status.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--url",
        type=_url_argument,
        default=health_url(DEFAULT_URL),
        help=f"health, base or /metrics URL of the bot's server (default: {DEFAULT_URL})",
    )
    parser.add_argument(
        "--timeout",
        type=_timeout_argument,
        default=DEFAULT_TIMEOUT,
        help="seconds the whole request may take, however slowly the answer trickles in "
        f"(default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="ask /livez instead: is the control loop alive (heartbeat, running cycle)? "
        "A bot halted on its loss limit or breaker is live: use this to decide restarts",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: overall line and one row per check; json: the document as received "
        "(default: text)",
    )
    parser.set_defaults(handler=_command)
