"""The docs cannot drift: the metric tables are the catalogue's, the README example runs, and
the configuration page names every field."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

import trader_telemetry as tt
from tests.conftest import value
from trader_telemetry.catalogue import as_markdown

ROOT = Path(__file__).resolve().parent.parent


def catalogue_block(path: Path) -> str:
    text = path.read_text()
    match = re.search(r"<!-- catalogue:start -->\n(.*?)<!-- catalogue:end -->", text, re.S)
    assert match, f"{path} has no catalogue block"
    return match.group(1)


@pytest.mark.parametrize("page", ["README.md", "docs/metrics.md"])
def test_metric_tables_are_generated_from_the_catalogue(page: str) -> None:
    assert catalogue_block(ROOT / page) == as_markdown()


def test_readme_integration_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text()
    examples = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert examples
    monkeypatch.setenv("TRADER_TELEMETRY_PORT", "0")  # configure() reads the environment
    scope: dict[str, object] = {}
    exec(compile(examples[0], "README.md", "exec"), scope)  # noqa: S102 - our own README
    bot = SimpleNamespace(
        fetch_marks=lambda: {"BTC-PERP": 97_000.0},
        fetch_account=lambda: SimpleNamespace(
            equity=10_000.0, realized_pnl=5.0, unrealized_pnl=1.0, funding_pnl=-0.5
        ),
        daily_loss=120.0,
        daily_loss_limit=1_500.0,
        trade=lambda: None,
    )
    scope["run_cycle"](bot)  # type: ignore[operator]
    telemetry = tt.get_telemetry()
    assert telemetry is not None
    assert telemetry.config.namespace == "coinbase_trader"
    assert value(telemetry, "cycles_total", outcome="ok") == 1
    assert value(telemetry, "equity") == 10_000.0
    assert value(telemetry, "risk_daily_loss_limit") == 1_500.0
    assert value(telemetry, "cycle_phase_duration_seconds_count", phase="place_orders") == 1


def test_configuration_page_names_every_field() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    for field in dataclasses.fields(tt.TelemetryConfig):
        assert f"`{field.name}`" in page, field.name
    for field in dataclasses.fields(tt.Thresholds):
        stem = field.name.removesuffix("_seconds").removesuffix("_ratio")
        assert stem.split("_warning")[0].split("_critical")[0] in page, field.name


def test_readme_shows_both_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/trader-telemetry demo" in readme
    assert "bash .ci/run" in readme
