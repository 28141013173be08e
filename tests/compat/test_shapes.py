"""Each fixture pair (ours, GPT-Trader's metrics.json writer, GPT-Trader's legacy JSONL) served
by the exporter gives the same series, and the same values, as the library recording the same
state in-process; files the library itself wrote replay to its own exposition."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import trader_telemetry as tt
from trader_telemetry.compat import FileExporter
from trader_telemetry.simulation import run_demo

from .shapes import (
    FIXTURE_NOW,
    FIXTURES,
    SHAPES,
    TIME_DEPENDENT,
    Key,
    Series,
    comparable,
    library_state,
    series,
)

NS = "coinbase_trader"


def exporter_for(directory: Path, clock: tt.ManualClock, **options: object) -> FileExporter:
    return FileExporter(
        directory / "metrics.json",
        directory / "events.jsonl",
        namespace=NS,
        serve=False,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def split(found: Series) -> tuple[set[Key], dict[Key, float]]:
    keys = set(found)
    values = {
        key: value
        for key, value in found.items()
        if not key[0].removeprefix(NS + "_").startswith(TIME_DEPENDENT)
    }
    return keys, values


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_fixture_pair_exposes_what_the_library_exposes_for_the_same_state(shape: str) -> None:
    library = library_state(shape, NS, serve=False)
    with exporter_for(FIXTURES / shape, tt.ManualClock(wall=FIXTURE_NOW)) as exporter:
        served = comparable(series(exporter.telemetry), NS)
    expected = comparable(series(library), NS)
    library.shutdown()
    served_keys, served_values = split(served)
    expected_keys, expected_values = split(expected)
    assert served_keys == expected_keys
    assert served_values == pytest.approx(expected_values)


def test_exposure_keeps_symbols_as_written_and_signs_shorts() -> None:
    with exporter_for(FIXTURES / "gpt_trader_writer", tt.ManualClock(wall=FIXTURE_NOW)) as exporter:
        found = series(exporter.telemetry)
    assert found[(f"{NS}_exposure_usd", (("symbol", "BTC-PERP"),))] == pytest.approx(4_850.0)
    assert found[(f"{NS}_exposure_usd", (("symbol", "ETH-PERP"),))] == pytest.approx(-5_100.0)


def test_ages_come_from_the_files_not_from_when_they_were_read() -> None:
    with exporter_for(FIXTURES / "ours", tt.ManualClock(wall=FIXTURE_NOW + 100.0)) as exporter:
        found = series(exporter.telemetry)
    # metrics.json (taken 11:59:58) says BTC's mark was 1.5 s old and ETH's 12 s old.
    assert found[
        (f"{NS}_market_data_staleness_seconds", (("symbol", "BTC-PERP"),))
    ] == pytest.approx(103.5)
    assert found[
        (f"{NS}_market_data_staleness_seconds", (("symbol", "ETH-PERP"),))
    ] == pytest.approx(114.0)
    # The account snapshot was taken at 11:59:50, the last cycle ended at 11:59:50.
    assert found[(f"{NS}_telemetry_account_age_seconds", ())] == pytest.approx(110.0)
    assert found[(f"{NS}_last_cycle_age_seconds", ())] == pytest.approx(110.0)


def test_legacy_snapshot_latency_is_used_when_no_cycle_events(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "gpt_trader_legacy" / "metrics.json", tmp_path / "metrics.json")
    exporter = FileExporter(
        tmp_path / "metrics.json", namespace=NS, serve=False, clock=tt.ManualClock(wall=FIXTURE_NOW)
    )
    with exporter:
        found = series(exporter.telemetry)
    assert found[(f"{NS}_cycle_latency_ms", ())] == pytest.approx(420.0)
    assert found[(f"{NS}_cycles_total", (("outcome", "ok"),))] == 0  # a snapshot counts nothing


def test_files_written_by_the_library_replay_to_its_own_exposition(tmp_path: Path) -> None:
    clock = tt.ManualClock(wall=FIXTURE_NOW - 300.0)
    writer = tt.Telemetry(namespace=NS, serve=False, clock=clock, data_dir=str(tmp_path))
    run_demo(writer, cycles=60, interval=2.0, seed=5, sleep=clock.sleep)
    writer.shutdown()  # flushes events.jsonl and writes metrics.json a last time
    clock = tt.ManualClock(wall=FIXTURE_NOW - 300.0)
    library = tt.Telemetry(namespace=NS, serve=False, clock=clock)
    run_demo(library, cycles=60, interval=2.0, seed=5, sleep=clock.sleep)
    with exporter_for(tmp_path, tt.ManualClock(wall=clock.time())) as exporter:
        served = comparable(series(exporter.telemetry), NS)
    expected = comparable(series(library), NS)
    library.shutdown()
    # Order latency is measured in the bot and written to neither file: only it may be missing.
    not_in_files = {key for key in expected if key[0].startswith(f"{NS}_order_latency_seconds")}
    assert not_in_files
    served_keys, served_values = split(served)
    expected_keys, expected_values = split(
        {k: v for k, v in expected.items() if k not in not_in_files}
    )
    assert served_keys == expected_keys
    assert served_values == pytest.approx(expected_values)
    assert served[(f"{NS}_cycles_total", (("outcome", "ok"),))] == 58
