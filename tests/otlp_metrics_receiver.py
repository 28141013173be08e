"""Real in-process OTLP metrics receivers for tests: the trace receivers' metric counterpart.

No OpenTelemetry Collector binary is installable here, so the push tests export to these. Both
decode what the real exporters send with ``opentelemetry-proto``
(``ExportMetricsServiceRequest``) and keep each request as a list of :class:`ReceivedMetric`:

* :class:`OtlpMetricsHttpReceiver`: ``POST /v1/metrics`` (protobuf, optionally gzip or deflate)
  on a stdlib ``ThreadingHTTPServer``; ``endpoint`` is the full URL the HTTP exporter takes.
* :class:`OtlpMetricsGrpcReceiver`: ``MetricsService.Export`` on a grpcio server; ``endpoint``
  is ``http://127.0.0.1:PORT`` (the exporter then uses a plaintext channel).

Plus :class:`BlackHole`: a port that accepts TCP connections and never answers, the worst kind
of dead collector (the exporter waits for its timeout instead of failing fast).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Self, get_args

import grpc  # type: ignore[import-untyped]
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint

from tests.grpc_loopback import LoopbackGrpcServer
from tests.otlp_http import PROTOBUF, Answer, ClosesOnce, ProtobufHttpServer, decompress
from tests.otlp_receiver import attributes_to_dict

__all__ = [
    "BlackHole",
    "MetricsMode",
    "OtlpMetricsGrpcReceiver",
    "OtlpMetricsHttpReceiver",
    "ReceivedMetric",
    "ReceivedPoint",
    "metrics_from_request",
]

METRICS_PATH = "/v1/metrics"

MetricsMode = Literal["ok", "reject", "slow"]
"""``ok``: accept; ``reject``: HTTP 400 / gRPC INVALID_ARGUMENT (not retried); ``slow``: wait
``delay`` seconds (``close`` cuts it short), then accept."""


@dataclass(frozen=True)
class ReceivedPoint:
    """One data point: a number (gauge, sum) or a histogram's count, sum and buckets."""

    attributes: dict[str, object]
    value: float | None = None
    count: int | None = None
    sum: float | None = None
    bucket_counts: tuple[int, ...] = ()
    explicit_bounds: tuple[float, ...] = ()


@dataclass(frozen=True)
class ReceivedMetric:
    """One metric of one export request, as the receiver decoded it.

    ``kind`` is the OTLP data field: ``gauge``, ``sum``, ``histogram`` ...; ``monotonic`` and
    ``temporality`` (1 delta, 2 cumulative) are set for sums and histograms.
    """

    name: str
    unit: str
    description: str
    kind: str
    points: list[ReceivedPoint]
    resource: dict[str, object]
    scope: str
    monotonic: bool | None = None
    temporality: int | None = None

    def point(self, **attributes: str) -> ReceivedPoint | None:
        """The data point with exactly these attributes, or None."""
        return next((p for p in self.points if p.attributes == attributes), None)


def _number(point: NumberDataPoint) -> float:
    if point.WhichOneof("value") == "as_int":
        return float(point.as_int)
    return point.as_double


def _metric(metric: Metric, resource: dict[str, object], scope: str) -> ReceivedMetric:
    kind = metric.WhichOneof("data") or ""
    points: list[ReceivedPoint] = []
    monotonic: bool | None = None
    temporality: int | None = None
    if kind in ("gauge", "sum"):
        data = getattr(metric, kind)
        points = [
            ReceivedPoint(attributes_to_dict(p.attributes), value=_number(p))
            for p in data.data_points
        ]
        if kind == "sum":
            monotonic = bool(metric.sum.is_monotonic)
            temporality = int(metric.sum.aggregation_temporality)
    elif kind == "histogram":
        temporality = int(metric.histogram.aggregation_temporality)
        points = [
            ReceivedPoint(
                attributes_to_dict(p.attributes),
                count=int(p.count),
                sum=p.sum,
                bucket_counts=tuple(int(c) for c in p.bucket_counts),
                explicit_bounds=tuple(p.explicit_bounds),
            )
            for p in metric.histogram.data_points
        ]
    return ReceivedMetric(
        name=metric.name,
        unit=metric.unit,
        description=metric.description,
        kind=kind,
        points=points,
        resource=resource,
        scope=scope,
        monotonic=monotonic,
        temporality=temporality,
    )


