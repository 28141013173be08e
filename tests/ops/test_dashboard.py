"""The Grafana dashboard and its provisioning, checked offline in layers: the JSON Schema of
Grafana 11.6's Dashboard type (generated from npm @grafana/schema, committed), a round trip
through grafana-foundation-sdk's typed models, promtool on every expression, and structure
(ids, grid, datasource, filters, thresholds). tests/integration/test_dashboard_queries.py runs
every query against a real Prometheus."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from trader_telemetry.catalogue import CATALOGUE, MetricKind
from trader_telemetry.config import Thresholds
from trader_telemetry.ops import OpsOptions
from trader_telemetry.ops.dashboard import SELECTOR, dashboard
from trader_telemetry.ops.grafana import DASHBOARDS_DIR, grafana_files

from ..conftest import require_tool

SCHEMA = Path(__file__).parent / "grafana_schema" / "dashboard.schema.json"
NS = "coinbase_trader"
OPTIONS = (OpsOptions(), OpsOptions(namespace=NS), OpsOptions(namespace=NS, job="bots"))
PANEL_KINDS = {"row", "timeseries", "stat", "state-timeline", "table"}


def panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that is not a row header."""
    return [p for p in model["panels"] if p["type"] != "row"]


def panel_queries(model: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(panel title, target) of every query in the dashboard."""
    for panel in panels(model):
        for target in panel["targets"]:
            yield panel["title"], target


def substitute(expr: str, *, job: str, instance: str, rate_interval: str = "1m") -> str:
    """``expr`` with Grafana's variables replaced by concrete values (as Grafana would)."""
    for name, value in (
        ("$__rate_interval", rate_interval),
        ("$__interval", "15s"),
        ("$instance", instance),
        ("$job", job),
    ):
        expr = expr.replace(name, value)
    assert "$" not in expr, f"an unknown variable is left in {expr!r}"
    return expr


def by_title(model: dict[str, Any], title: str) -> dict[str, Any]:
    (panel,) = [p for p in panels(model) if p["title"] == title]
    return panel


def threshold_values(panel: dict[str, Any]) -> list[float]:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[0]["value"] is None
    return [step["value"] for step in steps[1:]]


# ------------------------------------------------------------------------------ (a) JSON Schema
@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"{o.namespace}-{o.job}")
def test_dashboard_validates_against_grafana_11_schema(
    validator: jsonschema.Draft7Validator, options: OpsOptions
) -> None:
    model = json.loads(grafana_files(options)["grafana/dashboard.json"])
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(model)]
    assert errors == []


@pytest.mark.parametrize(
    "breakage",
    ["no schemaVersion", "unknown panel key", "gridPos width as text", "threshold without value"],
)
def test_schema_check_rejects_a_broken_dashboard(
    validator: jsonschema.Draft7Validator, breakage: str
) -> None:
    model = dashboard(OpsOptions())
    panel = panels(model)[0]
    if breakage == "no schemaVersion":
        del model["schemaVersion"]
    elif breakage == "unknown panel key":
        panel["gridpos"] = panel.pop("gridPos")
    elif breakage == "gridPos width as text":
        panel["gridPos"]["w"] = "12"
    else:
        panel["fieldConfig"]["defaults"]["thresholds"]["steps"].append({"color": "red"})
    assert list(validator.iter_errors(model)), breakage


def test_dashboard_uses_the_current_schema_and_panel_kinds() -> None:
    model = dashboard(OpsOptions())
    assert model["schemaVersion"] == 41  # Grafana 11.6; the playbook's was 16
    assert {p["type"] for p in model["panels"]} == PANEL_KINDS  # no legacy "graph" panel
    schema_text = SCHEMA.read_text()
    assert '"$ref": "#/definitions/Dashboard"' in schema_text


# ------------------------------------------------------------------- (b) grafana-foundation-sdk
def _foundation_round_trip(model: dict[str, Any]) -> dict[str, Any]:
    try:
        from grafana_foundation_sdk.cog import plugins
        from grafana_foundation_sdk.cog.encoder import JSONEncoder
        from grafana_foundation_sdk.models.dashboard import Dashboard
    except ImportError:
        message = "grafana-foundation-sdk is not installed (the test extra pins it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    plugins.register_default_plugins()
    decoded: dict[str, Any] = json.loads(json.dumps(Dashboard.from_json(model), cls=JSONEncoder))
    return decoded


def lost_keys(original: Any, decoded: Any, path: str = "") -> list[str]:
    """Paths in ``original`` that ``decoded`` lacks or changed (extra defaults are fine)."""
    if isinstance(original, dict):
        if not isinstance(decoded, dict):
            return [path]
        return [
            lost
            for key, value in original.items()
            if value is not None
            for lost in (
                lost_keys(value, decoded[key], f"{path}/{key}")
                if key in decoded
                else [f"{path}/{key}"]
            )
        ]
    if isinstance(original, list):
        if not isinstance(decoded, list) or len(decoded) != len(original):
            return [path]
        return [
            lost
            for i, (a, b) in enumerate(zip(original, decoded, strict=True))
            for lost in lost_keys(a, b, f"{path}[{i}]")
        ]
    return [] if original == decoded else [path]


