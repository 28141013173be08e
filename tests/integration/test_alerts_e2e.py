"""End to end: a real Prometheus loads the rendered rules, scrapes a real bot endpoint, and the
daily-loss warning fires once the loss passes 80 % of the limit.

This Prometheus is the test's own (not the session one): it needs the rendered ``alerts.yml`` and a
1 s evaluation interval. The bundle is rendered with ``scrape_interval_seconds=1`` and no
Alertmanager; the only change made to the rendered ``prometheus.yml`` is the scrape target, which
becomes the endpoint's real loopback address. ``alerts.yml`` is used exactly as rendered.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import trader_telemetry as tt
from trader_telemetry.ops.bundle import write_files
from trader_telemetry.ops.options import OpsOptions

from ..prometheus_process import running_prometheus
from .conftest import Prometheus, SwappableSource, _wait_target_up

NAMESPACE = "coinbase_trader"
ALERT = "DailyLossGuardWarn"
#: First scrape (~5.4 s discovery throttle) + the rule's ``for`` + a few evaluations.
DEADLINE_SECONDS = 30.0


def _duration_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+)(ms|s|m|h)", text)
    assert "".join(n + u for n, u in parts) == text, f"unexpected duration {text!r}"
    return sum(int(n) * units[u] for n, u in parts)


@pytest.fixture
def bot() -> Iterator[tt.Telemetry]:
    telemetry = tt.Telemetry(namespace=NAMESPACE, host="127.0.0.1", port=0)
    yield telemetry
    telemetry.shutdown()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    options = OpsOptions(namespace=NAMESPACE, scrape_interval_seconds=1, alertmanager=None)
    write_files(options, tmp_path / "bundle")
    return tmp_path / "bundle"


def _e2e_config(bundle: Path, bot: tt.Telemetry) -> Path:
    """The rendered prometheus.yml with its target pointed at the bot's real address."""
    address = bot.server_address
    assert address is not None
    config: dict[str, Any] = yaml.safe_load((bundle / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["job_name"] == NAMESPACE
    job["static_configs"] = [{"targets": [f"{address[0]}:{address[1]}"]}]
    # Next to the rendered one, so `rule_files: [alerts.yml]` resolves to the rendered rules.
    path = bundle / "prometheus-e2e.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _alerts(prom: Prometheus, name: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = prom.api("/api/v1/alerts")["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == name]


def test_daily_loss_guard_warn_fires_in_a_real_prometheus(bundle: Path, bot: tt.Telemetry) -> None:
    rules = yaml.safe_load((bundle / "alerts.yml").read_text())
    [rule] = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == ALERT]
    hold = _duration_seconds(rule.get("for", "0s"))
    assert hold <= 10, f"{ALERT} holds for {hold} s at a 1 s interval: too slow to test"

    bot.record_daily_loss(loss=500.0, limit=1000.0)  # 50 %: quiet
    with running_prometheus(_e2e_config(bundle, bot), "--log.level=info") as url:
        prom = Prometheus(url, SwappableSource())
        _wait_target_up(prom)
        prom.wait_for(f"{NAMESPACE}_risk_daily_loss", lambda v: v == 500.0)
        time.sleep(1.5)  # at least one evaluation at 50 %
        assert _alerts(prom, ALERT) == [], "the warning fires below 80 %"

        bot.record_daily_loss(loss=850.0, limit=1000.0)  # 85 %: past the warning level
        deadline = time.monotonic() + DEADLINE_SECONDS
        states: list[str] = []
        while time.monotonic() < deadline:
            found = _alerts(prom, ALERT)
            states += [a["state"] for a in found if not states or states[-1] != a["state"]]
            firing = [a for a in found if a["state"] == "firing"]
            if firing:
                break
            time.sleep(0.25)
        else:
            pytest.fail(f"{ALERT} not firing after {DEADLINE_SECONDS} s; states seen: {states}")
        [alert] = firing
        assert alert["labels"]["severity"] == "warning"
        assert alert["labels"]["job"] == NAMESPACE
        assert alert["annotations"]["runbook_url"].startswith("http")
        assert "85" in alert["annotations"]["description"], alert["annotations"]
        if hold > 0:
            assert "pending" in states, f"{ALERT} skipped its `for: {rule['for']}`: {states}"
        # The critical level (100 %) is not reached.
        assert not [a for a in _alerts(prom, "DailyLossGuardCritical") if a["state"] == "firing"]
