"""A real Prometheus scrapes the endpoint: every playbook metric is queryable with the value the
bot recorded, and histogram_quantile over cycle duration lands in the right bucket."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

import trader_telemetry as tt

from .conftest import Prometheus, scripted_cycle

NS = "coinbase_trader"


@pytest.fixture(params=["prometheus-2", "prometheus-3"])
def prom(request: pytest.FixtureRequest) -> Prometheus:
    """Debian's Prometheus 2.42, then Prometheus 3 (the session fixtures of conftest.py)."""
    name = "prometheus" if request.param == "prometheus-2" else "prometheus3"
    found: Prometheus = request.getfixturevalue(name)
    return found


@pytest.fixture
def bot(prom: Prometheus) -> Iterator[tt.Telemetry]:
    clock = tt.ManualClock()
    telemetry = tt.Telemetry(namespace=NS, serve=False, clock=clock)
    yield telemetry
    prom.source.current = None
    telemetry.shutdown()


def test_scripted_cycles_are_queryable(prom: Prometheus, bot: tt.Telemetry) -> None:
    prometheus = prom
    clock = bot.clock
    assert isinstance(clock, tt.ManualClock)
    # 10 cycles: durations 0.3, 0.6, ... 3.0 s; cycles 4 and 8 raise.
    for i in range(1, 11):
        scripted_cycle(bot, 0.3 * i - 0.1, fail=i % 4 == 0)
    bot.record_account(
        equity=101_000.0, realized_pnl=700.0, unrealized_pnl=320.0, funding_pnl=-20.0
    )
    bot.record_exposures({"BTC-PERP": 9_700.0, "ETH-PERP": -3_400.0})
    bot.record_daily_loss(1_250.0, limit=1_500.0)
    bot.set_circuit_breaker(True, reason="daily_loss")
    for _ in range(3):
        bot.record_ws_reconnect("marks")
    bot.record_stale_mark("ETH-PERP")
    bot.record_order("BTC-PERP", "buy")
    bot.record_fill("BTC-PERP", "buy", quantity=0.1, price=97_000.0)
    bot.record_rejection("ETH-PERP", "post_only")
    bot.record_order_latency(0.12)
    clock.advance(12.0)  # marks and the last cycle are now 12 s old

    prometheus.install(bot)

    expected = {
        f"{NS}_equity": 101_000.0,
        f"{NS}_realized_pnl_usd": 700.0,
        f"{NS}_unrealized_pnl_usd": 320.0,
        f"{NS}_funding_pnl_usd": -20.0,
        f"{NS}_total_pnl_usd": 1_000.0,
        f'{NS}_exposure_usd{{symbol="BTC-PERP"}}': 9_700.0,
        f'{NS}_exposure_usd{{symbol="ETH-PERP"}}': -3_400.0,
        f"{NS}_risk_daily_loss": 1_250.0,
        f"{NS}_risk_daily_loss_limit": 1_500.0,
        f"{NS}_circuit_breaker_triggered": 1.0,
        f'{NS}_circuit_breaker_trips_total{{reason="daily_loss"}}': 1.0,
        f'{NS}_cycles_total{{outcome="ok"}}': 8.0,
        f'{NS}_cycles_total{{outcome="error"}}': 2.0,
        f'{NS}_cycle_errors_total{{error_type="ScriptedError"}}': 2.0,
        f"{NS}_cycle_duration_seconds_count": 10.0,
        f"{NS}_cycle_latency_ms": 3_000.0,
        f"{NS}_last_cycle_age_seconds": 12.0,
        f"{NS}_cycle_in_progress_seconds": 0.0,
        f'{NS}_market_data_staleness_seconds{{symbol="BTC-PERP"}}': 12.0 + 2.9,
        f"{NS}_telemetry_account_age_seconds": 12.0,
        f'{NS}_websocket_reconnects_total{{stream="marks"}}': 3.0,
        f'{NS}_stale_marks_total{{symbol="ETH-PERP"}}': 1.0,
        f'{NS}_orders_submitted_total{{symbol="BTC-PERP",side="buy"}}': 1.0,
        f'{NS}_fills_total{{symbol="BTC-PERP",side="buy"}}': 1.0,
        f'{NS}_orders_rejected_total{{symbol="ETH-PERP",reason="post_only"}}': 1.0,
        f"{NS}_order_latency_seconds_count": 1.0,
        f'{NS}_cycle_phase_duration_seconds_count{{phase="fetch_marks"}}': 10.0,
    }
    for expr, want in expected.items():
        got = prometheus.scalar(expr)
        assert got == pytest.approx(want), expr

    # Durations 0.3..3.0 s: the median (5th-6th of 10) sits in the (1, 2] bucket.
    median = prometheus.scalar(f"histogram_quantile(0.5, {NS}_cycle_duration_seconds_bucket)")
    assert median is not None
    assert 1.0 < median <= 2.0
    # Nothing was slower than the 3 s warning edge; 3 of 10 were slower than 2 s.
    assert prometheus.scalar(f'{NS}_cycle_duration_seconds_bucket{{le="3.0"}}') == 10.0
    assert prometheus.scalar(f'{NS}_cycle_duration_seconds_bucket{{le="2.0"}}') == 6.0


