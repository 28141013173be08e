"""One small HTTP server on a background thread, inside the bot's process.

Bound to 127.0.0.1 unless configured otherwise; TLS and basic auth come from a web config
(:mod:`.webconfig`). Hardened for a port that may face a hostile network: the request head must
arrive whole within ``read_timeout_seconds`` (no slow-loris), its size and header count are
bounded (414, 431), at most ``max_connections`` are served at once and at most
``max_connections_per_client`` from one address (503), ambiguous framing that could smuggle a
second request is refused (400 and close), only GET and HEAD are answered (405), routes are
exact paths (no file system behind them, anything else 404), and an error while rendering is a
500 with one line of text (details go to the log). Rendering takes no lock across network I/O,
so a slow or stuck client never blocks recording.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import logging
import math
import os
import re
import socket
import ssl
import threading
import time
from http import HTTPStatus
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..config import ServerLimits
from ..errors import EndpointError, NotReadyError, PortInUseError
from ..readers import Exposition
from .tls import accept_tls
from .webconfig import WebConfig, exposure_warning

__all__ = ["MetricsServer", "MetricsSource"]

logger = logging.getLogger("trader_telemetry.exposition")

_GZIP_MIN_BYTES = 1024
_INDEX = b"""<html><head><title>trader_telemetry</title></head><body>
<h1>trader_telemetry</h1><ul>
<li><a href="/metrics">/metrics</a></li><li><a href="/metrics.json">/metrics.json</a></li>
<li><a href="/health">/health</a></li><li><a href="/livez">/livez</a></li>
<li><a href="/readyz">/readyz</a></li>
</ul></body></html>
"""
_HEAD_END = re.compile(rb"\r?\n\r?\n")
# RFC 9112: ``method SP request-target SP HTTP-version``. Anything else (HTTP/0.9's bare
# ``GET /``, a fourth word) is refused as soon as the line is in, not after the read deadline.
_REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^\x00-\x20\x7f]+ HTTP/[0-9]\.[0-9]")
# ``token ":" OWS field-value OWS``: no space before the colon, no folded lines, no control
# characters. A lenient parser here is how request smuggling starts.
_FIELD_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[\t\x20-\x7e\x80-\xff]*")
_DIGITS = re.compile(rb"[0-9]{1,18}")
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 25\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many connections now\n"
)
_PROBE_PATHS = ("/health", "/livez", "/readyz")
_IN_USE = (
    "address already in use by another live process; choose another port, port=0 for a free "
    "one, or set TRADER_TELEMETRY_PORT"
)
_LINGER_SECONDS = 0.5  # after an error answer, read what the client still sends, this long
_LINGER_BYTES = 1 << 20
_FAILURE_LOG_SECONDS = 60.0


class MetricsSource(Protocol):
    """What the server serves (a ``Telemetry``, or anything shaped like one)."""

    def render_metrics(self, accept: str | None = None) -> Exposition: ...
    def snapshot(self) -> dict[str, Any]: ...
    def health_response(self) -> tuple[int, dict[str, Any]]: ...
    def liveness_response(self) -> tuple[int, dict[str, Any]]: ...


class _RejectedError(Exception):
    """The request head broke a limit: answer ``status`` and close."""

    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # On POSIX, SO_REUSEADDR lets a restarted bot bind past the TIME_WAIT connections its
    # killed predecessor left (Prometheus keeps one open), yet never lets two live listeners
    # share the port. On Windows it would allow exactly that sharing: off there.
    allow_reuse_address = os.name == "posix"
    # socketserver's default backlog is 5: a burst of probes (or a busy bot that accepts late)
    # would see refused connections.
    request_queue_size = 128
    source: MetricsSource
    limits: ServerLimits
    web: WebConfig
    open_paths: frozenset[str]
    slots: threading.BoundedSemaphore
    refused: int = 0
    # Open connections per client address (only addresses with one or more open).
    per_client: dict[str, int]
    per_client_lock: threading.Lock
    #: Failed answers (500): the first is logged with its traceback, then one line a minute.
    failures: int = 0
    _failure_logged_at: float = float("-inf")
    _failures_logged: int = 0

    def log_failure(self, path: str, exc: Exception) -> None:
        """Log the error being handled: with its traceback at most once a minute, so a broken
        render scraped every second does not flood the bot's log."""
        self.failures += 1
        now = time.monotonic()
        if now - self._failure_logged_at < _FAILURE_LOG_SECONDS:
            logger.debug("error while serving %s (again)", path, exc_info=exc)
            return
        since, self._failures_logged = self.failures - self._failures_logged, self.failures
        self._failure_logged_at = now
        logger.error(
            "error while serving %s (%d failed answers since the last such message; at most "
            "one a minute)",
            path,
            since,
            exc_info=exc,
        )

    def process_request(self, request: Any, client_address: Any) -> None:
        # Runs on the accept thread: it must never block, so a full house is answered here
        # with a canned 503 (plain HTTP) or just closed (TLS would need a handshake first).
        # One address gets at most max_connections_per_client of the slots: idle sockets
        # from one client cannot keep Prometheus out.
        client = _client_key(client_address)
        if not self._claim_client(client):
            self._refuse(request, client_address, "connections from this address")
            return
        if not self.slots.acquire(blocking=False):
            self._release_client(client)
            self._refuse(request, client_address, "connections")
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            self._release_client(client)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()
            self._release_client(_client_key(client_address))

    def _claim_client(self, client: str) -> bool:
        with self.per_client_lock:
            held = self.per_client.get(client, 0)
            if held >= self.limits.max_connections_per_client:
                return False
            self.per_client[client] = held + 1
            return True

    def _release_client(self, client: str) -> None:
        with self.per_client_lock:
            held = self.per_client.pop(client, 0) - 1
            if held > 0:
                self.per_client[client] = held

    def _refuse(self, request: Any, client_address: Any, what: str) -> None:
        self.refused += 1
        logger.debug("refused a connection from %s: too many %s", client_address, what)
        if self.web.ssl_context is None:
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(_BUSY)
        self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints tracebacks to the bot's stderr by default: log them instead.
        # socketserver calls this from inside its except block, so exc_info is the error.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)  # noqa: LOG014


