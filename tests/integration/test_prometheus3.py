"""Prometheus 3 as the receiver: what its scrapes negotiate, and ``otlp_metrics=True`` pushing
into its OTLP receiver (``--web.enable-otlp-receiver``, ``/api/v1/otlp/v1/metrics``).

Every catalogue metric the push carries must be queryable in PromQL with the value the scrape of
the same bot gives, under the name Prometheus 3's OTLP translation makes of it
(:func:`otlp_name`, documented in docs/otlp-metrics.md); and the cycle duration pushed as an
exponential histogram becomes a native histogram whose ``histogram_quantile`` agrees with the
classic buckets within their resolution.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trader_telemetry as tt
from trader_telemetry.catalogue import CATALOGUE, CYCLE_BUCKETS, MetricKind
from trader_telemetry.exposition import MetricsServer

from ..go_tools import go_tool
from ..prometheus_process import running_prometheus
from .conftest import Prometheus, SwappableSource, scripted_cycle

NS = "promthree"
SCRAPE_JOB = "bot"  # the session Prometheus' scrape job; pushed series carry job=service.name


def otlp_name(name: str, unit: str, kind: MetricKind) -> str:
    """The name Prometheus 3's default OTLP translation (``UnderscoreEscapingWithSuffixes``)
    gives a catalogue metric: the unit suffix is added unless the name ends in it already, a
    ``{...}`` unit adds none, unit ``1`` on a gauge adds ``_ratio``, counters keep ``_total``."""
    if kind is MetricKind.GAUGE and unit == "1":
        return f"{name}_ratio"
    if unit == "ms" and not name.endswith("_milliseconds"):
        return f"{name}_milliseconds"
    return name


def otlp_bot(prometheus: Prometheus, **config: Any) -> tt.Telemetry:
    return tt.Telemetry(
        namespace=NS,
        serve=False,
        clock=tt.ManualClock(),
        otlp_metrics=True,
        otlp_metrics_endpoint=f"{prometheus.url}/api/v1/otlp/v1/metrics",
        otlp_metrics_protocol="http/protobuf",
        otlp_metrics_interval_seconds=0.25,
        **config,
    )


@pytest.fixture
def pushing(prometheus3: Prometheus) -> Iterator[tt.Telemetry]:
    bot = otlp_bot(prometheus3)
    yield bot
    prometheus3.source.current = None
    bot.shutdown()


def play(bot: tt.Telemetry) -> None:
    clock = bot.clock
    assert isinstance(clock, tt.ManualClock)
    for i in range(1, 9):
        scripted_cycle(bot, 0.5 * i, fail=i == 5)
    bot.record_account(equity=101_000.0, realized_pnl=700.0, unrealized_pnl=320.0)
    bot.record_exposures({"BTC-PERP": 9_700.0, "ETH-PERP": -3_400.0})
    bot.record_daily_loss(1_250.0, limit=1_500.0)
    bot.set_circuit_breaker(True, reason="daily_loss")
    bot.record_ws_reconnect("marks")
    bot.record_stale_mark("ETH-PERP")
    bot.record_order("BTC-PERP", "buy")
    bot.record_fill("BTC-PERP", "buy", quantity=0.1, price=97_000.0)
    bot.record_rejection("ETH-PERP", "post_only")
    bot.record_order_latency(0.12)
    clock.advance(12.0)


def series(prometheus: Prometheus, selector: str) -> dict[tuple[str, frozenset[Any]], float]:
    """Name and labels (without job and instance; ``le`` as a number) -> value."""
    found = {}
    for item in prometheus.query(selector):
        labels = dict(item["metric"])
        name = labels.pop("__name__")
        labels.pop("job", None)
        labels.pop("instance", None)
        if "le" in labels:
            labels["le"] = float(labels["le"])
        found[(name, frozenset(labels.items()))] = float(item["value"][1])
    return found


def test_prometheus3_negotiates_openmetrics(prometheus3: Prometheus) -> None:
    accepts = [a for a in prometheus3.source.accepts if a]
    assert accepts, "Prometheus 3 has not scraped the endpoint"
    assert accepts[-1].startswith("application/openmetrics-text;version=1.0.0"), accepts[-1]


def test_every_pushed_metric_is_queryable_with_the_scraped_value(
    prometheus3: Prometheus, pushing: tt.Telemetry
) -> None:
    play(pushing)
    prometheus3.install(pushing)  # scraped as job="bot" too, from the same state
    specs = [s for s in CATALOGUE if not s.name.startswith("exporter_")]
    scraped: dict[tuple[str, frozenset[Any]], float] = {}
    pushed: dict[tuple[str, frozenset[Any]], float] = {}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        scraped = series(prometheus3, f'{{job="{SCRAPE_JOB}",__name__=~"{NS}_.+"}}')
        pushed = series(prometheus3, f'{{job="{NS}",__name__=~"{NS}_.+"}}')
        if len(pushed) >= len(scraped) > 0:
            break
        time.sleep(0.25)
    renamed = {}
    for spec in specs:
        full = spec.full_name(NS)
        suffixes = ("_bucket", "_sum", "_count") if spec.kind is MetricKind.HISTOGRAM else ("",)
        for suffix in suffixes:
            renamed[full + suffix] = otlp_name(full, spec.unit, spec.kind) + suffix
    expected = {(renamed[name], labels): v for (name, labels), v in scraped.items()}
    assert len({name for name, _ in scraped}) >= 30, sorted(scraped)  # the catalogue
    missing = set(expected) - set(pushed)
    assert not missing, sorted(missing)
    for key, value in expected.items():
        assert pushed[key] == pytest.approx(value), key


def test_native_cycle_histogram_quantiles_agree_with_the_classic_buckets(
    prometheus3: Prometheus,
) -> None:
    bot = otlp_bot(prometheus3, otlp_metrics_exponential_histograms=True)
    durations = [0.05 * 1.07**k for k in range(80)]  # 0.05 s .. 10.5 s, spread over buckets
    try:
        clock = bot.clock
        assert isinstance(clock, tt.ManualClock)
        for seconds in durations:
            with bot.cycle_timer():
                clock.advance(seconds)
        prometheus3.install(bot)
        native = f'{NS}_cycle_duration_seconds{{job="{NS}"}}'
        prometheus3.wait_for(f"histogram_count({native})", lambda v: v == len(durations))
        assert prometheus3.scalar(f"histogram_sum({native})") == pytest.approx(sum(durations))
        classic = f'{NS}_cycle_duration_seconds_bucket{{job="{SCRAPE_JOB}"}}'
        for q in (0.5, 0.9, 0.99):
            from_native = prometheus3.scalar(f"histogram_quantile({q}, {native})")
            from_classic = prometheus3.scalar(f"histogram_quantile({q}, {classic})")
            assert from_native is not None
            assert from_classic is not None
            # The classic estimate lies in the bucket holding the q-th cycle; the native one,
            # far finer, must land in that same bucket.
            rank = math.ceil(q * len(durations)) - 1
            index = bisect.bisect_left(CYCLE_BUCKETS, sorted(durations)[rank])
            low = CYCLE_BUCKETS[index - 1] if index else 0.0
            high = CYCLE_BUCKETS[index] if index < len(CYCLE_BUCKETS) else math.inf
            assert low <= from_classic <= high, (q, from_classic)
            assert low <= from_native <= high, (q, from_native, from_classic)
    finally:
        prometheus3.source.current = None
        bot.shutdown()


def test_without_suffixes_the_pushed_names_are_exactly_the_catalogue(tmp_path: Path) -> None:
    # The translation docs/otlp-metrics.md recommends for dashboards and alert rules that read
    # the catalogue's names: no `_ratio`, no `_milliseconds` added.
    config = tmp_path / "prometheus.yml"
    config.write_text("otlp:\n  translation_strategy: UnderscoreEscapingWithoutSuffixes\n")
    with running_prometheus(
        config, "--web.enable-otlp-receiver", binary=go_tool("TT_PROMETHEUS3")
    ) as url:
        receiver = Prometheus(url, SwappableSource())
        bot = otlp_bot(receiver)
        try:
            play(bot)
            exposed = {
                line.split("{")[0].split(" ")[0]
                for line in bot.render_metrics().body.decode().splitlines()
                if line.startswith(f"{NS}_")
            }
            deadline = time.monotonic() + 15
            pushed: set[str] = set()
            while time.monotonic() < deadline and pushed != exposed:
                pushed = {n for n, _ in series(receiver, f'{{job="{NS}",__name__=~"{NS}_.+"}}')}
                time.sleep(0.25)
        finally:
            bot.shutdown()
    assert pushed == exposed


def test_text_and_openmetrics_scrapes_store_the_same_series(tmp_path: Path) -> None:
    # Prometheus 3 negotiates the format (scrape_protocols): one job keeps its default
    # (OpenMetrics first: exemplars), one asks for the classic text format only.
    source = SwappableSource()
    bot = tt.Telemetry(namespace=NS, serve=False, clock=tt.ManualClock())
    play(bot)
    source.current = bot
    endpoint = MetricsServer(source, "127.0.0.1", 0)
    target = f"127.0.0.1:{endpoint.port}"
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 500ms, scrape_timeout: 500ms}\n"
        "scrape_configs:\n"
        f"  - job_name: om\n    static_configs: [{{targets: ['{target}']}}]\n"
        "  - job_name: text\n    scrape_protocols: [PrometheusText0.0.4]\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    try:
        with running_prometheus(
            tmp_path / "prometheus.yml", binary=go_tool("TT_PROMETHEUS3")
        ) as url:
            prom = Prometheus(url, source)
            prom.wait_for('count(up{job=~"om|text"} == 1)', lambda v: v == 2, timeout=20)
            om = series(prom, f'{{job="om",__name__=~"{NS}_.+"}}')
            text = series(prom, f'{{job="text",__name__=~"{NS}_.+"}}')
    finally:
        endpoint.close()
        bot.shutdown()
    accepted = {a.split(";")[0] for a in source.accepts if a}
    assert accepted == {"application/openmetrics-text", "text/plain"}, source.accepts
    assert om == text  # the same series and values both ways
    assert len(om) > 50
