"""Alert rules and their promtool unit tests: checked and run by the real promtool, and broken on
purpose to show the tests catch it."""

from __future__ import annotations

import copy
import dataclasses
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import trader_telemetry as tt
from trader_telemetry.catalogue import CATALOGUE, MetricKind
from trader_telemetry.config import Thresholds
from trader_telemetry.errors import ConfigurationError
from trader_telemetry.ops.alert_tests import (
    alert_rule_tests,
    go_humanize,
    go_humanize_duration,
    go_humanize_percentage,
)
from trader_telemetry.ops.alerts import (
    ALERT_RUNBOOKS,
    EXPORTER_DOWN,
    alert_name,
    alert_rules,
)
from trader_telemetry.ops.options import OpsOptions
from trader_telemetry.ops.yaml_text import dump_yaml

from ..conftest import require_tool

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks.md"

CUSTOM = Thresholds(
    cycle_duration_warning_seconds=2.0,
    cycle_duration_critical_seconds=4.0,
    cycle_duration_slow_share=0.25,
    cycle_duration_window_seconds=120,
    cycle_errors_warning=2,
    cycle_errors_critical=5,
    cycle_errors_window_seconds=120,
    daily_loss_warning_ratio=0.7,
    daily_loss_critical_ratio=0.95,
    staleness_warning_seconds=2.5,
    staleness_critical_seconds=45,
    account_age_warning_seconds=600,
    account_age_critical_seconds=3600,
    ws_reconnects_critical=3,
    ws_reconnects_window_seconds=30,
    ws_reconnects_hourly_warning=20,
    expected_cycle_interval_seconds=2.0,
    heartbeat_warning_factor=2.5,
    heartbeat_critical_factor=8,
)
OPTIONS = {
    "default": OpsOptions(),
    "coinbase_trader": OpsOptions(namespace="coinbase_trader"),
    "custom_thresholds": OpsOptions(
        namespace="desk_bot",
        job="desk-prod",
        targets=("10.0.0.5:9000",),
        scrape_interval_seconds=2,
        thresholds=CUSTOM,
    ),
    "fleet": OpsOptions(job="fleet", targets_file="targets/bots.json", scrape_interval_seconds=30),
}


