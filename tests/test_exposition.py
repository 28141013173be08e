"""The in-process endpoint, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

import trader_telemetry as tt
from tests.conftest import samples, value


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def served() -> Iterator[tt.Telemetry]:
    telemetry = tt.configure(namespace="coinbase_trader", port=0, profile="canary")
    yield telemetry
    tt.shutdown()


def test_configure_serves_on_loopback_with_real_port(served: tt.Telemetry) -> None:
    assert served.server_address is not None
    host, port = served.server_address
    assert host == "127.0.0.1"
    assert port > 0
    assert served.metrics_url == f"http://127.0.0.1:{port}/metrics"


def test_metrics_text_format(served: tt.Telemetry) -> None:
    with tt.cycle_timer():
        served.record_account(equity=1_000.0)
    assert served.metrics_url is not None
    status, headers, body = get(served.metrics_url)
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert families["coinbase_trader_equity"].samples[0].value == 1_000.0
    assert "coinbase_trader_build_info" in families
    assert "process_resident_memory_bytes" in families
    assert "target_info" not in families
    for family in families.values():
        for sample in family.samples:
            assert not any(label.startswith("otel_scope") for label in sample.labels)


def test_openmetrics_when_asked(served: tt.Telemetry) -> None:
    assert served.metrics_url is not None
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    status, headers, body = get(served.metrics_url, {"Accept": accept})
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith(b"# EOF\n")


def test_gzip_when_accepted(served: tt.Telemetry) -> None:
    assert served.metrics_url is not None
    status, headers, body = get(served.metrics_url, {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert b"coinbase_trader_build_info" in gzip.decompress(body)


def test_small_bodies_are_not_gzipped(served: tt.Telemetry) -> None:
    assert served.metrics_url is not None
    base = served.metrics_url.removesuffix("/metrics")
    status, headers, body = get(base + "/nope", {"Accept-Encoding": "gzip"})
    assert status == 404
    assert "Content-Encoding" not in headers
    assert body == b"not found\n"


def test_metrics_json_snapshot(served: tt.Telemetry) -> None:
    with tt.cycle_timer():
        served.record_account(equity=10_000.0, realized_pnl=5.0, unrealized_pnl=-2.0)
        served.record_exposure("BTC-PERP", 2_500.0)
        served.record_mark("BTC-PERP", 97_000.0)
        served.record_mark("ETH-PERP", float("nan"))  # unchecked on the tick path
        served.record_daily_loss(100.0, limit=1_000.0)
    assert served.metrics_url is not None
    status, headers, body = get(served.metrics_url + ".json")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc["namespace"] == "coinbase_trader"
    assert doc["profile"] == "canary"
    assert doc["timestamp"].endswith("Z")
    assert doc["account_snapshot"]["equity"] == 10_000.0
    assert doc["account_snapshot"]["total_pnl"] == 3.0
    assert doc["cycle_metrics"]["count"] == 1
    assert doc["risk"]["daily_loss_ratio"] == 0.1
    assert doc["positions"]["BTC-PERP"]["exposure_usd"] == 2_500.0
    assert doc["positions"]["BTC-PERP"]["mark_price"] == 97_000.0
    assert doc["positions"]["BTC-PERP"]["mark_age_seconds"] >= 0
    assert doc["positions"]["ETH-PERP"]["mark_price"] is None  # strict JSON: no NaN
    assert doc["health"]["status"] == "healthy"
    assert doc["health"]["checks"]["loop_heartbeat"] == "healthy"


def test_unknown_path_and_methods(served: tt.Telemetry) -> None:
    assert served.metrics_url is not None
    base = served.metrics_url.removesuffix("/metrics")
    assert get(base + "/nope")[0] == 404
    assert get(base + "/")[0] == 200
    request = urllib.request.Request(base + "/metrics", method="POST", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 405
    info.value.close()
    head = urllib.request.Request(base + "/metrics", method="HEAD")
    with urllib.request.urlopen(head, timeout=5) as response:
        assert response.status == 200
        assert response.read() == b""


def test_render_error_is_500_without_traceback(served: tt.Telemetry) -> None:
    def broken(accept: str | None = None) -> tt.Exposition:
        raise RuntimeError("secret internals")

    served.render_metrics = broken  # type: ignore[method-assign]
    assert served.metrics_url is not None
    status, _, body = get(served.metrics_url)
    assert status == 500
    assert b"secret internals" not in body
    assert b"Traceback" not in body


def test_port_in_use_is_a_clear_error_naming_host_and_port() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(tt.PortInUseError) as info:
            tt.configure(port=port)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "already in use" in str(info.value)
    assert tt.get_telemetry() is None


def test_two_instances_in_one_process_do_not_collide() -> None:
    a = tt.Telemetry(namespace="bot_a", port=0)
    b = tt.Telemetry(namespace="bot_a", port=0)
    try:
        a.record_account(equity=1.0)
        b.record_account(equity=2.0)
        assert a.metrics_url is not None
        assert b.metrics_url is not None
        assert b"bot_a_equity 1.0" in get(a.metrics_url)[2]
        assert b"bot_a_equity 2.0" in get(b.metrics_url)[2]
        # never the process-global registry
        assert REGISTRY.get_sample_value("bot_a_equity") is None
    finally:
        a.shutdown()
        b.shutdown()


def test_shutdown_is_idempotent_bounded_and_frees_the_port() -> None:
    telemetry = tt.Telemetry(port=0)
    assert telemetry.server_address is not None
    port = telemetry.server_address[1]
    started = time.monotonic()
    telemetry.shutdown(timeout=2.0)
    telemetry.shutdown(timeout=2.0)
    assert time.monotonic() - started < 2.5
    assert telemetry.closed
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # free again
    with tt.cycle_timer():  # recording after shutdown is harmless
        telemetry.record_account(equity=1.0)


def test_configure_twice_replaces_the_default() -> None:
    first = tt.configure(port=0)
    second = tt.configure(port=0)
    assert first.closed
    assert tt.get_telemetry() is second


def test_plugs_into_the_bots_own_meter_provider() -> None:
    bot_reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[bot_reader])
    trades = provider.get_meter("bot").create_counter("bot_trades", description="Trades.")
    telemetry = tt.Telemetry(namespace="plug", serve=False, meter_provider=provider)
    try:
        trades.add(3)  # a reader sees what is recorded after it joined the provider
        with telemetry.cycle_timer():
            pass
        assert samples(telemetry)[("bot_trades_total", frozenset())] == 3
        assert value(telemetry, "cycles_total", outcome="ok") == 1
        data = bot_reader.get_metrics_data()
        assert data is not None
        names = {
            m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        }
        assert "plug_cycle_duration_seconds" in names
    finally:
        telemetry.shutdown()
    # Our shutdown removes our reader and leaves the bot's provider working.
    provider.get_meter("bot").create_counter("bot_after", description="After.").add(1)
    assert bot_reader.get_metrics_data() is not None
    provider.shutdown()


def test_non_sdk_meter_provider_is_a_configuration_error() -> None:
    from opentelemetry.metrics import NoOpMeterProvider

    with pytest.raises(tt.ConfigurationError, match="meter_provider"):
        tt.Telemetry(serve=False, meter_provider=NoOpMeterProvider())


def test_target_info_and_scope_labels_can_be_switched_on() -> None:
    telemetry = tt.Telemetry(namespace="t", serve=False, target_info=True, scope_labels=True)
    try:
        with telemetry.cycle_timer():
            pass
        text = telemetry.render_metrics().body.decode()
        assert "target_info{" in text
        assert 'otel_scope_name="trader_telemetry"' in text
    finally:
        telemetry.shutdown()


def test_ipv6_loopback_when_available() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        telemetry = tt.Telemetry(host="::1", port=0)
    except tt.EndpointError as error:
        pytest.skip(f"::1 not bindable here: {error}")
    try:
        assert telemetry.metrics_url is not None
        assert telemetry.metrics_url.startswith("http://[::1]:")
        assert get(telemetry.metrics_url)[0] == 200
    finally:
        telemetry.shutdown()


def test_client_hanging_up_mid_response_leaves_no_traceback(
    served: tt.Telemetry, capfd: pytest.CaptureFixture[str]
) -> None:
    assert served.server_address is not None
    served.record_exposures({f"S{i}": float(i) for i in range(150)})  # a body of some size
    before = threading.active_count()
    for _ in range(20):
        with socket.create_connection(served.server_address, timeout=5) as client:
            client.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            client.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    # The server's connection threads have all seen the hang-ups and ended (polled).
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert served.metrics_url is not None
    assert get(served.metrics_url)[0] == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_metrics_json_keeps_its_layout() -> None:
    """The document's keys and their order (docs/events.md), whether a catalogue row or the
    snapshot module writes each value."""
    telemetry = tt.Telemetry(serve=False, clock=tt.ManualClock())
    try:
        doc = telemetry.snapshot()
    finally:
        telemetry.shutdown()
    assert list(doc) == [
        "timestamp", "namespace", "profile", "version", "account_snapshot", "cycle_metrics",
        "risk", "positions", "market_data", "telemetry", "health",
    ]  # fmt: skip
    assert list(doc["account_snapshot"]) == [
        "equity", "total_pnl", "realized_pnl", "unrealized_pnl", "funding_pnl", "timestamp",
        "age_seconds",
    ]  # fmt: skip
    assert list(doc["cycle_metrics"]) == [
        "count", "ok", "errors", "errors_by_type", "last_duration_seconds",
        "last_cycle_age_seconds", "in_progress_seconds",
    ]  # fmt: skip
    assert list(doc["risk"]) == [
        "daily_loss", "daily_loss_limit", "daily_loss_ratio", "circuit_breaker_triggered",
        "circuit_breaker_reason", "circuit_breaker_trips",
    ]  # fmt: skip
    assert list(doc["market_data"]) == ["staleness_seconds"]
    assert list(doc["telemetry"]) == ["errors", "rejected_values"]
