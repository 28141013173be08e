"""One small HTTP server on a background thread, inside the bot's process.

Bound to 127.0.0.1 unless configured otherwise. Only GET and HEAD; unknown paths get 404; an
error while rendering is a 500 with a one-line message (the details go to the log), never a
stack trace in the response.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..errors import EndpointError, PortInUseError
from ..readers import Exposition

__all__ = ["MetricsServer", "MetricsSource"]

logger = logging.getLogger("trader_telemetry.exposition")

_GZIP_MIN_BYTES = 1024
_INDEX = b"""<html><head><title>trader_telemetry</title></head><body>
<h1>trader_telemetry</h1><ul>
<li><a href="/metrics">/metrics</a></li><li><a href="/metrics.json">/metrics.json</a></li>
<li><a href="/health">/health</a></li>
</ul></body></html>
"""


class MetricsSource(Protocol):
    """What the server serves (a ``Telemetry``, or anything shaped like one)."""

    def render_metrics(self, accept: str | None = None) -> Exposition: ...
    def snapshot(self) -> dict[str, Any]: ...
    def health_response(self) -> tuple[int, dict[str, Any]]: ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a second bot on the same port must fail, not share it
    # socketserver's default backlog is 5: a burst of probes (or a busy bot that accepts late)
    # would see refused connections.
    request_queue_size = 128
    source: MetricsSource

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints tracebacks to the bot's stderr by default: log them instead.
        # socketserver calls this from inside its except block, so exc_info is the error.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)  # noqa: LOG014


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "trader_telemetry"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 10.0  # seconds a client may take to send its request

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _respond(self, *, head: bool) -> None:
        path = urlsplit(self.path).path
        try:
            self._route(path, head=head)
        except ConnectionError:
            # The scraper hung up (timeout, restart): nobody to answer, nothing to report.
            logger.debug("client left while %s was being served", path)
            self.close_connection = True
        except Exception:
            logger.exception("error while serving %s", path)
            with contextlib.suppress(ConnectionError):
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
        elif path == "/health":
            code, document = self.server.source.health_response()
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

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, *, head: bool) -> None:
        encoding = None
        if len(body) >= _GZIP_MIN_BYTES and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = gzip.compress(body, compresslevel=1)
            encoding = "gzip"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)


class MetricsServer:
    """Serve ``source`` on ``host:port`` (``port=0`` picks a free port) until :meth:`close`.

    Raises:
        PortInUseError: the address is taken (the message names host and port).
        EndpointError: any other reason the address cannot be bound.
    """

    def __init__(self, source: MetricsSource, host: str = "127.0.0.1", port: int = 9000) -> None:
        server_class: type[_Server] = _Server6 if ":" in host else _Server
        try:
            self._httpd = server_class((host, port), _Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(host, port, "address already in use") from exc
            raise EndpointError(host, port, exc.strerror or str(exc)) from exc
        self._httpd.source = source
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self._closed = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
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
        """``http://host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

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
