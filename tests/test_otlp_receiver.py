"""The in-process OTLP receivers, exercised with the real OTLP exporters (HTTP and gRPC)."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    KeyValue,
    KeyValueList,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tests.otlp_receiver import (
    OtlpGrpcReceiver,
    OtlpHttpReceiver,
    ReceivedSpan,
    spans_from_request,
)

SERVICE = "otlp-receiver-test"

ExporterT = TypeVar("ExporterT", bound=SpanExporter)


@pytest.fixture(autouse=True)
def _no_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporters must see only the explicit endpoint, never an inherited OTEL_* setting."""
    for key in list(os.environ):
        if key.startswith("OTEL_"):
            monkeypatch.delenv(key)


@pytest.fixture
def http_receiver() -> Iterator[OtlpHttpReceiver]:
    with OtlpHttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def grpc_receiver() -> Iterator[OtlpGrpcReceiver]:
    with OtlpGrpcReceiver() as receiver:
        yield receiver


@contextmanager
def batch_provider(exporter: SpanExporter) -> Iterator[TracerProvider]:
    """A provider exporting through a BatchSpanProcessor; shut down (exporter too) on exit."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE}), shutdown_on_exit=False
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    try:
        yield provider
    finally:
        provider.shutdown()


@contextmanager
def shut_down_after(exporter: ExporterT) -> Iterator[ExporterT]:
    """For exporters used without a provider: shut down (and release the connection) on exit."""
    try:
        yield exporter
    finally:
        exporter.shutdown()


def finished_spans(count: int = 1) -> list[ReadableSpan]:
    """``count`` finished SDK spans, to hand to an exporter's ``export`` directly."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer(__name__)
    for index in range(count):
        with tracer.start_as_current_span(f"direct-{index}"):
            pass
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    return spans


def trade_with_child(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("trader")
    with tracer.start_as_current_span("cycle", attributes={"symbol": "BTC-USD"}):  # noqa: SIM117
        with tracer.start_as_current_span("place_order") as child:
            child.set_attribute("order.qty", 3)
            child.set_attribute("order.price", 101.5)
            child.set_attribute("order.dry_run", True)
            child.set_attribute("order.tags", ["a", "b"])
    assert provider.force_flush(5_000)


def assert_root_and_child(spans: list[ReceivedSpan]) -> None:
    by_name = {span.name: span for span in spans}
    assert set(by_name) == {"cycle", "place_order"}
    root, child = by_name["cycle"], by_name["place_order"]
    assert root.parent_span_id == ""
    assert child.parent_span_id == root.span_id
    assert child.trace_id == root.trace_id
    assert len(root.trace_id) == 32
    assert int(root.trace_id, 16) != 0
    assert len(root.span_id) == 16
    assert root.span_id != child.span_id
    assert root.attributes == {"symbol": "BTC-USD"}
    assert child.attributes == {
        "order.qty": 3,
        "order.price": 101.5,
        "order.dry_run": True,
        "order.tags": ["a", "b"],
    }
    assert root.status_code == child.status_code == 0
    assert root.resource["service.name"] == SERVICE


def record_failure(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("trader")
    with tracer.start_as_current_span("submit", record_exception=False) as span:
        try:
            raise ValueError("exchange said no")
        except ValueError as error:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, "exchange said no"))
    assert provider.force_flush(5_000)


def assert_failure(spans: list[ReceivedSpan]) -> None:
    [span] = spans
    assert span.name == "submit"
    assert span.status_code == 2
    assert span.events == ["exception"]


# -- OTLP/HTTP --------------------------------------------------------------------------------


def test_http_receives_root_and_child(http_receiver: OtlpHttpReceiver) -> None:
    assert http_receiver.endpoint == f"http://127.0.0.1:{http_receiver.port}/v1/traces"
    with batch_provider(HttpSpanExporter(endpoint=http_receiver.endpoint)) as provider:
        trade_with_child(provider)
        assert_root_and_child(http_receiver.wait_for_spans(2))
    assert http_receiver.requests == 1
    assert http_receiver.content_encodings == ["identity"]


