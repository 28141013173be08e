"""The health probe: ask a running bot's ``/health`` endpoint how it is doing.

One GET (stdlib :mod:`http.client`, no extra dependency) with a deadline on the whole exchange,
the document checked, and a short report for the operator. ``trader-telemetry health`` is this
probe plus its exit codes (:mod:`trader_telemetry.cli.health`).

The endpoint answers HTTP 200 (healthy, degraded, unknown during start-up) or 503 (unhealthy,
unknown after the grace period), with the same JSON document in both cases.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "STATUSES",
    "HealthProbeError",
    "fetch_health",
    "health_url",
    "live_url",
    "parse_document",
    "render_text",
]

DEFAULT_URL = "http://127.0.0.1:9000/health"
DEFAULT_TIMEOUT = 5.0

#: The four overall statuses, in the order the summary counts are reported.
STATUSES = ("healthy", "degraded", "unhealthy", "unknown")
#: HTTP codes that carry the health document; anything else is not an answer.
ANSWER_CODES = frozenset({200, 503})
#: A health document is a few KiB; refuse to buffer anything absurdly larger.
MAX_BODY_BYTES = 1 << 20


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
    if status not in STATUSES:
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
