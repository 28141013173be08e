"""Recording calls: values land in the exposition; bad input is rejected, warned and counted,
and the last good value stays exported; nothing raises into the bot."""

from __future__ import annotations

import logging
import math
from decimal import Decimal
from enum import Enum

import pytest

import trader_telemetry as tt
from tests.conftest import value


def test_account_snapshot_and_total_pnl(telemetry: tt.Telemetry) -> None:
    telemetry.record_account(
        equity=10_250.0, realized_pnl=200.0, unrealized_pnl=55.0, funding_pnl=-5.0
    )
    assert value(telemetry, "equity") == 10_250.0
    assert value(telemetry, "realized_pnl_usd") == 200.0
    assert value(telemetry, "unrealized_pnl_usd") == 55.0
    assert value(telemetry, "funding_pnl_usd") == -5.0
    assert value(telemetry, "total_pnl_usd") == 250.0
    telemetry.record_account(total_pnl=999.0)
    assert value(telemetry, "total_pnl_usd") == 999.0
    assert value(telemetry, "equity") == 10_250.0  # omitted fields keep their value


def test_gauges_without_data_are_absent_not_zero(telemetry: tt.Telemetry) -> None:
    assert value(telemetry, "equity") is None
    assert value(telemetry, "telemetry_account_age_seconds") is None
    assert value(telemetry, "risk_daily_loss_limit") is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_pnl_is_rejected_and_last_good_value_kept(
    telemetry: tt.Telemetry, caplog: pytest.LogCaptureFixture, bad: float
) -> None:
    telemetry.record_account(equity=100.0, realized_pnl=1.0)
    with caplog.at_level(logging.WARNING, logger="trader_telemetry"):
        telemetry.record_account(equity=bad, realized_pnl=2.0)
    assert value(telemetry, "equity") == 100.0
    assert value(telemetry, "realized_pnl_usd") == 2.0  # the good field of the same call lands
    assert value(telemetry, "telemetry_rejected_values_total", reason="non_finite") == 1
    assert "equity must be finite" in caplog.text


def test_wrong_types_are_rejected_not_raised(telemetry: tt.Telemetry) -> None:
    telemetry.record_account(equity="10000")  # type: ignore[arg-type]
    telemetry.record_account(equity=True)  # a bool is an int to the type checker, not here
    telemetry.record_account(equity=Decimal("12.5"))  # type: ignore[arg-type]
    assert value(telemetry, "equity") == 12.5
    assert value(telemetry, "telemetry_rejected_values_total", reason="not_a_number") == 2


def test_warnings_are_rate_limited_but_every_rejection_counted(
    telemetry: tt.Telemetry, clock: tt.ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="trader_telemetry"):
        for _ in range(50):
            telemetry.record_account(equity=math.nan)
        clock.advance(61)
        telemetry.record_account(equity=math.nan)
    assert value(telemetry, "telemetry_rejected_values_total", reason="non_finite") == 51
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and r.name == "trader_telemetry"
    ]
    assert len(warnings) == 2
    assert "49 similar messages suppressed" in warnings[1].getMessage()


def test_negative_order_latency_is_rejected(telemetry: tt.Telemetry) -> None:
    telemetry.record_order_latency(0.12)
    telemetry.record_order_latency(-0.5)
    telemetry.record_order_latency(math.nan)
    assert value(telemetry, "order_latency_seconds_count") == 1
    assert value(telemetry, "telemetry_rejected_values_total", reason="negative") == 1
    assert value(telemetry, "telemetry_rejected_values_total", reason="non_finite") == 1


class Side(Enum):
    BUY = "BUY"
    SELL = "SELL"