def _client_key(client_address: Any) -> str:
    """The address a connection comes from (the port left out)."""
    try:
        return str(client_address[0])
    except (TypeError, IndexError):
        return str(client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "trader_telemetry"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = None  # reads run against a per-request deadline instead (_read_head)

    def setup(self) -> None:
        self._pending = b""
        # Headers and body leave in separate writes: without TCP_NODELAY, Nagle's algorithm
        # holds the body until the client's delayed ACK (~40 ms per answer on a kept-alive
        # connection, which is how Prometheus scrapes).
        with contextlib.suppress(OSError):
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        context = self.server.web.ssl_context
        if context is not None:
            self.request = self.connection = self._start_tls(context)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self.server.web.ssl_context is not None:
                with contextlib.suppress(OSError):
                    self.connection.close()  # the plain socket was detached by wrap_socket

    # ------------------------------------------------------------------ TLS
    def _start_tls(self, context: ssl.SSLContext) -> ssl.SSLSocket:
        tls_config = self.server.web.tls
        return accept_tls(
            self.request,
            context,
            timeout=self.server.limits.read_timeout_seconds,
            allowed_sans=tls_config.client_allowed_sans if tls_config else (),
        )

    # ------------------------------------------------------------------ request head
    def handle_one_request(self) -> None:
        self.close_connection = True
        self.command, self.request_version, self.requestline = "", "HTTP/1.0", ""
        self.headers = HTTPMessage()
        if not self._parse_next_request():
            return
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
            self._reject(HTTPStatus.BAD_REQUEST)
            return
        if self.command not in ("GET", "HEAD"):
            self._reject(HTTPStatus.METHOD_NOT_ALLOWED, [("Allow", "GET, HEAD")])
            return
        if self.headers.get("Content-Length", "0").lstrip("0"):
            self.close_connection = True  # bodies are never read: never reuse such a connection
        self._respond(head=self.command == "HEAD")

    def _parse_next_request(self) -> bool:
        """Read and parse the next request head; False when there is none to answer (the
        client left or idled out, or an error was already sent)."""
        try:
            head = self._read_head()
        except _RejectedError as rejected:
            self._reject(rejected.status)
            return False
        except TimeoutError:
            if self._pending.strip():
                self._reject(HTTPStatus.REQUEST_TIMEOUT)
            return False
        except OSError:  # reset, TLS alert: nobody to answer
            return False
        if head is None:
            return False
        request_line, header_block = head
        self.raw_requestline = request_line + b"\r\n"
        # parse_request reads the headers from rfile: hand it the head already read.
        socket_file, self.rfile = self.rfile, io.BytesIO(header_block)
        try:
            return self.parse_request()
        finally:
            self.rfile = socket_file

    def _read_head(self) -> tuple[bytes, bytes] | None:
        """(request line, header lines + blank line) of the next request, or None when the
        client closed. The whole head must arrive before the read deadline."""
        limits = self.server.limits
        line_cap = limits.max_request_line_bytes
        deadline = time.monotonic() + limits.read_timeout_seconds
        buffer = self._pending
        while True:
            buffer = buffer.lstrip(b"\r\n")  # RFC 9112 2.2: ignore empty lines before a request
            self._pending = buffer
            end = _HEAD_END.search(buffer)
            newline = buffer.find(b"\n")
            if (newline < 0 and len(buffer) > line_cap) or newline > line_cap + 1:
                raise _RejectedError(HTTPStatus.REQUEST_URI_TOO_LONG)
            if newline >= 0 and not _REQUEST_LINE.fullmatch(buffer[:newline].rstrip(b"\r")):
                raise _RejectedError(HTTPStatus.BAD_REQUEST)
            if end is not None:
                break
            if len(buffer) > line_cap + limits.max_header_bytes + 2 * limits.max_headers + 4:
                raise _RejectedError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("request head not complete in time")
            self.connection.settimeout(remaining)
            chunk = self.connection.recv(65536)
            if not chunk:
                return None
            buffer += chunk
        self._pending = buffer[end.end() :]
        lines = [line.rstrip(b"\r") for line in buffer[: end.start()].split(b"\n")]
        request_line, fields = lines[0], lines[1:]
        if len(request_line) > line_cap:
            raise _RejectedError(HTTPStatus.REQUEST_URI_TOO_LONG)
        if len(fields) > limits.max_headers or sum(map(len, fields)) > limits.max_header_bytes:
            raise _RejectedError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
        _check_fields(fields)
        return request_line, b"".join(field + b"\r\n" for field in fields) + b"\r\n"

    # ------------------------------------------------------------------ answers
    def _respond(self, *, head: bool) -> None:
        target = self.path
        path = urlsplit(target).path if target.startswith("/") and target[1:2] != "/" else ""
        try:
            auth = self.server.web.auth
            if (
                auth is not None
                and path not in self.server.open_paths
                and not auth.check(self.headers.get("Authorization"))
            ):
                self._send(
                    HTTPStatus.UNAUTHORIZED,
                    b"unauthorized\n",
                    "text/plain; charset=utf-8",
                    head=head,
                    extra=[("WWW-Authenticate", auth.challenge)],
                )
                return
            self._route(path, head=head)
        except NotReadyError as busy:
            # The data is still being read (the file exporter's first catch-up): a 503 the
            # scraper retries, rather than counters that would read as going backwards.
            self._send(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"{busy}\n".encode(),
                "text/plain; charset=utf-8",
                head=head,
                extra=[("Retry-After", str(max(1, math.ceil(busy.retry_after))))],
            )
        except ConnectionError:
            # The scraper hung up (timeout, restart): nobody to answer, nothing to report.
            logger.debug("client left while %s was being served", path)
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - logged by log_failure (rate-limited)
            self.server.log_failure(path, exc)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    b"internal error while rendering; see the bot's log\n",
                    "text/plain; charset=utf-8",
                    head=head,
                )

    def _route(self, path: str, *, head: bool) -> None:
        if path == "/metrics":
            exposition = self.server.source.render_metrics(self.headers.get("Accept"))
            self._send(HTTPStatus.OK, exposition.body, exposition.content_type, head=head)
        elif path in ("/health", "/readyz", "/livez"):
            source = self.server.source
            # /livez: the loop only (what restarts a bot); /readyz and /health: every check.
            answer = source.liveness_response if path == "/livez" else source.health_response
            code, document = answer()
            payload = json.dumps(document, indent=2, allow_nan=False).encode() + b"\n"
            self._send(HTTPStatus(code), payload, "application/json", head=head)
        elif path == "/metrics.json":
            # allow_nan=False: strict JSON; a NaN that slipped through is a 500, not bad JSON.
            body = json.dumps(self.server.source.snapshot(), indent=2, allow_nan=False)
            self._send(HTTPStatus.OK, body.encode() + b"\n", "application/json", head=head)
        elif path == "/":
            self._send(HTTPStatus.OK, _INDEX, "text/html; charset=utf-8", head=head)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head=head)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        *,
        head: bool,
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        encoding = None
        if len(body) >= _GZIP_MIN_BYTES and accepts_gzip(self.headers.get("Accept-Encoding")):
            body = gzip.compress(body, compresslevel=1)
            encoding = "gzip"
        # Writes get the same bound as reads: a client that stops reading is dropped.
        self.connection.settimeout(self.server.limits.read_timeout_seconds)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Vary", "Accept-Encoding")  # caches: the body depends on it
        self.send_header("Cache-Control", "no-store")
        for name, value in (*self.server.web.headers, *(extra or ())):
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _reject(self, status: HTTPStatus, extra: list[tuple[str, str]] | None = None) -> None:
        """Answer an error in a line of text (never echoing the request), then close."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # parse_request's default: answer in 1.0 form
            self.request_version = "HTTP/1.0"
        with contextlib.suppress(OSError):
            body = f"{status.value} {status.phrase}\n".encode()
            self._send(status, body, "text/plain; charset=utf-8", head=False, extra=extra)
            self._linger()

    def _linger(self) -> None:
        """Read (and drop) what the client is still sending, briefly, so that closing does
        not reset the connection before it has read the error."""
        connection = self.connection
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + _LINGER_SECONDS
        drained = 0
        while drained < _LINGER_BYTES and (remaining := deadline - time.monotonic()) > 0:
            connection.settimeout(remaining)
            chunk = connection.recv(65536)
            if not chunk:
                break
            drained += len(chunk)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """parse_request's errors (400, 505 ...) in our plain form; details only in the log."""
        logger.debug("bad request from %s: %s %s", self.address_string(), code, message)
        self._reject(HTTPStatus(code))

    def version_string(self) -> str:
        """``Server: trader_telemetry``: no Python version for a scanner to match."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)


def _check_fields(fields: list[bytes]) -> None:
    """Refuse (400) a header block that two parsers could read differently.

    Every line must be ``name: value`` with nothing between the name and the colon and no
    control characters; a request carries no body here, so any ``Transfer-Encoding`` and a
    ``Content-Length`` that is repeated or not a plain decimal number are refused too.
    """
    lengths = []
    for line in fields:
        if not _FIELD_LINE.fullmatch(line):
            raise _RejectedError(HTTPStatus.BAD_REQUEST)
        name, _, value = line.partition(b":")
        name = name.lower()
        if name == b"transfer-encoding":
            raise _RejectedError(HTTPStatus.BAD_REQUEST)
        if name == b"content-length":
            lengths.append(value.strip(b" \t"))
    if len(lengths) > 1 or (lengths and not _DIGITS.fullmatch(lengths[0])):
        raise _RejectedError(HTTPStatus.BAD_REQUEST)


def accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` and ``*;q=0`` refuse it).

    Example:
        >>> accepts_gzip("gzip, deflate"), accepts_gzip("gzip;q=0"), accepts_gzip("*;q=0.5")
        (True, False, True)
        >>> accepts_gzip("identity"), accepts_gzip(None)
        (False, False)
    """
    if not header:
        return False
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, *parameters = item.split(";")
        weight = 1.0
        for parameter in parameters:
            key, _, raw = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(raw.strip())
                except ValueError:
                    weight = 0.0
                if not 0.0 <= weight <= 1.0:  # NaN and nonsense: treat as "not acceptable"
                    weight = 0.0
        weights[coding.strip().lower()] = weight
    for name in ("gzip", "x-gzip", "*"):
        if name in weights:
            return weights[name] > 0
    return False