def write(
    directory: Path, options: OpsOptions, tests: OpsOptions | None = None, only: str = ""
) -> Path:
    """alerts.yml from ``options`` and alerts_test.yml from ``tests`` (default: the same);
    with ``only``, just the test group of that alert (promtool time is per group)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "alerts.yml").write_text(dump_yaml(alert_rules(options), header="rules"))
    tests_doc = alert_rule_tests(tests or options, rules_file="alerts.yml")
    if only:
        tests_doc["tests"] = [
            t for t in tests_doc["tests"] if t["alert_rule_test"][0]["alertname"] == only
        ]
        assert len(tests_doc["tests"]) == 1
    (directory / "alerts_test.yml").write_text(dump_yaml(tests_doc, header="tests"))
    return directory


def promtool(*args: str, cwd: Path, binary: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary or require_tool("promtool"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def rules_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in doc["groups"] for rule in group["rules"]]


def rule_named(doc: dict[str, Any], name: str) -> dict[str, Any]:
    [rule] = [r for r in rules_of(doc) if r["alert"] == name]
    return rule


def github_anchors(markdown: str) -> set[str]:
    """Heading anchors as GitHub makes them (lower case, punctuation dropped, spaces to -)."""
    anchors: set[str] = set()
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)):
            text = re.sub(r"[^\w\- ]", "", match.group(1).lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


# --- real promtool ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(OPTIONS))
def test_rendered_rules_pass_promtool_check_and_unit_tests(
    tmp_path: Path, case: str, promtool_path: str
) -> None:
    directory = write(tmp_path, OPTIONS[case])
    checked = promtool("check", "rules", "alerts.yml", cwd=directory, binary=promtool_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(ALERT_RUNBOOKS)} rules found" in checked.stdout
    tested = promtool("test", "rules", "alerts_test.yml", cwd=directory, binary=promtool_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


@pytest.mark.parametrize(
    ("field", "value", "alert"),
    [
        ("staleness_warning_seconds", 10.5, "MarketDataStale"),  # raised a little
        ("staleness_warning_seconds", 9.0, "MarketDataStale"),  # lowered
        ("daily_loss_warning_ratio", 0.85, "DailyLossGuardWarn"),
        ("daily_loss_critical_ratio", 0.99, "DailyLossGuardCritical"),
        ("cycle_duration_critical_seconds", 10.0, "CycleDurationCritical"),
        ("cycle_duration_slow_share", 0.2, "CycleDurationWarn"),
        ("cycle_errors_critical", 4, "CycleErrorsCritical"),
        ("ws_reconnects_critical", 6, "WebSocketReconnectLoop"),
        ("expected_cycle_interval_seconds", 6.0, "LoopHeartbeatWarn"),
    ],
)
def test_rule_tests_fail_against_rules_with_another_threshold(
    tmp_path: Path, field: str, value: float, alert: str
) -> None:
    changed: dict[str, Any] = {field: value}
    broken = OpsOptions(thresholds=dataclasses.replace(Thresholds(), **changed))
    directory = write(tmp_path, broken, tests=OpsOptions(), only=alert)
    result = promtool("test", "rules", "alerts_test.yml", cwd=directory)
    assert result.returncode != 0, result.stdout
    assert "FAILED" in result.stdout + result.stderr
    assert f"alertname: {alert}" in result.stdout + result.stderr


def test_rule_tests_generated_from_other_thresholds_fail_the_rules(tmp_path: Path) -> None:
    tests = OpsOptions(thresholds=Thresholds(account_age_critical_seconds=2400.0))
    directory = write(tmp_path, OpsOptions(), tests, only="AccountSnapshotAgeCritical")
    result = promtool("test", "rules", "alerts_test.yml", cwd=directory)
    assert result.returncode != 0, result.stdout
    assert "alertname: AccountSnapshotAgeCritical" in result.stdout + result.stderr


def _drop_job_matcher(rule: dict[str, Any]) -> None:
    rule["expr"] = rule["expr"].replace('{job="trader"}', "")


def _lower_bucket(rule: dict[str, Any]) -> None:
    rule["expr"] = rule["expr"].replace('le="6.0"', 'le="4.0"')


def _longer_hold(rule: dict[str, Any]) -> None:
    rule["for"] = "20s"


def _non_strict(rule: dict[str, Any]) -> None:
    rule["expr"] = rule["expr"].replace(" > ", " >= ")


def _reworded(rule: dict[str, Any]) -> None:
    rule["annotations"]["description"] = rule["annotations"]["description"].replace("old", "stale")


@pytest.mark.parametrize(
    ("alert", "edit"),
    [
        ("MarketDataStale", _drop_job_matcher),  # another job's bot would page this one
        ("CycleDurationCritical", _lower_bucket),  # counts 4-6 s cycles as too slow
        ("DailyLossGuardWarn", _longer_hold),
        ("LoopHeartbeatWarn", _non_strict),
        ("AccountSnapshotAgeWarn", _reworded),
    ],
)
def test_hand_edited_rules_fail_their_tests(tmp_path: Path, alert: str, edit: Any) -> None:
    directory = write(tmp_path, OpsOptions(), only=alert)
    rules = alert_rules(OpsOptions())
    edited = copy.deepcopy(rules)
    edit(rule_named(edited, alert))
    assert edited != rules
    (directory / "alerts.yml").write_text(dump_yaml(edited))
    result = promtool("test", "rules", "alerts_test.yml", cwd=directory)
    assert result.returncode != 0, result.stdout
    assert f"alertname: {alert}" in result.stdout + result.stderr


def test_template_functions_match_prometheus(tmp_path: Path, promtool_path: str) -> None:
    # The expected annotations are expanded in Python: check those functions against the real
    # template engine on awkward values.
    values = [0.0, 0.000123, 0.25, 1.0, 7 / 60, 3.0508474576271185, 59.99, 90.5, 4321.0, 90061.0]
    template = "{{ $value | humanize }}|{{ $value | humanizeDuration }}|"
    template += "{{ $value | humanizePercentage }}"
    rules = {"groups": [{"name": "t", "rules": [
        {"alert": "Shown", "expr": "probe", "annotations": {"text": template}},
    ]}]}  # fmt: skip
    tests = {
        "rule_files": ["rules.yml"],
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'probe{{i="{i}"}}', "values": repr(v)} for i, v in enumerate(values)
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "0s",
                        "alertname": "Shown",
                        "exp_alerts": [
                            {
                                "exp_labels": {"i": str(i)},
                                "exp_annotations": {
                                    "text": f"{go_humanize(v)}|{go_humanize_duration(v)}|"
                                    f"{go_humanize_percentage(v)}"
                                },
                            }
                            for i, v in enumerate(values)
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "rules.yml").write_text(dump_yaml(rules))
    (tmp_path / "tests.yml").write_text(dump_yaml(tests))
    result = promtool("test", "rules", "tests.yml", cwd=tmp_path, binary=promtool_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- the documents ------------------------------------------------------------------------------


def test_every_alert_links_to_an_existing_runbook_section() -> None:
    anchors = github_anchors(RUNBOOKS.read_text(encoding="utf-8"))
    assert "post-incident-checklist" in anchors
    for name, anchor in ALERT_RUNBOOKS:
        assert anchor in anchors, f"{name}: docs/runbooks.md has no section #{anchor}"
        assert f"`{name}`" in RUNBOOKS.read_text(encoding="utf-8"), name
    options = OpsOptions(runbook_base="https://runbooks.example/trader.md")
    for rule in rules_of(alert_rules(options)):
        anchor = dict(ALERT_RUNBOOKS)[rule["alert"].replace("TraderExporterDown", EXPORTER_DOWN)]
        assert rule["annotations"]["runbook_url"] == f"https://runbooks.example/trader.md#{anchor}"


def test_runbook_index_states_each_rules_severity_and_hold() -> None:
    rows = {
        match.group(1): line
        for line in RUNBOOKS.read_text(encoding="utf-8").splitlines()
        if (match := re.match(r"^\| `(\w+)` \|", line))
    }
    for rule in rules_of(alert_rules(OpsOptions())):
        cells = [c.strip() for c in rows[rule["alert"]].split("|")]
        assert cells[2] == rule["labels"]["severity"], cells
        assert cells[4] == rule["for"], cells


@pytest.mark.parametrize("case", list(OPTIONS))
def test_every_rule_has_severity_group_summary_and_a_description_with_the_value(
    case: str,
) -> None:
    rules = rules_of(alert_rules(OPTIONS[case]))
    namespace = OPTIONS[case].namespace
    expected = [alert_name(name, namespace) for name, _ in ALERT_RUNBOOKS]
    assert [r["alert"] for r in rules] == expected
    groups: dict[str, set[str]] = {}
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule
        groups.setdefault(rule["labels"]["alertgroup"], set()).add(rule["labels"]["severity"])
        assert rule["annotations"]["summary"]
        assert "{{ $value" in rule["annotations"]["description"], rule["alert"]
        assert re.fullmatch(r"[0-9]+(ms|s|m|h)", rule["for"]), rule
    # Warning and critical twins share a group, so Alertmanager can mute one with the other.
    assert {g for g, sev in groups.items() if sev == {"warning", "critical"}} == {
        "daily_loss", "market_data", "websocket", "cycle_duration", "cycle_errors",
        "account_snapshot", "loop_heartbeat",
    }  # fmt: skip


_PROMQL_WORDS = {"sum", "by", "increase"}


def _metric_names(expr: str) -> set[str]:
    stripped = re.sub(r'"[^"]*"', "", expr)  # label values
    stripped = re.sub(r"\{[^}]*\}|\[[^\]]*\]|by \([^)]*\)", " ", stripped)
    return set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped)) - _PROMQL_WORDS


@pytest.mark.parametrize("namespace", ["trader", "coinbase_trader"])
def test_every_metric_in_every_expression_is_in_the_catalogue(namespace: str) -> None:
    exported = {"up"}
    for spec in CATALOGUE:
        name = spec.full_name(namespace)
        if spec.kind is MetricKind.HISTOGRAM:
            exported |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        else:
            exported.add(name)
    seen: set[str] = set()
    for rule in rules_of(alert_rules(OpsOptions(namespace=namespace))):
        names = _metric_names(rule["expr"])
        assert names, rule["expr"]
        assert names <= exported, (rule["alert"], names - exported)
        seen |= names
    assert f"{namespace}_risk_daily_loss_limit" in seen
    assert f"{namespace}_cycle_duration_seconds_bucket" in seen


@pytest.mark.parametrize("case", list(OPTIONS))
def test_documents_read_back_with_yaml_safe_load(case: str) -> None:
    for doc in (alert_rules(OPTIONS[case]), alert_rule_tests(OPTIONS[case])):
        assert yaml.safe_load(dump_yaml(doc)) == doc


def test_every_rule_has_a_quiet_a_pending_and_a_firing_case() -> None:
    options = OPTIONS["custom_thresholds"]
    doc = alert_rule_tests(options)
    rules = {r["alert"]: r for r in rules_of(alert_rules(options))}
    tested = []
    for group in doc["tests"]:
        quiet, pending, firing = group["alert_rule_test"]
        name = quiet["alertname"]
        tested.append(name)
        assert quiet["exp_alerts"] == pending["exp_alerts"] == []
        [alert] = firing["exp_alerts"]
        assert alert["exp_labels"]["severity"] == rules[name]["labels"]["severity"]
        assert alert["exp_labels"]["job"] == "desk-prod"
        assert alert["exp_labels"]["instance"] == "10.0.0.5:9000"
        assert "{{" not in alert["exp_annotations"]["description"]
        # The expression holds at the pending time (the alert is pending, not absent) and not
        # at the quiet time.
        at_quiet, at_pending = group["promql_expr_test"]
        assert at_quiet["expr"] == at_pending["expr"] == rules[name]["expr"]
        assert at_quiet["eval_time"] == quiet["eval_time"]
        assert at_quiet["exp_samples"] == []
        assert at_pending["eval_time"] == pending["eval_time"]
        assert len(at_pending["exp_samples"]) == 1
    assert tested == list(rules)


def test_the_playbooks_alert_names_exactly() -> None:
    """Alertmanager routes and silences match on ``alertname``: the playbook's names, exactly."""
    playbook = {
        "CoinbaseTraderExporterDown",
        "WebSocketReconnectLoop",
        "DailyLossGuardWarn",
        "MarketDataStale",
        "CircuitBreakerTriggered",
    }
    names = {r["alert"] for r in rules_of(alert_rules(OpsOptions(namespace="coinbase_trader")))}
    assert playbook <= names
    other = {r["alert"] for r in rules_of(alert_rules(OpsOptions(namespace="desk_bot_2")))}
    assert "DeskBot2ExporterDown" in other
    migration = (RUNBOOKS.parent / "migration.md").read_text(encoding="utf-8")
    for name in playbook:
        assert f"`{name}`" in migration, name