def metrics_from_request(request: ExportMetricsServiceRequest) -> list[ReceivedMetric]:
    """Every metric in ``request``, each with its resource's attributes and its scope name."""
    received: list[ReceivedMetric] = []
    for resource_metrics in request.resource_metrics:
        resource = attributes_to_dict(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope.name
            received.extend(_metric(m, dict(resource), scope) for m in scope_metrics.metrics)
    return received


@dataclass
class _Store:
    condition: threading.Condition = field(default_factory=threading.Condition)
    exports: list[list[ReceivedMetric]] = field(default_factory=list)
    requests: int = 0


class _MetricsReceiver(ClosesOnce):
    """What both receivers share: accepted exports, a request count, and waiting."""

    def __init__(self, mode: MetricsMode, delay: float) -> None:
        super().__init__()
        self.mode = mode
        self.delay = delay
        self._store = _Store()

    @property
    def mode(self) -> MetricsMode:
        return self._mode

    @mode.setter
    def mode(self, mode: MetricsMode) -> None:
        if mode not in get_args(MetricsMode):
            raise ValueError(f"mode must be one of {get_args(MetricsMode)}, not {mode!r}")
        self._mode = mode

    @property
    def requests(self) -> int:
        """Export requests received, whatever the answer."""
        with self._store.condition:
            return self._store.requests

    def exports(self) -> list[list[ReceivedMetric]]:
        """The accepted export requests so far, oldest first."""
        with self._store.condition:
            return list(self._store.exports)

    def latest(self) -> dict[str, ReceivedMetric]:
        """Each metric name's most recent version (cumulative values: the current totals)."""
        newest: dict[str, ReceivedMetric] = {}
        for export in self.exports():
            newest.update((metric.name, metric) for metric in export)
        return newest

    def wait_for_exports(self, count: int, timeout: float = 5.0) -> dict[str, ReceivedMetric]:
        """Wait until ``count`` exports were accepted in all; then :meth:`latest`."""
        return self.wait_until(lambda _: len(self._store.exports) >= count, timeout)

    def wait_until(
        self, condition: Callable[[dict[str, ReceivedMetric]], bool], timeout: float = 5.0
    ) -> dict[str, ReceivedMetric]:
        """Wait until ``condition(self.latest())`` holds, re-checked on each accepted export.

        Raises ``TimeoutError`` naming the metrics that did arrive.
        """
        with self._store.condition:
            if not self._store.condition.wait_for(lambda: condition(self.latest()), timeout):
                names = sorted(self.latest())
                raise TimeoutError(f"condition not met within {timeout}s; received {names}")
        return self.latest()

    def _count_request(self) -> None:
        with self._store.condition:
            self._store.requests += 1

    def _hold(self) -> bool:
        """In ``slow`` mode wait ``delay``; False when ``close`` cut the wait short."""
        return self.mode != "slow" or not self._closing.wait(self.delay)

    def _accept(self, request: ExportMetricsServiceRequest) -> None:
        metrics = metrics_from_request(request)
        with self._store.condition:
            self._store.exports.append(metrics)
            self._store.condition.notify_all()


class OtlpMetricsHttpReceiver(_MetricsReceiver):
    """``POST /v1/metrics`` on ``127.0.0.1:<free port>``, served from a daemon thread."""

    def __init__(self, mode: MetricsMode = "ok", delay: float = 5.0) -> None:
        super().__init__(mode, delay)
        self._http = ProtobufHttpServer(
            METRICS_PATH, self._handle_post, name="otlp-metrics-http-receiver"
        )

    def _handle_post(self, body: bytes, content_type: str, encoding: str) -> Answer:
        self._count_request()
        try:
            if content_type != PROTOBUF:
                raise ValueError(f"expected {PROTOBUF}, got {content_type!r}")
            request = ExportMetricsServiceRequest.FromString(decompress(body, encoding))
        except Exception as error:
            return 400, f"undecodable request: {error}".encode(), "text/plain"
        if self.mode == "reject":
            return 400, b"rejected by test receiver", "text/plain"
        if not self._hold():
            return None  # closing: hang up unanswered
        self._accept(request)
        return 200, ExportMetricsServiceResponse().SerializeToString(), PROTOBUF

    @property
    def endpoint(self) -> str:
        """The full URL the HTTP ``OTLPMetricExporter`` takes as ``endpoint``."""
        return self._http.url

    def close(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if not self._begin_close():
            return
        self._http.close()

    def __repr__(self) -> str:
        return f"OtlpMetricsHttpReceiver({self.endpoint!r}, mode={self.mode!r})"


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OtlpMetricsGrpcReceiver) -> None:
        self._receiver = receiver

    def Export(  # noqa: N802 (the generated servicer's naming)
        self, request: ExportMetricsServiceRequest, context: grpc.ServicerContext
    ) -> ExportMetricsServiceResponse:
        receiver = self._receiver
        receiver._count_request()
        if receiver.mode == "reject":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "rejected by test receiver")
        if receiver._hold():
            receiver._accept(request)
        return ExportMetricsServiceResponse()


class OtlpMetricsGrpcReceiver(_MetricsReceiver):
    """``MetricsService.Export`` on ``127.0.0.1:<free port>`` (plaintext)."""

    def __init__(self, mode: MetricsMode = "ok", delay: float = 5.0) -> None:
        super().__init__(mode, delay)
        self._grpc = LoopbackGrpcServer(
            lambda server: metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
                _MetricsService(self), server
            ),
            "otlp-metrics-grpc",
        )

    @property
    def endpoint(self) -> str:
        """What the gRPC ``OTLPMetricExporter`` takes as ``endpoint`` (plaintext from http://)."""
        return self._grpc.endpoint

    def close(self, grace: float = 0.5) -> None:
        """Stop the server (in-flight calls get ``grace`` seconds); safe to call twice."""
        if self._begin_close():
            self._grpc.stop(grace)

    def __repr__(self) -> str:
        return f"OtlpMetricsGrpcReceiver({self.endpoint!r}, mode={self.mode!r})"


class BlackHole:
    """A loopback port whose listen backlog takes connections that nobody ever reads or
    answers: a collector that hangs. Context manager; ``close`` releases the port."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.port = int(self._socket.getsockname()[1])

    def endpoint(self, path: str = METRICS_PATH) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
