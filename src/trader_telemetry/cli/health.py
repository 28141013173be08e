"""``trader-telemetry health``: ask a running bot's ``/health`` endpoint how it is doing.

One GET (stdlib :mod:`urllib`, no extra dependency), then an exit code a supervisor, a cron job
or a monitoring agent can act on, and a short report for the operator:

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
import contextlib
import http.client
import json
import math
import os
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_URL",
    "EXIT_CODES",
    "EXIT_NO_ANSWER",
    "HealthProbeError",
    "exit_code",
    "fetch_health",
    "health_url",
    "live_url",
    "parse_document",
    "register",
    "render_text",
]

DEFAULT_URL = "http://127.0.0.1:9000/health"
DEFAULT_TIMEOUT = 5.0

#: Exit code for each overall status of the health document.
EXIT_CODES: Mapping[str, int] = {"healthy": 0, "degraded": 1, "unhealthy": 2, "unknown": 1}
#: Exit code when there is no usable answer (unreachable, timeout, not the health document).
EXIT_NO_ANSWER = 3

#: The order in which the summary counts are reported.
STATUSES = ("healthy", "degraded", "unhealthy", "unknown")
#: HTTP codes that carry the health document; anything else is not an answer.
ANSWER_CODES = frozenset({200, 503})
#: A health document is a few KiB; refuse to buffer anything absurdly larger.
MAX_BODY_BYTES = 1 << 20

_PROG = "trader-telemetry health"


class HealthProbeError(Exception):
    """The endpoint gave no usable answer; ``str(error)`` is the one-line reason."""


def health_url(url: str) -> str:
    """The ``/health`` URL for what the operator typed: a health, base or metrics URL.

    An empty path (or ``/``) becomes ``/health``, a path ending in ``/metrics`` has that replaced
    by ``/health``, any other path is kept. A URL without a scheme gets ``http://``.

    Args:
        url: what was passed to ``--url``.

    Returns:
        The URL to GET.

    Raises:
        ValueError: the URL is not an ``http``/``https`` URL with a host and a valid port.

    Example:
        >>> health_url("http://127.0.0.1:9000")
        'http://127.0.0.1:9000/health'
        >>> health_url("127.0.0.1:9000/bot1/metrics")
        'http://127.0.0.1:9000/bot1/health'
    """
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r}")
    if not parts.hostname:
        raise ValueError(f"no host in URL: {url!r}")
    try:
        parts.port  # noqa: B018 - parsed lazily: a bad port raises only here
    except ValueError as exc:
        raise ValueError(f"bad port in URL {url!r}: {exc}") from None
    path = parts.path.rstrip("/")
    if not path:
        path = "/health"
    elif path.endswith("/metrics"):
        path = path.removesuffix("/metrics") + "/health"
    else:
        path = parts.path
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def parse_document(body: bytes) -> dict[str, Any]:
    """Decode and check a health document.

    Only what this command relies on is checked: a JSON object whose ``status`` is one of the
    four statuses, and, when present, ``checks`` as a list of objects. Extra fields are fine.

    Args:
        body: the raw response body.

    Returns:
        The document, keys in the order received.

    Raises:
        HealthProbeError: the body is not such a document.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise HealthProbeError("the answer is not JSON") from None
    if not isinstance(document, dict):
        raise HealthProbeError("the answer is not a JSON object")
    status = document.get("status")
    if status is None:
        raise HealthProbeError('the answer has no "status"')
    if status not in EXIT_CODES:
        raise HealthProbeError(f'unexpected "status" in the answer: {_clip(repr(status))}')
    checks = document.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise HealthProbeError('"checks" in the answer is not a list of objects')
    return document


def fetch_health(url: str, timeout: float) -> dict[str, Any]:
    """GET the health document at ``url``.

    HTTP 200 and 503 are both answers (503 means unhealthy, or unknown after the start-up grace
    period); the body is the same document either way.

    Args:
        url: the ``/health`` URL (see :func:`health_url`).
        timeout: seconds the whole request may take (connection, TLS, headers and body).

    Returns:
        The checked document (see :func:`parse_document`).

    Raises:
        HealthProbeError: unreachable, timed out, another HTTP code, or not a health document.
    """
    try:
        code, reason, body = _get(url, timeout)
    except TimeoutError:
        raise HealthProbeError(f"no answer from {url} within {timeout:g} s") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise HealthProbeError(f"no answer from {url} within {timeout:g} s") from None
        raise HealthProbeError(f"cannot reach {url}: {_describe(error.reason)}") from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise HealthProbeError(f"bad answer from {url}: {_describe(error)}") from None
    if code not in ANSWER_CODES:
        raise HealthProbeError(_http_reason(code, reason))
    return parse_document(body)


def exit_code(document: Mapping[str, Any]) -> int:
    """The exit code for a checked health document (see the module docstring).

    Example:
        >>> exit_code({"status": "degraded"})
        1
    """
    return EXIT_CODES[document["status"]]


