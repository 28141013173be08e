"""Only type-checked (mypy --strict in .ci/run), never run: the public API as a bot uses it,
README example included, so a signature change that breaks users fails CI."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import assert_type

import trader_telemetry as tt


class Account:
    equity = 10_000.0
    realized_pnl = 5.0
    unrealized_pnl = 1.0
    funding_pnl = -0.5


class Bot:
    daily_loss = 120.0
    daily_loss_limit = 1_500.0

    def fetch_marks(self) -> dict[str, float]:
        return {"BTC-PERP": 97_000.0}

    def fetch_account(self) -> Account:
        return Account()

    def trade(self) -> None:
        pass


telemetry = tt.configure(namespace="coinbase_trader")
assert_type(telemetry, tt.Telemetry)
assert_type(telemetry.metrics_url, str | None)


def run_cycle(bot: Bot) -> None:
    with tt.cycle_timer() as cycle:
        assert_type(cycle, tt.Cycle)
        with cycle.phase("fetch_marks"):
            telemetry.record_marks(bot.fetch_marks())
        account = bot.fetch_account()
        telemetry.record_account(
            equity=account.equity,
            realized_pnl=account.realized_pnl,
            unrealized_pnl=account.unrealized_pnl,
            funding_pnl=account.funding_pnl,
        )
        telemetry.record_daily_loss(bot.daily_loss, limit=bot.daily_loss_limit)
        with cycle.phase("place_orders"):
            bot.trade()
        telemetry.record_exposures({"BTC-PERP": 9_700.0})
        telemetry.set_circuit_breaker(True, reason="daily_loss")
        telemetry.record_ws_reconnect("marks")
        telemetry.record_stale_mark("ETH-PERP")
        telemetry.record_order("BTC-PERP", "buy")
        telemetry.record_fill("BTC-PERP", "buy", quantity=0.1, price=97_000.0, fee=3.9)
        telemetry.record_rejection("BTC-PERP", "post_only")
        telemetry.record_order_latency(0.05)
    assert_type(cycle.duration, float | None)
    assert_type(cycle.phases, dict[str, float])


@tt.timed_cycle
def decorated(x: int) -> str:
    return str(x)


assert_type(decorated(1), str)


@telemetry.timed_cycle
async def decorated_async(x: int) -> int:
    async with tt.cycle_timer(), tt.phase("inner"):
        await asyncio.sleep(0)
    return x


@telemetry.records_account
def fetch_account() -> Account:
    return Account()


assert_type(fetch_account(), Account)

config = tt.TelemetryConfig.from_env(
    port=0, thresholds=tt.Thresholds(expected_cycle_interval_seconds=2)
)
own = tt.Telemetry(config, clock=tt.ManualClock())
# Paths as pathlib gives them, as well as strings.
files = tt.TelemetryConfig(data_dir=Path("/var/lib/bot"), web_config=Path("/etc/bot/web.yml"))
assert_type(own.render_metrics().body, bytes)
own.shutdown(timeout=1.0)
tt.shutdown()


async def async_cycle() -> None:
    async with tt.cycle_timer() as cycle:
        assert_type(cycle, tt.Cycle)
        async with cycle.phase("x") as phase:
            assert_type(phase, tt.Phase)
