"""The fixture pairs under fixtures/ and, for each, the same state recorded in-process through
the library's own calls: what a bot importing the library would expose."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

import trader_telemetry as tt
from trader_telemetry.compat.legacy_names import LEGACY_SPECS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: 2026-11-25T12:00:00Z: "now" for the fixtures (their newest line is 2 s older).
FIXTURE_NOW = 1_795_608_000.0

#: Values that depend on when they are read, not on the state: compared by presence only.
TIME_DEPENDENT = (
    "last_cycle_age_seconds",
    "telemetry_account_age_seconds",
    "market_data_staleness_seconds",
    "cycle_in_progress_seconds",
    "health_status",
    "circuit_breaker_triggered",
)
Key = tuple[str, tuple[tuple[str, str], ...]]
Series = dict[Key, float]


class ExchangeTimeoutError(Exception):
    """Named like the error in fixtures/ours/events.jsonl."""


def series(telemetry: tt.Telemetry) -> Series:
    """Every sample exposed now: (name, sorted labels) -> value."""
    text = telemetry.render_metrics().body.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def comparable(found: Series, namespace: str) -> Series:
    """The library's own series: without process_*, the exporter-only exporter_* rows and
    the GPT-Trader exporter names only ``serve`` keeps."""
    legacy = {spec.full_name(namespace) for spec in LEGACY_SPECS}
    return {
        key: value
        for key, value in found.items()
        if key[0].startswith(namespace + "_")
        and not key[0].startswith(namespace + "_exporter_")
        and key[0].removesuffix("_total") not in legacy
        and key[0] not in legacy
    }


def _timed_cycle(
    telemetry: tt.Telemetry,
    clock: tt.ManualClock,
    phases: dict[str, float],
    total: float,
    error: type[ExchangeTimeoutError] | None = None,
) -> None:
    with contextlib.suppress(ExchangeTimeoutError), telemetry.cycle_timer() as cycle:
        for name, seconds in phases.items():
            with cycle.phase(name):
                clock.advance(seconds)
        clock.advance(total - sum(phases.values()))
        if error is not None:
            raise error("as in the fixture")


def record_ours(telemetry: tt.Telemetry, clock: tt.ManualClock) -> None:
    _timed_cycle(telemetry, clock, {"fetch_marks": 0.1, "place_orders": 0.12}, 0.25)
    telemetry.record_order("BTC-PERP", "buy")
    telemetry.record_fill(
        "BTC-PERP", "buy", quantity=0.05, price=97_000.0, fee=1.9, realized_pnl=0.0
    )
    telemetry.record_account(
        equity=10_250.0, realized_pnl=200.0, unrealized_pnl=55.0, funding_pnl=-5.0
    )
    telemetry.record_daily_loss(300.0, limit=1_500.0)
    _timed_cycle(telemetry, clock, {"fetch_marks": 4.1}, 4.2, ExchangeTimeoutError)
    telemetry.record_ws_reconnect("marks")
    telemetry.record_stale_mark("ETH-PERP")
    telemetry.record_rejection("ETH-PERP", "insufficient_margin")
    telemetry.set_circuit_breaker(True, reason="daily_loss")
    telemetry.set_circuit_breaker(False)
    _timed_cycle(telemetry, clock, {"fetch_marks": 0.1, "place_orders": 0.15}, 0.3)
    telemetry.record_account(
        equity=10_260.0, realized_pnl=200.0, unrealized_pnl=65.0, funding_pnl=-5.0
    )
    telemetry.record_daily_loss(290.0, limit=1_500.0)
    telemetry.record_exposures({"BTC-PERP": 4_850.0, "ETH-PERP": -5_100.0})
    telemetry.record_marks({"BTC-PERP": 97_000.0, "ETH-PERP": 3_400.0})


def record_gpt_trader_writer(telemetry: tt.Telemetry, clock: tt.ManualClock) -> None:
    telemetry.record_order("BTC-PERP", "buy")
    telemetry.record_fill("BTC-PERP", "buy", quantity=0.05, price=97_000.0)
    telemetry.record_order("ETH-PERP", "sell")
    telemetry.record_rejection("ETH-PERP", "insufficient_margin")
    _timed_cycle(telemetry, clock, {}, 0.85)
    _timed_cycle(telemetry, clock, {}, 4.1)
    telemetry.record_ws_reconnect("ticker")
    telemetry.record_ws_reconnect("ticker")
    telemetry.record_stale_mark("BTC-PERP")
    telemetry.record_fill(
        "ETH-PERP", "sell", quantity=1.5, price=3_400.0, fee=0.4, realized_pnl=12.5
    )
    telemetry.record_account(realized_pnl=12.5, unrealized_pnl=35.5)
    telemetry.record_account(funding_pnl=-1.2)  # the funding_payment event
    telemetry.record_account(equity=10_250.5)
    # positions list: exposure = quantity x mark price, negative for the short; labels as written
    telemetry.record_exposures({"BTC-PERP": 0.05 * 97_000.0, "ETH-PERP": -1.5 * 3_400.0})
    telemetry.record_marks({"BTC-PERP": 97_000.0, "ETH-PERP": 3_400.0})


def record_gpt_trader_legacy(telemetry: tt.Telemetry, clock: tt.ManualClock) -> None:
    telemetry.record_order("SOL-PERP", "sell")
    telemetry.record_fill("SOL-PERP", "sell", quantity=10.0, price=180.0)
    telemetry.record_ws_reconnect("user")
    _timed_cycle(telemetry, clock, {}, 0.42)
    telemetry.record_rejection("BTC-PERP", "post_only_would_cross")
    telemetry.record_stale_mark("SOL-PERP")
    telemetry.set_circuit_breaker(True, reason="max_drawdown")
    telemetry.record_account(
        equity=10_100.0, realized_pnl=80.0, unrealized_pnl=25.0, funding_pnl=-5.0, total_pnl=100.0
    )
    telemetry.record_exposures({"BTC-PERP": 4_850.0, "SOL-PERP": -1_800.0})
    telemetry.record_marks({"SOL-PERP": 180.0})


SHAPES: dict[str, Callable[[tt.Telemetry, tt.ManualClock], None]] = {
    "ours": record_ours,
    "gpt_trader_writer": record_gpt_trader_writer,
    "gpt_trader_legacy": record_gpt_trader_legacy,
}


def library_state(shape: str, namespace: str, **options: object) -> tt.Telemetry:
    """A library Telemetry that recorded ``shape``'s state in-process (caller shuts it down)."""
    clock = tt.ManualClock(wall=FIXTURE_NOW - 120.0)
    telemetry = tt.Telemetry(namespace=namespace, clock=clock, **options)  # type: ignore[arg-type]
    SHAPES[shape](telemetry, clock)
    return telemetry
