"""Real in-process OTLP trace receivers for tests: OTLP/HTTP and OTLP/gRPC on 127.0.0.1.

No Jaeger or OpenTelemetry Collector binary is installable here, so tests export to these
instead. Both decode what the real exporters send with ``opentelemetry-proto`` and keep the
spans as :class:`ReceivedSpan` values:

* :class:`OtlpHttpReceiver`: ``POST /v1/traces`` (protobuf, optionally gzip or deflate) on a
  stdlib ``ThreadingHTTPServer``. Give the HTTP exporter ``endpoint=receiver.endpoint``
  (the full URL, including ``/v1/traces``).
* :class:`OtlpGrpcReceiver`: ``TraceService.Export`` on a grpcio server. Give the gRPC
  exporter ``endpoint=receiver.endpoint, insecure=True``.

Both start listening in their constructor, are context managers, and set ``mode`` at run time
to inject faults. No pytest fixtures here: ``conftest.py`` wraps them.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal, Self, get_args

import grpc  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = [
    "GrpcMode",
    "HttpMode",
    "OtlpGrpcReceiver",
    "OtlpHttpReceiver",
    "ReceivedSpan",
    "attributes_to_dict",
    "spans_from_request",
]

TRACES_PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"

HttpMode = Literal["ok", "reject", "error", "slow"]
"""``ok``: 200 and keep the spans; ``reject``: 400 (not retried by the exporter); ``error``:
500 (not retried either); ``slow``: wait ``delay`` seconds, then as ``ok``."""

GrpcMode = Literal["ok", "error", "unavailable"]
"""``ok``: keep the spans; ``error``: abort with INVALID_ARGUMENT (not retried);
``unavailable``: abort with UNAVAILABLE (retried with backoff while the timeout allows)."""


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver decoded it; ids are lowercase hex."""

    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str  # "" for a root span
    name: str
    attributes: dict[str, object]
    status_code: int  # 0 unset, 1 ok, 2 error
    events: list[str]  # event names, e.g. "exception"
    resource: dict[str, object]


def _any_value(value: AnyValue) -> object:
    """The Python value of an OTLP ``AnyValue`` (arrays become lists, kvlists dicts)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_to_dict(value.kvlist_value.values)
    # string_value, bool_value, int_value, double_value, bytes_value; None when unset
    return None if kind is None else getattr(value, kind)


def attributes_to_dict(attributes: Sequence[KeyValue]) -> dict[str, object]:
    """OTLP ``KeyValue`` attributes as a plain dict."""
    return {kv.key: _any_value(kv.value) for kv in attributes}


def spans_from_request(request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    """Every span in ``request``, in the order sent, each with its resource's attributes."""
    received: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = attributes_to_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            received.extend(
                ReceivedSpan(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    name=span.name,
                    attributes=attributes_to_dict(span.attributes),
                    status_code=int(span.status.code),
                    events=[event.name for event in span.events],
                    resource=dict(resource),
                )
                for span in scope_spans.spans
            )
    return received


class _SpanStore:
    """What both receivers share: the received spans, a request count, and waiting."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._spans: list[ReceivedSpan] = []
        self._requests = 0
        self._closed = False
        self._closing = threading.Event()

    @property
    def requests(self) -> int:
        """Export requests received so far, whatever the answer (rejected ones count too)."""
        with self._condition:
            return self._requests

    def spans(self) -> list[ReceivedSpan]:
        """A copy of the spans accepted so far, in arrival order."""
        with self._condition:
            return list(self._spans)

    def wait_for_spans(self, count: int, timeout: float = 5.0) -> list[ReceivedSpan]:
        """Wait until at least ``count`` spans arrived and return them all.

        Raises ``TimeoutError`` (naming what did arrive) after ``timeout`` seconds.
        """
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._spans) >= count, timeout):
                names = [span.name for span in self._spans]
                raise TimeoutError(
                    f"expected {count} spans within {timeout}s, got {len(names)}: {names}"
                )
            return list(self._spans)

    def clear(self) -> None:
        """Forget the spans and reset the request count."""
        with self._condition:
            self._spans.clear()
            self._requests = 0

    def _count_request(self) -> None:
        with self._condition:
            self._requests += 1

    def _accept(self, request: ExportTraceServiceRequest) -> None:
        spans = spans_from_request(request)
        with self._condition:
            self._spans.extend(spans)
            self._condition.notify_all()

    def _begin_close(self) -> bool:
        """Mark closed; False when it already was (so ``close`` is idempotent)."""
        with self._condition:
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


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: OtlpHttpReceiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), _OtlpHandler)


class _OtlpHandler(BaseHTTPRequestHandler):
    server: _HttpServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the exporter's own logging says what went wrong."""

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _fail(self, status: int, message: str) -> None:
        self._answer(status, message.encode(), "text/plain; charset=utf-8")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.split("?", 1)[0] != TRACES_PATH:
            self._fail(404, f"only {TRACES_PATH} is served")
            return
        receiver = self.server.receiver
        receiver._count_request()
        content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip()
        if content_type != PROTOBUF:
            self._fail(415, f"expected {PROTOBUF}, got {content_type!r}")
            return
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        receiver._record_encoding(encoding)
        try:
            request = ExportTraceServiceRequest.FromString(_decompress(body, encoding))
        except Exception as error:
            self._fail(400, f"undecodable request: {error}")
            return
        match receiver.mode:
            case "reject":
                self._fail(400, "rejected by test receiver")
                return
            case "error":
                self._fail(500, "test receiver error")
                return
            case "slow":
                if receiver._closing.wait(receiver.delay):  # close() cuts the wait short
                    self.close_connection = True  # the client may be gone: hang up unanswered
                    return
            case _:
                pass
        receiver._accept(request)
        self._answer(200, ExportTraceServiceResponse().SerializeToString(), PROTOBUF)