def test_orders_fills_and_sides(telemetry: tt.Telemetry) -> None:
    telemetry.record_order("BTC-PERP", "BUY")
    telemetry.record_order("BTC-PERP", Side.SELL)  # type: ignore[arg-type]
    telemetry.record_order("BTC-PERP", "hold")
    telemetry.record_fill("BTC-PERP", "buy", quantity=0.1, price=97_000.0, fee=3.9)
    telemetry.record_fill("BTC-PERP", "buy", quantity=math.nan, price=97_000.0)
    telemetry.record_rejection("ETH-PERP", "insufficient_margin")
    assert value(telemetry, "orders_submitted_total", symbol="BTC-PERP", side="buy") == 1
    assert value(telemetry, "orders_submitted_total", symbol="BTC-PERP", side="sell") == 1
    assert value(telemetry, "fills_total", symbol="BTC-PERP", side="buy") == 1
    assert (
        value(telemetry, "orders_rejected_total", symbol="ETH-PERP", reason="insufficient_margin")
        == 1
    )
    assert value(telemetry, "telemetry_rejected_values_total", reason="unknown_side") == 1
    assert value(telemetry, "telemetry_rejected_values_total", reason="non_finite") == 1


def test_marks_staleness_is_computed_at_scrape(
    telemetry: tt.Telemetry, clock: tt.ManualClock
) -> None:
    telemetry.record_marks({"BTC-PERP": 97_000.0, "ETH-PERP": 3_400.0})
    clock.advance(12)
    telemetry.record_mark("ETH-PERP")
    clock.advance(3)
    assert value(telemetry, "market_data_staleness_seconds", symbol="BTC-PERP") == 15
    assert value(telemetry, "market_data_staleness_seconds", symbol="ETH-PERP") == 3
    telemetry.record_stale_mark("BTC-PERP")
    assert value(telemetry, "stale_marks_total", symbol="BTC-PERP") == 1


def test_symbol_labels_are_kept_as_written(telemetry: tt.Telemetry) -> None:
    telemetry.record_exposure("BTC-PERP", 1_000.0)
    assert value(telemetry, "exposure_usd", symbol="BTC-PERP") == 1_000.0


def test_symbol_flood_folds_into_overflow(clock: tt.ManualClock) -> None:
    telemetry = tt.Telemetry(serve=False, clock=clock, namespace="t", max_label_values=3)
    try:
        for i in range(1_000):
            telemetry.record_mark(f"SYM{i}")
            telemetry.record_exposure(f"SYM{i}", 1.0)
        staleness = list(telemetry.snapshot()["market_data"]["staleness_seconds"])
        assert staleness == ["SYM0", "SYM1", "SYM2", "__overflow__"]
        assert value(telemetry, "exposure_usd", symbol="__overflow__") == 1.0
        assert value(telemetry, "exposure_usd", symbol="SYM2") == 1.0
        assert (
            value(telemetry, "telemetry_rejected_values_total", reason="label_overflow") == 2 * 997
        )
    finally:
        telemetry.shutdown()


def test_record_exposures_replaces_closed_positions(telemetry: tt.Telemetry) -> None:
    telemetry.record_exposures({"BTC-PERP": 5_000.0, "ETH-PERP": -2_000.0})
    telemetry.record_exposures({"BTC-PERP": 4_000.0})
    assert value(telemetry, "exposure_usd", symbol="BTC-PERP") == 4_000.0
    assert value(telemetry, "exposure_usd", symbol="ETH-PERP") is None


def test_daily_loss_and_limit(telemetry: tt.Telemetry) -> None:
    telemetry.record_daily_loss(1_200.0, limit=1_500.0)
    telemetry.record_daily_loss(math.nan, limit=-5.0)
    assert value(telemetry, "risk_daily_loss") == 1_200.0
    assert value(telemetry, "risk_daily_loss_limit") == 1_500.0


def test_circuit_breaker_counts_trips_on_transition(telemetry: tt.Telemetry) -> None:
    assert value(telemetry, "circuit_breaker_triggered") == 0
    telemetry.set_circuit_breaker(True, reason="daily_loss")
    telemetry.set_circuit_breaker(True, reason="daily_loss")  # still tripped: not a new trip
    assert value(telemetry, "circuit_breaker_triggered") == 1
    telemetry.set_circuit_breaker(False)
    assert value(telemetry, "circuit_breaker_triggered") == 0
    telemetry.set_circuit_breaker(True, reason="daily_loss")
    assert value(telemetry, "circuit_breaker_trips_total", reason="daily_loss") == 2