class MetricsServer:
    """Serve ``source`` on ``host:port`` (``port=0`` picks a free port) until :meth:`close`.

    Args:
        source: What to serve (a ``Telemetry``).
        host: Bind address; a non-loopback one without TLS or auth logs a warning.
        port: TCP port; 0 picks a free one.
        web_config: TLS and basic auth (:func:`~trader_telemetry.exposition.load_web_config`);
            None serves plain HTTP to anyone.
        limits: Request size, header count, read timeout and connection cap.
        health_without_auth: Leave ``/health`` open when ``web_config`` asks for credentials.

    Raises:
        PortInUseError: the address is taken (the message names host and port).
        EndpointError: any other reason the address cannot be bound.

    Example:
        >>> import trader_telemetry as tt
        >>> telemetry = tt.Telemetry(serve=False)
        >>> server = MetricsServer(telemetry, "127.0.0.1", 0)
        >>> server.url.startswith("http://127.0.0.1:")
        True
        >>> server.close()
        >>> telemetry.shutdown()
    """

    def __init__(
        self,
        source: MetricsSource,
        host: str = "127.0.0.1",
        port: int = 9000,
        *,
        web_config: WebConfig | None = None,
        limits: ServerLimits | None = None,
        health_without_auth: bool = False,
    ) -> None:
        web = web_config if web_config is not None else WebConfig()
        limits = limits if limits is not None else ServerLimits()
        server_class: type[_Server] = _Server6 if ":" in host else _Server
        try:
            self._httpd = server_class((host, port), _Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(host, port, _IN_USE) from exc
            raise EndpointError(host, port, exc.strerror or str(exc)) from exc
        httpd = self._httpd
        httpd.source = source
        httpd.limits = limits
        httpd.web = web
        httpd.open_paths = frozenset(_PROBE_PATHS if health_without_auth else ())
        httpd.slots = threading.BoundedSemaphore(limits.max_connections)
        httpd.per_client = {}
        httpd.per_client_lock = threading.Lock()
        self.host = host
        self.port: int = httpd.server_address[1]
        self.web_config = web
        if (warning := exposure_warning(host, web_config)) is not None:
            logger.warning("%s", warning)
        self._closed = False
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"trader-telemetry-http-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def url(self) -> str:
        """``http://host:port`` or ``https://host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.web_config.scheme}://{host}:{self.port}"

    @property
    def refused_connections(self) -> int:
        """Connections turned away because ``max_connections`` were already open."""
        return self._httpd.refused

    def abandon(self) -> None:
        """In a forked child: close the inherited listening socket (the serving thread is the
        parent's and did not come along), so the child never holds the port."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._httpd.socket.close()

    def close(self, timeout: float = 2.0) -> None:
        """Stop serving and free the port; idempotent, bounded by ``timeout`` seconds."""
        if self._closed:
            return
        self._closed = True
        stopper = threading.Thread(target=self._httpd.shutdown, daemon=True)
        stopper.start()
        stopper.join(timeout)
        self._httpd.server_close()
        self._thread.join(max(0.0, timeout - 0.0))