def _decompress(body: bytes, encoding: str) -> bytes:
    decoders: dict[str, Callable[[bytes], bytes]] = {
        "identity": lambda data: data,
        "gzip": gzip.decompress,
        "deflate": zlib.decompress,
    }
    if encoding not in decoders:
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
    return decoders[encoding](body)


class OtlpHttpReceiver(_SpanStore):
    """An OTLP/HTTP trace receiver on ``127.0.0.1:<free port>``, serving from a daemon thread.

    ``mode`` (settable any time): "ok", "reject" (400), "error" (500), "slow" (wait ``delay``
    seconds, then 200; ``close`` cuts the wait short). ``content_encodings`` lists each
    protobuf request's ``Content-Encoding`` ("identity" when absent).
    """

    def __init__(self, mode: HttpMode = "ok", delay: float = 5.0) -> None:
        super().__init__()
        self.mode = mode
        self.delay = delay
        self._encodings: list[str] = []
        self._server = _HttpServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="otlp-http-receiver",
            daemon=True,
        )
        self._thread.start()

    @property
    def mode(self) -> HttpMode:
        return self._mode

    @mode.setter
    def mode(self, mode: HttpMode) -> None:
        if mode not in get_args(HttpMode):
            raise ValueError(f"mode must be one of {get_args(HttpMode)}, not {mode!r}")
        self._mode = mode

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        """The full URL the HTTP ``OTLPSpanExporter`` takes as ``endpoint``."""
        return f"http://127.0.0.1:{self.port}{TRACES_PATH}"

    @property
    def content_encodings(self) -> list[str]:
        with self._condition:
            return list(self._encodings)

    def _record_encoding(self, encoding: str) -> None:
        with self._condition:
            self._encodings.append(encoding)

    def clear(self) -> None:
        with self._condition:
            self._encodings.clear()
        super().clear()

    def close(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if not self._begin_close():
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __repr__(self) -> str:
        return f"OtlpHttpReceiver({self.endpoint!r}, mode={self.mode!r})"


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpGrpcReceiver) -> None:
        self._receiver = receiver

    def Export(  # noqa: N802 (the generated servicer's naming)
        self, request: ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> ExportTraceServiceResponse:
        receiver = self._receiver
        receiver._count_request()
        match receiver.mode:
            case "error":
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "rejected by test receiver")
            case "unavailable":
                context.abort(grpc.StatusCode.UNAVAILABLE, "test receiver unavailable")
            case _:
                receiver._accept(request)
        return ExportTraceServiceResponse()


class OtlpGrpcReceiver(_SpanStore):
    """An OTLP/gRPC trace receiver on ``127.0.0.1:<free port>`` (insecure).

    ``mode`` (settable any time): "ok", "error" (INVALID_ARGUMENT, not retried),
    "unavailable" (UNAVAILABLE, which the exporter retries while its timeout allows).
    """

    def __init__(self, mode: GrpcMode = "ok") -> None:
        super().__init__()
        self.mode = mode
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp-grpc-receiver")
        self._server = grpc.server(self._executor)
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _TraceService(self), self._server
        )
        self._port = int(self._server.add_insecure_port("127.0.0.1:0"))
        if self._port == 0:
            raise OSError("grpc could not bind 127.0.0.1")
        self._server.start()

    @property
    def mode(self) -> GrpcMode:
        return self._mode

    @mode.setter
    def mode(self, mode: GrpcMode) -> None:
        if mode not in get_args(GrpcMode):
            raise ValueError(f"mode must be one of {get_args(GrpcMode)}, not {mode!r}")
        self._mode = mode

    @property
    def port(self) -> int:
        return self._port

    @property
    def endpoint(self) -> str:
        """What the gRPC ``OTLPSpanExporter`` takes as ``endpoint`` (with ``insecure=True``)."""
        return f"http://127.0.0.1:{self._port}"

    def close(self, grace: float = 0.5) -> None:
        """Stop the server (in-flight calls get ``grace`` seconds); safe to call twice."""
        if not self._begin_close():
            return
        self._server.stop(grace=grace).wait(timeout=grace + 5.0)
        self._executor.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"OtlpGrpcReceiver({self.endpoint!r}, mode={self.mode!r})"