def test_ws_reconnects_per_stream(telemetry: tt.Telemetry) -> None:
    telemetry.record_ws_reconnect("marks")
    telemetry.record_ws_reconnect("marks")
    telemetry.record_ws_reconnect("user")
    assert value(telemetry, "websocket_reconnects_total", stream="marks") == 2
    assert value(telemetry, "websocket_reconnects_total", stream="user") == 1


def test_account_age(telemetry: tt.Telemetry, clock: tt.ManualClock) -> None:
    telemetry.record_account(equity=1.0)
    clock.advance(900)
    assert value(telemetry, "telemetry_account_age_seconds") == 900


def test_internal_fault_is_logged_and_counted_never_raised(
    telemetry: tt.Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    # An unhashable symbol makes the library's own dict store fail: a fault, not the bot's problem.
    telemetry.record_mark(["BTC"])  # type: ignore[arg-type]
    assert value(telemetry, "telemetry_errors_total", reason="record_mark") == 1
    assert "internal fault in record_mark" in caplog.text


def test_fault_in_a_scrape_callback_is_counted_and_scrape_still_works(
    telemetry: tt.Telemetry,
) -> None:
    telemetry.record_account(equity=5.0)
    telemetry._state.exposure = None  # type: ignore[assignment]  # inject a broken state
    assert value(telemetry, "equity") == 5.0
    assert value(telemetry, "telemetry_errors_total", reason="observe_exposure_usd") is not None


def test_broken_log_handler_cannot_reach_the_bot(telemetry: tt.Telemetry) -> None:
    class Exploding(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("handler down")

        def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - stdlib name
            raise RuntimeError("handleError down")

    logger = logging.getLogger("trader_telemetry")
    handler = Exploding()
    logger.addHandler(handler)
    try:
        telemetry.record_account(equity=math.nan)
    finally:
        logger.removeHandler(handler)
    assert value(telemetry, "telemetry_rejected_values_total", reason="non_finite") == 1


def test_fetcher_decorators_record_and_return_unchanged(telemetry: tt.Telemetry) -> None:
    class Account:
        equity = 50_000.0
        realized_pnl = 10.0

    account = Account()

    @telemetry.records_account
    def fetch_account() -> Account:
        return account

    @telemetry.records_marks
    def fetch_marks() -> dict[str, float]:
        return {"SOL-PERP": 180.0}

    assert fetch_account() is account
    assert fetch_marks() == {"SOL-PERP": 180.0}
    assert value(telemetry, "equity") == 50_000.0
    assert value(telemetry, "market_data_staleness_seconds", symbol="SOL-PERP") == 0


async def test_async_fetcher_decorator(telemetry: tt.Telemetry) -> None:
    @telemetry.records_account
    async def fetch() -> dict[str, float]:
        return {"equity": 7.0, "funding_pnl": -1.0}

    assert await fetch() == {"equity": 7.0, "funding_pnl": -1.0}
    assert value(telemetry, "funding_pnl_usd") == -1.0


def test_fetcher_exception_propagates_unchanged(telemetry: tt.Telemetry) -> None:
    original = ConnectionError("down")

    @telemetry.records_marks
    def fetch() -> dict[str, float]:
        raise original

    with pytest.raises(ConnectionError) as info:
        fetch()
    assert info.value is original


def test_unreadable_fetcher_result_is_a_fault_not_an_exception(telemetry: tt.Telemetry) -> None:
    @telemetry.records_marks
    def fetch() -> int:
        return 42  # not iterable

    assert fetch() == 42
    assert value(telemetry, "telemetry_errors_total", reason="record_marks") == 1


def test_record_exposures_sums_what_folds_into_overflow(clock: tt.ManualClock) -> None:
    telemetry = tt.Telemetry(serve=False, clock=clock, namespace="t", max_label_values=1)
    try:
        telemetry.record_exposures({"BTC-PERP": 10.0, "ETH-PERP": 20.0, "SOL-PERP": 30.0})
        assert value(telemetry, "exposure_usd", symbol="BTC-PERP") == 10.0
        assert value(telemetry, "exposure_usd", symbol="__overflow__") == 50.0
    finally:
        telemetry.shutdown()
