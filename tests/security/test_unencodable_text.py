"""Text UTF-8 cannot encode (lone surrogates, what undecodable bytes become under Python's
``surrogateescape``) in label values, exception type names, phase names and resource
attributes: replaced and counted when recorded, so ``/metrics`` always encodes; and a scrape
that fails anyway is logged once a minute, not once per scrape."""

from __future__ import annotations

import logging
import os

import pytest
from opentelemetry.sdk.metrics import MeterProvider

import trader_telemetry as tt
from tests.conftest import value
from trader_telemetry.config import ServerLimits
from trader_telemetry.exposition.server import MetricsServer
from trader_telemetry.readers import Exposition

from .conftest import fetch


def test_label_values_with_surrogates_are_replaced_and_counted() -> None:
    telemetry = tt.Telemetry(namespace="u", serve=False)
    try:
        for _ in range(3):
            telemetry.record_rejection("BTC\udcff-PERP", "post_only")
        telemetry.record_cycle(0.1, error_type="Timeout\ud800", phases={"sign\udc80": 0.01})
        telemetry.record_order("ETH\udcfe", "buy")
        body = telemetry.render_metrics().body.decode("utf-8")
    finally:
        telemetry.shutdown()
    assert 'symbol="BTC\ufffd-PERP"' in body
    assert 'error_type="Timeout\ufffd"' in body
    assert 'phase="sign\ufffd"' in body
    assert 'symbol="ETH\ufffd"' in body
    # Each recording call is counted, not only the first use of a value.
    assert 'u_telemetry_rejected_values_total{reason="invalid_utf8"} 6' in body


def test_a_valid_non_ascii_label_value_is_left_alone() -> None:
    telemetry = tt.Telemetry(namespace="u", serve=False)
    try:
        telemetry.record_rejection("BTC-PERP", "prix dépassé ✓")
        body = telemetry.render_metrics().body.decode("utf-8")
    finally:
        telemetry.shutdown()
    assert 'reason="prix dépassé ✓"' in body
    assert "invalid_utf8" not in body


def test_a_resource_attribute_from_undecodable_bytes_does_not_break_target_info(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the environment holds when the variable was set with bytes that are not UTF-8.
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", os.fsdecode(b"deployment=prod\xff,team=q"))
    telemetry = tt.Telemetry(namespace="u", serve=False, target_info=True, reader="otel-prometheus")
    try:
        body = telemetry.render_metrics().body.decode("utf-8")
        rejected = value(telemetry, "u_telemetry_rejected_values_total", reason="invalid_utf8")
    finally:
        telemetry.shutdown()
    assert 'deployment="prod\ufffd"' in body
    assert rejected == 1


def test_the_bots_own_instruments_cannot_break_the_exposition() -> None:
    """Attributes the library never saw (the bot's own instruments on a shared provider):
    the native reader writes the bad characters as '?' and counts it, the scrape answers."""
    provider = MeterProvider()
    telemetry = tt.Telemetry(namespace="u", serve=False, meter_provider=provider)
    try:
        counter = provider.get_meter("bot").create_counter("bot_orders", description="Orders.")
        counter.add(1, {"venue": "x\udcff"})
        body = telemetry.render_metrics().body.decode("utf-8")
        again = telemetry.render_metrics().body.decode("utf-8")
    finally:
        telemetry.shutdown()
        provider.shutdown()
    assert 'venue="x?"' in body
    assert 'u_telemetry_rejected_values_total{reason="invalid_utf8"} 1' in again


class _Broken:
    """A source whose every render fails."""

    def render_metrics(self, accept: str | None = None) -> Exposition:
        raise UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed")

    def snapshot(self) -> dict[str, object]:
        raise AssertionError("not scraped")

    def health_response(self) -> tuple[int, dict[str, object]]:
        raise AssertionError("not scraped")

    def liveness_response(self) -> tuple[int, dict[str, object]]:
        raise AssertionError("not scraped")


def test_a_failing_scrape_is_logged_once_a_minute_not_per_scrape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = MetricsServer(_Broken(), "127.0.0.1", 0, limits=ServerLimits())
    try:
        with caplog.at_level(logging.DEBUG, logger="trader_telemetry.exposition"):
            statuses = [fetch(server.url + "/metrics")[0] for _ in range(10)]
    finally:
        server.close()
    assert statuses == [500] * 10
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].exc_info is not None  # the first one carries the traceback
    assert (
        sum("error while serving /metrics (again)" in r.getMessage() for r in caplog.records) == 9
    )