def test_http_receives_error_status_and_exception_event(http_receiver: OtlpHttpReceiver) -> None:
    with batch_provider(HttpSpanExporter(endpoint=http_receiver.endpoint)) as provider:
        record_failure(provider)
        assert_failure(http_receiver.wait_for_spans(1))


def test_http_gzip(http_receiver: OtlpHttpReceiver) -> None:
    exporter = HttpSpanExporter(endpoint=http_receiver.endpoint, compression=Compression.Gzip)
    with batch_provider(exporter) as provider:
        trade_with_child(provider)
        assert_root_and_child(http_receiver.wait_for_spans(2))
    assert http_receiver.content_encodings == ["gzip"]


def test_http_reject_is_a_failure_and_not_retried(
    http_receiver: OtlpHttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    http_receiver.mode = "reject"
    with shut_down_after(HttpSpanExporter(endpoint=http_receiver.endpoint)) as exporter:
        assert exporter.export(finished_spans()) is SpanExportResult.FAILURE
    assert http_receiver.requests == 1
    assert "400" in caplog.text

    http_receiver.clear()
    with batch_provider(HttpSpanExporter(endpoint=http_receiver.endpoint)) as provider:
        trade_with_child(provider)
        assert http_receiver.requests == 1
    assert http_receiver.spans() == []


def test_http_server_error_is_a_failure(http_receiver: OtlpHttpReceiver) -> None:
    http_receiver.mode = "error"
    with shut_down_after(HttpSpanExporter(endpoint=http_receiver.endpoint)) as exporter:
        assert exporter.export(finished_spans()) is SpanExportResult.FAILURE
    assert http_receiver.requests == 1
    assert http_receiver.spans() == []

    http_receiver.mode = "ok"  # switchable at run time
    with shut_down_after(HttpSpanExporter(endpoint=http_receiver.endpoint)) as exporter:
        assert exporter.export(finished_spans(2)) is SpanExportResult.SUCCESS
    assert [span.name for span in http_receiver.spans()] == ["direct-0", "direct-1"]


def test_http_slow_answers_late() -> None:
    with OtlpHttpReceiver(mode="slow", delay=0.2) as receiver:
        with shut_down_after(HttpSpanExporter(endpoint=receiver.endpoint)) as exporter:
            started = time.monotonic()
            assert exporter.export(finished_spans()) is SpanExportResult.SUCCESS
            assert time.monotonic() - started >= 0.2

            receiver.delay = 5.0
            impatient = HttpSpanExporter(endpoint=receiver.endpoint, timeout=0.3)
            with shut_down_after(impatient) as timed_out:
                assert timed_out.export(finished_spans()) is SpanExportResult.FAILURE
        assert receiver.requests == 2
        started = time.monotonic()
    assert time.monotonic() - started < 1.0  # close() cut the 5 s wait short


def test_http_refuses_other_paths_and_content_types(http_receiver: OtlpHttpReceiver) -> None:
    base = f"http://127.0.0.1:{http_receiver.port}"
    cases = [
        (f"{base}/v1/metrics", "application/x-protobuf", 404),
        (http_receiver.endpoint, "application/json", 415),
        (http_receiver.endpoint, "application/x-protobuf", 400),
    ]
    for url, content_type, status in cases:
        request = urllib.request.Request(
            url, data=b"\xff\xff not protobuf", headers={"Content-Type": content_type}
        )
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=5)
        raised.value.close()
        assert raised.value.code == status
    assert http_receiver.spans() == []


# -- OTLP/gRPC --------------------------------------------------------------------------------


def grpc_exporter(receiver: OtlpGrpcReceiver, timeout: float | None = None) -> GrpcSpanExporter:
    return GrpcSpanExporter(endpoint=receiver.endpoint, insecure=True, timeout=timeout)