def render_text(document: Mapping[str, Any]) -> str:
    """The operator's view: the overall line, then one aligned row per check.

    Args:
        document: a checked health document.

    Returns:
        Lines joined by newlines, with a final newline; no colours.

    Example:
        >>> check = {"name": "loop_heartbeat", "status": "healthy", "message": "ok"}
        >>> print(render_text({"status": "healthy", "checks": [check]}), end="")
        OVERALL: HEALTHY (1 healthy, 0 degraded, 0 unhealthy, 0 unknown)
        HEALTHY  loop_heartbeat  ok
    """
    checks: list[Mapping[str, Any]] = list(document.get("checks") or [])
    counts = _counts(document.get("summary"), checks)
    overall = ", ".join(f"{counts[status]} {status}" for status in STATUSES)
    lines = [f"OVERALL: {str(document['status']).upper()} ({overall})"]
    rows = [
        (
            _cell(check.get("status"), "unknown").upper(),
            _cell(check.get("name"), "?"),
            _cell(check.get("message"), ""),
        )
        for check in checks
    ]
    if rows:
        status_width = max(len(row[0]) for row in rows)
        name_width = max(len(row[1]) for row in rows)
        lines.extend(
            f"{status:<{status_width}}  {name:<{name_width}}  {message}".rstrip()
            for status, name, message in rows
        )
    return "\n".join(lines) + "\n"


def _counts(summary: object, checks: list[Mapping[str, Any]]) -> dict[str, int]:
    """The four counts from ``summary`` if it has them all, else counted from ``checks``."""
    if isinstance(summary, dict) and all(type(summary.get(status)) is int for status in STATUSES):
        return {status: summary[status] for status in STATUSES}
    counted = dict.fromkeys(STATUSES, 0)
    for check in checks:
        status = check.get("status")
        if status in counted:
            counted[status] += 1
    return counted


def _cell(value: object, default: str) -> str:
    """One table cell on one line."""
    if value is None:
        return default
    return " ".join(str(value).split())


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _get(url: str, timeout: float) -> tuple[int, str, bytes]:
    """HTTP code, reason and body (not read unless the code is 200 or 503) of a GET.

    ``timeout`` bounds the whole exchange, not each read: a watchdog shuts the socket down at
    the deadline, so a server that trickles its answer a byte at a time cannot hold the probe
    (a per-read timeout would restart with every byte). Proxy variables are not used: a
    probe talks to the bot directly.
    """
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port
    connection: http.client.HTTPConnection
    if parts.scheme.lower() == "https":
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    deadline = time.monotonic() + timeout
    watchdog = threading.Timer(timeout, _cut, (connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            connection.connect()
        except OSError as error:
            raise urllib.error.URLError(error) from None
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        connection.request("GET", target, headers={"Accept": "application/json"})
        response = connection.getresponse()
        code = response.status
        reason = str(response.reason or "")
        body = _read_limited(response) if code in ANSWER_CODES else b""
        if time.monotonic() >= deadline:  # cut short mid-body: a partial read, not an answer
            raise TimeoutError
    except (OSError, http.client.HTTPException, urllib.error.URLError):
        if time.monotonic() >= deadline:  # the watchdog cut it: say so, not "reset"
            raise TimeoutError from None
        raise
    finally:
        watchdog.cancel()
        connection.close()
    return code, reason, body


def _cut(connection: http.client.HTTPConnection) -> None:
    """The deadline passed: wake whatever read or handshake is blocked on the socket."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _read_limited(response: Any) -> bytes:
    body: bytes = response.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise HealthProbeError(f"the answer is larger than {MAX_BODY_BYTES} bytes")
    return body


def _http_reason(code: int, reason: object) -> str:
    text = " ".join(str(reason or "").split())
    return f"HTTP {code} {text}".rstrip() + " (expected 200 or 503 with the health document)"


def _describe(error: object) -> str:
    """A short, single-line description of an error or a URLError reason."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    else:
        text = str(error) or type(error).__name__
    return _clip(" ".join(text.split()), 200)


def _write(stream: Any, text: str) -> None:
    """Write ``text``; characters the stream cannot encode are escaped, not fatal."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        stream.write(text.encode("ascii", "backslashreplace").decode("ascii"))
    stream.flush()


def live_url(url: str) -> str:
    """The ``/livez`` URL beside a ``/health`` (or ``/readyz``) URL, for ``--live``.

    Example:
        >>> live_url("http://127.0.0.1:9000/bot1/health")
        'http://127.0.0.1:9000/bot1/livez'
    """
    parts = urllib.parse.urlsplit(url)
    path = parts.path
    for route in ("/health", "/readyz"):
        if path.endswith(route):
            path = path.removesuffix(route) + "/livez"
            break
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


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
