"""The HTTP side the OTLP test receivers share: ``POST <path>`` on ``127.0.0.1:<free port>``,
served from a daemon thread, each request answered by the receiver's own handler.

:mod:`tests.otlp_receiver` (traces) and :mod:`tests.otlp_metrics_receiver` (metrics) differ in
what they decode and how they answer; the server, the routing and the body's
``Content-Encoding`` are here once.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

__all__ = ["PROTOBUF", "Answer", "ClosesOnce", "PostHandler", "ProtobufHttpServer", "decompress"]

PROTOBUF = "application/x-protobuf"

#: (status, body, content type) to send, or None to hang up without answering.
Answer = tuple[int, bytes, str] | None
#: Called with the request body, its content type (no parameters) and its content encoding.
PostHandler = Callable[[bytes, str, str], Answer]


def decompress(body: bytes, encoding: str) -> bytes:
    """``body`` decoded from ``encoding`` (identity, gzip or deflate); ValueError otherwise."""
    decoders: dict[str, Callable[[bytes], bytes]] = {
        "identity": lambda data: data,
        "gzip": gzip.decompress,
        "deflate": zlib.decompress,
    }
    if encoding not in decoders:
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
    return decoders[encoding](body)


class ClosesOnce:
    """A receiver's life: ``close()`` (a ``with`` block's end) does its work once, and
    ``_closing`` is set first, so a request held in ``slow`` mode stops waiting."""

    def __init__(self) -> None:
        self._closing = threading.Event()
        self._closed = False
        self._close_lock = threading.Lock()

    def _begin_close(self) -> bool:
        """Mark closed; False when it already was (so ``close`` is idempotent)."""
        with self._close_lock:
            if self._closed:
                return False
            self._closed = True
        self._closing.set()
        return True

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class ProtobufHttpServer:
    """Serves ``POST path`` through ``handle``; 404 for any other path."""

    def __init__(self, path: str, handle: PostHandler, *, name: str) -> None:
        self.path = path
        self._server = _Server(self, handle)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=name,
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The full URL an OTLP/HTTP exporter takes as ``endpoint``."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: ProtobufHttpServer, handle: PostHandler) -> None:
        self.owner = owner
        self.handle = handle
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the exporter's own logging says what went wrong."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.server.owner.path
        if self.path.split("?", 1)[0] != path:
            self._send((404, f"only {path} is served".encode(), "text/plain; charset=utf-8"))
            return
        content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip()
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        answer = self.server.handle(body, content_type, encoding)
        if answer is None:
            self.close_connection = True  # the receiver is closing: hang up unanswered
            return
        self._send(answer)

    def _send(self, answer: tuple[int, bytes, str]) -> None:
        status, body, content_type = answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
