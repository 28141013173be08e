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
from trader_telemetry.catalogue import CATALOGUE, as_markdown, sources_markdown
from trader_telemetry.compat.legacy_names import LEGACY_SPECS

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = (
    "the page's table is not the catalogue's: paste the output of python -c 'from "
    "trader_telemetry.catalogue import as_markdown, sources_markdown; print(as_markdown()); "
    "print(sources_markdown())' between its start and end comments"
)


def catalogue_block(path: Path, block: str = "catalogue") -> str:
    """The text between ``<!-- {block}:start -->`` and ``<!-- {block}:end -->`` (regenerate it
    with ``as_markdown()`` or ``sources_markdown()`` from ``trader_telemetry.catalogue``)."""
    text = path.read_text()
    match = re.search(rf"<!-- {block}:start -->\n(.*?)<!-- {block}:end -->", text, re.S)
    assert match, f"{path} has no {block} block"
    return match.group(1)


@pytest.mark.parametrize("page", ["README.md", "docs/metrics.md"])
def test_metric_tables_are_generated_from_the_catalogue(page: str) -> None:
    assert catalogue_block(ROOT / page) == as_markdown(), REGENERATE


def test_the_sources_table_is_generated_from_the_catalogue() -> None:
    assert catalogue_block(ROOT / "docs" / "metrics.md", "sources") == sources_markdown(), (
        REGENERATE
    )


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


def _config_rows() -> dict[str, list[str]]:
    """The configuration page's field table: field name -> its cells."""
    rows: dict[str, list[str]] = {}
    for line in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) == 4 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows.setdefault(cells[0].strip("`"), cells)
    return rows


def test_configuration_page_defaults_are_the_dataclass_defaults() -> None:
    """The default column is checked against TelemetryConfig itself, so the hand-written
    table cannot drift from the code (fields with a computed or composite default excepted)."""
    rows = _config_rows()
    checked = 0
    for spec in dataclasses.fields(tt.TelemetryConfig):
        default = spec.default
        if default is dataclasses.MISSING or spec.name == "health_startup_grace_seconds":
            continue  # a factory (clock, thresholds, limits) or a value computed from others
        cell, env = rows[spec.name][1].strip("`"), rows[spec.name][2]
        if default is None:
            # None resolved from the OTel variables at start: the page gives the effective value.
            assert cell == "none" or "OTEL_" in env, (spec.name, cell)
        elif isinstance(default, bool | str):
            assert cell == str(default), (spec.name, cell)
        elif isinstance(default, int | float):
            assert float(cell.replace(",", "")) == default, (spec.name, cell)
        elif isinstance(default, tuple):
            assert [c.strip(" `") for c in cell.split(",")] == list(default), (spec.name, cell)
        else:
            continue
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("page", ["docs/migration.md", "docs/file-exporter.md"])
def test_every_compatibility_name_of_the_file_exporter_is_documented(page: str) -> None:
    text = (ROOT / page).read_text()
    assert [spec.name for spec in LEGACY_SPECS if f"`{spec.name}" not in text] == []


def test_every_metric_the_docs_name_exists() -> None:
    """The reverse of the generated tables: a ``{ns}_name`` written by hand in a page is a
    catalogue row (or one of its histogram series), or a name ``serve`` keeps for GPT-Trader;
    a renamed or removed row fails here until the prose follows."""
    known = {spec.name for spec in CATALOGUE} | {spec.name for spec in LEGACY_SPECS}
    unknown = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for name in re.findall(r"\{ns\}_([a-z0-9_]+)", page.read_text()):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            if page.name == "otlp-metrics.md":  # the names Prometheus 3's OTLP receiver gives
                base = re.sub(r"_(ratio|milliseconds)$", "", base)
            if base not in known:
                unknown.add(f"{page.name}: {name}")
    assert sorted(unknown) == []
