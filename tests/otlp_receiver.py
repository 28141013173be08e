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

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import grpc  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.grpc_loopback import LoopbackGrpcServer
from tests.otlp_http import PROTOBUF, Answer, ClosesOnce, ProtobufHttpServer, decompress

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
    start_ns: int = 0
    end_ns: int = 0
    #: (name, time in ns, attributes) of each event, in order.
    event_records: tuple[tuple[str, int, dict[str, object]], ...] = ()


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
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    event_records=tuple(
                        (event.name, event.time_unix_nano, attributes_to_dict(event.attributes))
                        for event in span.events
                    ),
                )
                for span in scope_spans.spans
            )
    return received


class _SpanStore(ClosesOnce):
    """What both receivers share: the received spans, a request count, and waiting."""

    def __init__(self) -> None:
        super().__init__()
        self._condition = threading.Condition()
        self._spans: list[ReceivedSpan] = []
        self._requests = 0

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


def _text(status: int, message: str) -> Answer:
    return status, message.encode(), "text/plain; charset=utf-8"


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
        self._http = ProtobufHttpServer(TRACES_PATH, self._handle_post, name="otlp-http-receiver")

    def _handle_post(self, body: bytes, content_type: str, encoding: str) -> Answer:
        self._count_request()
        if content_type != PROTOBUF:
            return _text(415, f"expected {PROTOBUF}, got {content_type!r}")
        self._record_encoding(encoding)
        try:
            request = ExportTraceServiceRequest.FromString(decompress(body, encoding))
        except Exception as error:
            return _text(400, f"undecodable request: {error}")
        match self.mode:
            case "reject":
                return _text(400, "rejected by test receiver")
            case "error":
                return _text(500, "test receiver error")
            case "slow":
                if self._closing.wait(self.delay):  # close() cuts the wait short
                    return None
            case _:
                pass
        self._accept(request)
        return 200, ExportTraceServiceResponse().SerializeToString(), PROTOBUF

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
        return self._http.port

    @property
    def endpoint(self) -> str:
        """The full URL the HTTP ``OTLPSpanExporter`` takes as ``endpoint``."""
        return self._http.url

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
        self._http.close()

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
        self._grpc = LoopbackGrpcServer(
            lambda server: trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
                _TraceService(self), server
            ),
            "otlp-grpc-receiver",
        )

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
        return self._grpc.port

    @property
    def endpoint(self) -> str:
        """What the gRPC ``OTLPSpanExporter`` takes as ``endpoint`` (with ``insecure=True``)."""
        return self._grpc.endpoint

    def close(self, grace: float = 0.5) -> None:
        """Stop the server (in-flight calls get ``grace`` seconds); safe to call twice."""
        if self._begin_close():
            self._grpc.stop(grace)

    def __repr__(self) -> str:
        return f"OtlpGrpcReceiver({self.endpoint!r}, mode={self.mode!r})"