def test_foundation_sdk_typed_models_keep_every_field() -> None:
    # The typed models (timeseries.Options, prometheus.Dataquery ...) drop keys they do not
    # know: a misspelt panel option survives the JSON Schema (options are free-form there) but
    # not this round trip.
    model = dashboard(OpsOptions(namespace=NS))
    assert lost_keys(model, _foundation_round_trip(model)) == []


def test_foundation_sdk_round_trip_catches_a_misspelt_option() -> None:
    model = dashboard(OpsOptions(namespace=NS))
    broken = copy.deepcopy(model)
    latency = by_title(broken, "Cycle latency")
    latency["fieldConfig"]["defaults"]["custom"]["thresholdStyle"] = {"mode": "dashed"}
    latency["targets"][0]["legend"] = "p50"
    lost = lost_keys(broken, _foundation_round_trip(broken))
    assert len(lost) == 2, lost
    assert all("thresholdStyle" in p or p.endswith("/legend") for p in lost), lost


# ------------------------------------------------------------------------- (c) promtool
def _check_rules(tmp_path: Path, exprs: dict[str, str]) -> subprocess.CompletedProcess[str]:
    rules = [{"record": f"dashboard:{name}", "expr": expr} for name, expr in exprs.items()]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return subprocess.run(
        [require_tool("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_every_panel_expression_passes_promtool(tmp_path: Path) -> None:
    options = OpsOptions(namespace=NS)
    model = dashboard(options)
    exprs = {
        f"panel{panel['id']}_{target['refId']}": substitute(
            target["expr"], job=options.job, instance=".+"
        )
        for panel in panels(model)
        for target in panel["targets"]
    }
    assert len(exprs) >= 40
    result = _check_rules(tmp_path, exprs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_promtool_rejects_a_broken_expression(tmp_path: Path) -> None:
    buckets = f'{NS}_cycle_duration_seconds_bucket{{job=~"$job"}}[$__rate_interval]'
    expr = substitute(
        f"histogram_quantile(0.5, sum by (le) (rate({buckets}))", job="b", instance=""
    )
    expr = expr.removesuffix(")")  # one closing parenthesis short
    assert _check_rules(tmp_path, {"broken": expr}).returncode != 0


# ------------------------------------------------------------------------- (d) structure
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"{o.namespace}-{o.job}")
def test_ids_are_unique_and_the_grid_has_no_overlaps(options: OpsOptions) -> None:
    model = dashboard(options)
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in model["panels"]:
        grid = panel["gridPos"]
        assert min(grid["x"], grid["w"] - 1, grid["h"] - 1) >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        covered = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & covered, f"{panel['title']} overlaps another panel"
        cells |= covered


def test_every_target_uses_the_datasource_variable_and_a_unique_ref_id() -> None:
    model = dashboard(OpsOptions(namespace=NS))
    for panel in panels(model):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        assert all(ref_ids), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_every_selector_filters_by_job_and_instance() -> None:
    model = dashboard(OpsOptions(namespace=NS))
    for title, target in panel_queries(model):
        ref_id, expr = target["refId"], target["expr"]
        selectors = re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", expr)
        assert selectors, (title, ref_id, expr)
        for _, labels in selectors:
            assert labels == SELECTOR, (title, ref_id, expr)
        # No series is read without the filter (a bare name before "[", ")" or an operator).
        bare = re.findall(rf"\b(?:{NS}|process)_[a-z_]+\b(?!\{{)", expr)
        assert bare == [], (title, ref_id, expr)


def test_queries_use_catalogue_names_with_the_right_suffixes() -> None:
    known = {"up"}
    for spec in CATALOGUE:
        full = spec.full_name(NS)
        if spec.kind is MetricKind.HISTOGRAM:
            known |= {f"{full}_bucket", f"{full}_count", f"{full}_sum"}
        else:
            known.add(full)
    model = dashboard(OpsOptions(namespace=NS))
    used = set()
    for _, target in panel_queries(model):
        for name in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", target["expr"]):
            used.add(name)
            assert name in known or name.startswith("process_"), name
    wanted = {f"{NS}_{name}" for name in ("equity", "exposure_usd", "circuit_breaker_triggered")}
    assert wanted <= used
    assert f"{NS}_cycle_duration_seconds_bucket" in used


def test_latency_thresholds_come_from_the_options() -> None:
    default = dashboard(OpsOptions())
    latency = by_title(default, "Cycle latency")
    assert threshold_values(latency) == [3.0, 6.0]
    assert latency["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"

    tighter = Thresholds(
        cycle_duration_warning_seconds=1.5,
        cycle_duration_critical_seconds=4.0,
        staleness_warning_seconds=2.0,
        staleness_critical_seconds=5.0,
        expected_cycle_interval_seconds=1.0,
        daily_loss_warning_ratio=0.5,
        cycle_errors_window_seconds=600.0,
    )
    model = dashboard(replace(OpsOptions(), thresholds=tighter))
    assert threshold_values(by_title(model, "Cycle latency")) == [1.5, 4.0]
    assert threshold_values(by_title(model, "Loop heartbeat")) == [3.0, 10.0]
    assert threshold_values(by_title(model, "Market data staleness per symbol")) == [2.0, 5.0]
    assert threshold_values(by_title(model, "Daily loss / limit")) == [0.5, 1.0]
    errors = by_title(model, "Cycle errors in 10m")
    assert "[10m]" in errors["targets"][0]["expr"]
    warning_line = by_title(model, "Daily loss vs limit")["targets"][2]["expr"]
    assert warning_line.endswith("* 0.5")


def test_variables_select_datasource_job_and_instance() -> None:
    options = OpsOptions(namespace=NS, job="bots")
    variables = {v["name"]: v for v in dashboard(options)["templating"]["list"]}
    assert list(variables) == ["datasource", "job", "instance"]
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    job, instance = variables["job"], variables["instance"]
    assert job["query"]["query"] == f"label_values({NS}_build_info, job)"
    assert job["current"]["value"] == ["bots"]
    assert instance["query"]["query"] == f'label_values({NS}_build_info{{job=~"$job"}}, instance)'
    for variable in (job, instance):
        assert variable["type"] == "query"
        assert variable["datasource"]["uid"] == "${datasource}"
        assert variable["multi"]
        assert variable["includeAll"]


def test_output_is_deterministic_and_the_uid_follows_namespace_and_job() -> None:
    first = grafana_files(OpsOptions(namespace=NS))
    assert first == grafana_files(OpsOptions(namespace=NS))
    uids = {dashboard(o)["uid"] for o in OPTIONS}
    assert len(uids) == len(OPTIONS)
    assert all(8 <= len(uid) <= 40 and re.fullmatch(r"[a-z0-9-]+", uid) for uid in uids)
    text = first["grafana/dashboard.json"]
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text), "no dates or timestamps in the output"


# ------------------------------------------------------------------------- provisioning
def test_grafana_files_provision_the_datasource_the_dashboard_selects() -> None:
    options = OpsOptions(namespace=NS, scrape_interval_seconds=15)
    files = grafana_files(options)
    assert sorted(files) == [
        "grafana/dashboard.json",
        "grafana/provisioning/dashboards/dashboards.yml",
        "grafana/provisioning/datasources/prometheus.yml",
    ]
    text = files["grafana/dashboard.json"]
    assert text == json.dumps(dashboard(options), indent=2) + "\n"
    model = json.loads(text)
    selected = model["templating"]["list"][0]["current"]

    (source,) = yaml.safe_load(files["grafana/provisioning/datasources/prometheus.yml"])[
        "datasources"
    ]
    assert (source["uid"], source["name"]) == (selected["value"], selected["text"])
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["jsonData"]["timeInterval"] == "15s"

    (provider,) = yaml.safe_load(files["grafana/provisioning/dashboards/dashboards.yml"])[
        "providers"
    ]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == DASHBOARDS_DIR == "/var/lib/grafana/dashboards"


def test_compose_bundle_mounts_the_dashboard_where_the_provider_reads() -> None:
    from trader_telemetry.ops.bundle import render_files

    files = render_files(OpsOptions(namespace=NS))
    compose = yaml.safe_load(files["docker-compose.yml"])
    mounts = [v.split(":") for v in compose["services"]["grafana"]["volumes"]]
    assert ["./grafana/dashboard.json", f"{DASHBOARDS_DIR}/dashboard.json", "ro"] in mounts
    assert ["./grafana/provisioning", "/etc/grafana/provisioning", "ro"] in mounts
    assert "prometheus" in compose["services"]


def test_docs_page_describes_every_panel() -> None:
    page = (Path(__file__).parents[2] / "docs" / "dashboard.md").read_text()
    for panel in dashboard(OpsOptions())["panels"]:
        heading = f"### {panel['title']}" if panel["type"] == "row" else f"| {panel['title']} |"
        assert heading in page, panel["title"]


def test_every_counter_panel_shows_0_not_no_data() -> None:
    """A counter that has not counted yet reads 0, not "No data" (its series may not exist
    before the first event: a new error type, a symbol's first order)."""
    model = dashboard(OpsOptions())
    counters = [spec.name for spec in CATALOGUE if spec.kind is MetricKind.COUNTER]
    checked = 0
    for panel in panels(model):
        exprs = [target["expr"] for target in panel.get("targets", ())]
        if any(f"_{name}{{" in expr for expr in exprs for name in counters):
            assert panel["fieldConfig"]["defaults"].get("noValue") == "0", panel["title"]
            checked += 1
    assert checked >= 8