def test_grpc_receives_root_and_child(grpc_receiver: OtlpGrpcReceiver) -> None:
    assert grpc_receiver.endpoint == f"http://127.0.0.1:{grpc_receiver.port}"
    with batch_provider(grpc_exporter(grpc_receiver)) as provider:
        trade_with_child(provider)
        assert_root_and_child(grpc_receiver.wait_for_spans(2))
    assert grpc_receiver.requests == 1


def test_grpc_receives_error_status_and_exception_event(grpc_receiver: OtlpGrpcReceiver) -> None:
    with batch_provider(grpc_exporter(grpc_receiver)) as provider:
        record_failure(provider)
        assert_failure(grpc_receiver.wait_for_spans(1))


@pytest.mark.parametrize("mode", ["error", "unavailable"])
def test_grpc_error_is_a_failure(grpc_receiver: OtlpGrpcReceiver, mode: str) -> None:
    grpc_receiver.mode = "error" if mode == "error" else "unavailable"
    # INVALID_ARGUMENT is final; UNAVAILABLE would be retried, but the first backoff (~1 s)
    # does not fit in a 0.5 s timeout, so both fail after exactly one request.
    with shut_down_after(grpc_exporter(grpc_receiver, timeout=0.5)) as exporter:
        assert exporter.export(finished_spans()) is SpanExportResult.FAILURE
    assert grpc_receiver.requests == 1
    assert grpc_receiver.spans() == []


# -- the receivers themselves -----------------------------------------------------------------


@pytest.mark.parametrize("receiver_type", [OtlpHttpReceiver, OtlpGrpcReceiver])
def test_wait_clear_close(receiver_type: type[OtlpHttpReceiver | OtlpGrpcReceiver]) -> None:
    with receiver_type() as receiver:
        with pytest.raises(ValueError, match="mode must be one of"):
            receiver.mode = "sideways"  # type: ignore[assignment]
        with pytest.raises(TimeoutError, match=r"expected 1 spans within 0\.05s, got 0"):
            receiver.wait_for_spans(1, timeout=0.05)
        exporter: SpanExporter = (
            HttpSpanExporter(endpoint=receiver.endpoint)
            if isinstance(receiver, OtlpHttpReceiver)
            else grpc_exporter(receiver)
        )
        with shut_down_after(exporter):
            assert exporter.export(finished_spans()) is SpanExportResult.SUCCESS
        assert [span.name for span in receiver.wait_for_spans(1)] == ["direct-0"]
        receiver.clear()
        assert receiver.spans() == []
        assert receiver.requests == 0
        receiver.close()
    # __exit__ closed it a second time: idempotent


def test_spans_from_request_decodes_every_attribute_kind() -> None:
    def kv(key: str, value: AnyValue) -> KeyValue:
        return KeyValue(key=key, value=value)

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(kv("service.name", AnyValue(string_value="bot")))
    span = resource_spans.scope_spans.add().spans.add()
    span.trace_id = bytes(range(16))
    span.span_id = bytes(range(8))
    span.parent_span_id = bytes(range(8, 16))
    span.name = "decode"
    span.status.code = 2
    span.events.add().name = "exception"
    span.attributes.extend(
        [
            kv("s", AnyValue(string_value="x")),
            kv("b", AnyValue(bool_value=False)),
            kv("i", AnyValue(int_value=-7)),
            kv("d", AnyValue(double_value=0.5)),
            kv(
                "a",
                AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue()])),
            ),
            kv(
                "m",
                AnyValue(
                    kvlist_value=KeyValueList(values=[kv("k", AnyValue(bytes_value=b"\x01"))])
                ),
            ),
        ]
    )
    assert spans_from_request(request) == [
        ReceivedSpan(
            trace_id="000102030405060708090a0b0c0d0e0f",
            span_id="0001020304050607",
            parent_span_id="08090a0b0c0d0e0f",
            name="decode",
            attributes={
                "s": "x",
                "b": False,
                "i": -7,
                "d": 0.5,
                "a": [1, None],
                "m": {"k": b"\x01"},
            },
            status_code=2,
            events=["exception"],
            resource={"service.name": "bot"},
            event_records=(("exception", 0, {}),),
        )
    ]