def test_thresholds_are_written_as_people_write_them() -> None:
    rules = alert_rules(OpsOptions())
    assert rule_named(rules, "MarketDataStale")["expr"].endswith("> 10")
    assert rule_named(rules, "DailyLossGuardWarn")["expr"].endswith("> 0.8")
    assert rule_named(rules, "CycleErrorsCritical")["expr"].endswith(">= 3")
    assert rule_named(rules, "AccountSnapshotAgeCritical")["expr"].endswith("> 1800")
    assert "[5m]" in rule_named(rules, "CycleErrorsWarn")["expr"]
    assert "[1m]" in rule_named(rules, "WebSocketReconnectLoop")["expr"]
    assert not [r["alert"] for r in rules_of(rules) if re.search(r"\d\.0\b(?!\")", r["expr"])]
    description = rule_named(rules, "AccountSnapshotAgeWarn")["annotations"]["description"]
    assert "(warning above 15m, critical above 30m)" in description


def test_playbook_rules_watch_the_scrape_job_and_the_loss_limit() -> None:
    rules = alert_rules(OpsOptions(namespace="coinbase_trader", job="cb-prod"))
    assert rule_named(rules, "CoinbaseTraderExporterDown")["expr"] == 'up{job="cb-prod"} == 0'
    warn = rule_named(rules, "DailyLossGuardWarn")
    assert "coinbase_trader_risk_daily_loss_limit" in warn["expr"]
    assert warn["labels"]["severity"] == "warning"
    assert warn["for"] == "10s"  # the end-to-end test waits for it at a 1 s interval
    for rule in rules_of(rules):
        assert set(re.findall(r'job="([^"]*)"', rule["expr"])) == {"cb-prod"}, rule["expr"]