def test_values_follow_the_bot_between_scrapes(prom: Prometheus, bot: tt.Telemetry) -> None:
    prometheus = prom
    bot.record_account(equity=100.0)
    prometheus.install(bot)
    assert prometheus.scalar(f"{NS}_equity") == 100.0
    bot.record_account(equity=float("nan"))  # rejected: the last good value stays
    bot.record_account(equity=250.0)
    prometheus.wait_for(f"{NS}_equity", lambda v: v == 250.0)
    prometheus.wait_for(
        f'{NS}_telemetry_rejected_values_total{{reason="non_finite"}}', lambda v: v == 1.0
    )


def test_exemplars_reach_prometheus(prom: Prometheus, bot: tt.Telemetry) -> None:
    prometheus = prom
    tracer = TracerProvider().get_tracer("bot")
    clock = bot.clock
    assert isinstance(clock, tt.ManualClock)
    with tracer.start_as_current_span("cycle") as span, bot.cycle_timer():
        clock.advance(4.5)
    trace_id = f"{span.get_span_context().trace_id:032x}"
    started = time.time() - 60
    prometheus.install(bot)
    found = prometheus.exemplars(f"{NS}_cycle_duration_seconds_bucket", started)
    assert found[0]["labels"]["trace_id"] == trace_id
    assert float(found[0]["value"]) == 4.5


def test_exemplar_survives_other_scrapes_before_prometheus(
    prometheus: Prometheus, bot: tt.Telemetry
) -> None:
    """Someone's curl (text) and a second OpenMetrics scraper come first: Prometheus still
    stores the exemplar (the SDK alone would have handed it to the first collection only)."""
    tracer = TracerProvider().get_tracer("bot")
    clock = bot.clock
    assert isinstance(clock, tt.ManualClock)
    with tracer.start_as_current_span("cycle") as span, bot.cycle_timer():
        clock.advance(5.5)
    trace_id = f"{span.get_span_context().trace_id:032x}"
    assert "trace_id" not in bot.render_metrics().body.decode()  # curl, text format
    other = bot.render_metrics("application/openmetrics-text; version=1.0.0").body.decode()
    assert trace_id in other  # another OpenMetrics scraper sees it too
    started = time.time() - 60
    prometheus.install(bot)
    found = prometheus.exemplars(f"{NS}_cycle_duration_seconds_bucket", started, trace_id=trace_id)
    assert float(found[0]["value"]) == 5.5


@pytest.mark.parametrize("reader", ["native", "otel-prometheus"])
def test_both_readers_scrape_the_same_values(prometheus: Prometheus, reader: str) -> None:
    clock = tt.ManualClock()
    telemetry = tt.Telemetry(namespace=NS, serve=False, clock=clock, reader=reader)
    try:
        for _ in range(4):
            with telemetry.cycle_timer():
                clock.advance(0.7)
        telemetry.record_exposure("BTC-PERP", 1_234.5)
        prometheus.install(telemetry)
        assert prometheus.scalar(f'{NS}_cycles_total{{outcome="ok"}}') == 4.0
        assert prometheus.scalar(f"{NS}_cycle_duration_seconds_sum") == pytest.approx(2.8)
        assert prometheus.scalar(f'{NS}_exposure_usd{{symbol="BTC-PERP"}}') == 1_234.5
        assert prometheus.scalar('up{job="bot"}') == 1.0
    finally:
        prometheus.source.current = None
        telemetry.shutdown()