def test_cycle_duration_counts_slow_cycles_from_the_threshold_buckets() -> None:
    rules = alert_rules(OpsOptions(thresholds=CUSTOM))
    for name, edge in (("CycleDurationWarn", "2.0"), ("CycleDurationCritical", "4.0")):
        expr = rule_named(rules, name)["expr"]
        assert f'le="{edge}"' in expr
        assert "histogram_quantile" not in expr
        assert "_count" in expr


def test_a_cycle_threshold_off_the_bucket_edges_fails_at_render() -> None:
    options = OpsOptions(thresholds=Thresholds(cycle_duration_warning_seconds=2.5))
    with pytest.raises(ConfigurationError, match=r"cycle_duration_warning_seconds = 2\.5.*3, 4"):
        alert_rules(options)


@pytest.mark.parametrize("reader", ["native", "otel-prometheus"])
@pytest.mark.parametrize("openmetrics", [False, True])
def test_the_bucket_label_in_the_rules_is_the_one_the_readers_export(
    reader: str, openmetrics: bool
) -> None:
    telemetry = tt.Telemetry(namespace="trader", serve=False, clock=tt.ManualClock(), reader=reader)
    try:
        with telemetry.cycle_timer():
            pass
        accept = "application/openmetrics-text; version=1.0.0" if openmetrics else None
        exposition = telemetry.render_metrics(accept).body.decode()
    finally:
        telemetry.shutdown()
    rules = alert_rules(OpsOptions())
    for name in ("CycleDurationWarn", "CycleDurationCritical"):
        [matcher] = re.findall(r'le="[^"]+"', rule_named(rules, name)["expr"])
        assert re.search(
            rf"^trader_cycle_duration_seconds_bucket\{{{matcher}\}} 1", exposition, re.M
        )
