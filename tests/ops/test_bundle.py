"""The rendered bundle: checked by promtool and amtool; the committed deploy/ trees kept fresh."""

from __future__ import annotations

import difflib
import json
import re
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from trader_telemetry.config import Thresholds
from trader_telemetry.errors import ConfigurationError
from trader_telemetry.ops.bundle import render_files, write_files
from trader_telemetry.ops.grafana import DASHBOARDS_DIR
from trader_telemetry.ops.options import OpsOptions
from trader_telemetry.ops.stack import IMAGES

from ..conftest import require_tool

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

#: The committed renders: directory under deploy/ -> the options they were rendered with.
COMMITTED = {
    "trader": OpsOptions(),
    "coinbase_trader": OpsOptions(namespace="coinbase_trader", job="coinbase_trader"),
}
REGENERATE = "python -m trader_telemetry ops render --out deploy/{name}{flags}"
REGENERATE_FLAGS = {"trader": "", "coinbase_trader": " --namespace coinbase_trader"}


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def load(directory: Path, name: str) -> Any:
    return yaml.safe_load((directory / name).read_text(encoding="utf-8"))


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    write_files(OpsOptions(namespace="coinbase_trader"), tmp_path)
    return tmp_path


# --- the committed renders -------------------------------------------------------------------


def _tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_committed_deploy_tree_is_a_fresh_render(name: str) -> None:
    fresh = render_files(COMMITTED[name])
    committed = _tree(DEPLOY / name)
    regenerate = f"regenerate with: rm -rf deploy/{name} && " + REGENERATE.format(
        name=name, flags=REGENERATE_FLAGS[name]
    )
    problems = [f"deploy/{name}/{path} is missing" for path in sorted(set(fresh) - set(committed))]
    problems += [
        f"deploy/{name}/{path} is not rendered any more"
        for path in sorted(set(committed) - set(fresh))
    ]
    for path in sorted(set(fresh) & set(committed)):
        if fresh[path] != committed[path]:
            diff = difflib.unified_diff(
                committed[path].splitlines(keepends=True),
                fresh[path].splitlines(keepends=True),
                f"deploy/{name}/{path} (committed)",
                f"deploy/{name}/{path} (fresh render)",
            )
            problems.append("".join(diff))
    assert not problems, "\n".join([*problems, regenerate])


def test_render_is_deterministic_and_has_no_timestamps() -> None:
    options = OpsOptions(namespace="coinbase_trader", targets=("10.0.0.5:9000",))
    first, second = render_files(options), render_files(options)
    assert first == second
    text = "\n".join(first.values())
    assert not re.search(r"20\d\d-\d\d-\d\dT\d\d:\d\d", text), "a timestamp crept into the render"
    assert "/tmp" not in text
    assert "/work/" not in text


def test_write_files_writes_exactly_the_rendered_bytes(tmp_path: Path) -> None:
    options = OpsOptions()
    paths = write_files(options, tmp_path / "new" / "dir")
    files = render_files(options)
    assert [p.relative_to(tmp_path / "new" / "dir").as_posix() for p in paths] == list(files)
    for path, (_, text) in zip(paths, files.items(), strict=True):
        assert path.read_bytes() == text.encode()


# --- prometheus.yml ------------------------------------------------------------------------


def test_prometheus_config_passes_promtool_check_config(rendered: Path) -> None:
    # promtool also loads rule_files (relative to the config), so it runs in the rendered dir.
    result = run(require_tool("promtool"), "check", "config", "prometheus.yml", cwd=rendered)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_promtool_check_config_catches_a_missing_rule_file(rendered: Path) -> None:
    (rendered / "alerts.yml").unlink()
    result = run(require_tool("promtool"), "check", "config", "prometheus.yml", cwd=rendered)
    assert result.returncode != 0


def test_scrape_job_targets_interval_and_alerting(rendered: Path) -> None:
    config = load(rendered, "prometheus.yml")
    assert config["global"] == {
        "scrape_interval": "5s",
        "scrape_timeout": "5s",
        "evaluation_interval": "5s",
    }
    assert config["rule_files"] == ["alerts.yml"]
    assert config["alerting"]["alertmanagers"] == [
        {"static_configs": [{"targets": ["alertmanager:9093"]}]}
    ]
    [job] = config["scrape_configs"]
    assert job["job_name"] == "coinbase_trader"
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": ["host.docker.internal:9000"]}]
    assert "file_sd_configs" not in job


def test_rules_watch_the_scrape_job_by_its_own_name(tmp_path: Path) -> None:
    # The playbook's bug: scrape job `coinbase-trader`, down rule on `coinbase-trader-exporter`.
    write_files(OpsOptions(namespace="coinbase_trader", job="cb-prod"), tmp_path)
    [job] = load(tmp_path, "prometheus.yml")["scrape_configs"]
    exprs = [r["expr"] for g in load(tmp_path, "alerts.yml")["groups"] for r in g["rules"]]
    jobs = {m for e in exprs for m in re.findall(r'job\s*=~?\s*"([^"]*)"', e)}
    assert jobs == {job["job_name"]} == {"cb-prod"}
    assert any(re.search(r'\bup\{[^}]*job="cb-prod"', e) for e in exprs), exprs


def test_static_targets_are_scraped_as_given(tmp_path: Path) -> None:
    write_files(OpsOptions(targets=("10.0.0.5:9000", "bot-2.internal:9100")), tmp_path)
    [job] = load(tmp_path, "prometheus.yml")["scrape_configs"]
    assert job["static_configs"] == [{"targets": ["10.0.0.5:9000", "bot-2.internal:9100"]}]
    result = run(require_tool("promtool"), "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_file_sd_variant_for_fleets(tmp_path: Path) -> None:
    write_files(OpsOptions(job="fleet", targets_file="targets/bots.json"), tmp_path)
    [job] = load(tmp_path, "prometheus.yml")["scrape_configs"]
    assert job["file_sd_configs"] == [{"files": ["targets/bots.json"]}]
    assert "static_configs" not in job
    # The compose file mounts the targets' directory where Prometheus resolves the path.
    prometheus = load(tmp_path, "docker-compose.yml")["services"]["prometheus"]
    assert "./targets:/etc/prometheus/targets:ro" in prometheus["volumes"]
    # A real targets file in the file_sd format: promtool reads it without a warning.
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "bots.json").write_text(
        json.dumps([{"targets": ["10.0.0.5:9000", "10.0.0.6:9000"], "labels": {"env": "prod"}}])
    )
    result = run(require_tool("promtool"), "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_slow_scrape_interval_keeps_the_default_timeout() -> None:
    files = render_files(OpsOptions(scrape_interval_seconds=30))
    config = yaml.safe_load(files["prometheus.yml"])
    assert config["global"]["scrape_interval"] == "30s"
    assert config["global"]["scrape_timeout"] == "10s"


# --- alerts.yml and alerts_test.yml -------------------------------------------------------


def test_rules_pass_promtool_check_and_unit_tests(rendered: Path, promtool_path: str) -> None:
    promtool = promtool_path
    checked = run(promtool, "check", "rules", "alerts.yml", cwd=rendered)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run(promtool, "test", "rules", "alerts_test.yml", cwd=rendered)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_rule_tests_fail_against_rules_with_a_broken_threshold(
    rendered: Path, promtool_path: str
) -> None:
    # The tests pin the numbers: rules rendered from other thresholds do not pass them.
    broken = OpsOptions(
        namespace="coinbase_trader",
        thresholds=Thresholds(daily_loss_warning_ratio=0.95, staleness_warning_seconds=20.0),
    )
    (rendered / "alerts.yml").write_text(render_files(broken)["alerts.yml"])
    tested = run(promtool_path, "test", "rules", "alerts_test.yml", cwd=rendered)
    assert tested.returncode != 0
    assert "FAILED" in tested.stdout + tested.stderr


# --- alertmanager.yml --------------------------------------------------------------------


def test_alertmanager_config_passes_amtool(rendered: Path) -> None:
    result = run(require_tool("amtool"), "check-config", "alertmanager.yml", cwd=rendered)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=DailyLossGuardCritical"], "critical"),
        (["severity=warning", "alertname=DailyLossGuardWarn"], "warning"),
        (["alertname=Unlabelled"], "warning"),
    ],
)
def test_alerts_route_by_severity(rendered: Path, labels: list[str], receiver: str) -> None:
    result = run(
        require_tool("amtool"),
        "config",
        "routes",
        "test",
        "--config.file=alertmanager.yml",
        *labels,
        cwd=rendered,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


def test_alertmanager_holds_no_secrets_and_only_loopback_webhooks(rendered: Path) -> None:
    config = load(rendered, "alertmanager.yml")
    urls = [w["url"] for r in config["receivers"] for w in r.get("webhook_configs", [])]
    assert urls
    assert all(u.startswith("http://127.0.0.1:") for u in urls), urls
    text = (rendered / "alertmanager.yml").read_text()
    assert not re.search(r"password|token|api_key|api_url|secret", text, re.IGNORECASE)


def test_no_alertmanager_means_no_alerting_block_file_or_service(tmp_path: Path) -> None:
    write_files(OpsOptions(alertmanager=None), tmp_path)
    assert "alerting" not in load(tmp_path, "prometheus.yml")
    assert not (tmp_path / "alertmanager.yml").exists()
    assert "alertmanager" not in load(tmp_path, "docker-compose.yml")["services"]
    result = run(require_tool("promtool"), "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_external_alertmanager_is_not_bundled(tmp_path: Path) -> None:
    write_files(OpsOptions(alertmanager="am.internal:9093"), tmp_path)
    config = load(tmp_path, "prometheus.yml")
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "am.internal:9093"
    ]
    assert (tmp_path / "alertmanager.yml").exists()  # the routing to load into that one
    assert "alertmanager" not in load(tmp_path, "docker-compose.yml")["services"]


@pytest.mark.parametrize("address", ["alertmanager", "http://am:9093", "am:99999", "a b:1"])
def test_bad_alertmanager_address_is_a_configuration_error(address: str) -> None:
    with pytest.raises(ConfigurationError, match="alertmanager"):
        render_files(OpsOptions(alertmanager=address))


# --- docker-compose.yml ------------------------------------------------------------------


def test_compose_has_the_four_services_on_loopback_ports(rendered: Path) -> None:
    compose = load(rendered, "docker-compose.yml")
    services = compose["services"]
    assert sorted(services) == ["alertmanager", "grafana", "jaeger", "prometheus"]
    published = {name: service.get("ports", []) for name, service in services.items()}
    for name, ports in published.items():
        assert ports, f"{name} publishes nothing"
        for port in ports:
            assert isinstance(port, str), port  # "9090:9090" unquoted can be read as base 60
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert published["prometheus"] == ["127.0.0.1:9090:9090"]
    assert published["alertmanager"] == ["127.0.0.1:9093:9093"]
    assert published["grafana"] == ["127.0.0.1:3000:3000"]
    assert sorted(published["jaeger"]) == [
        "127.0.0.1:16686:16686",
        "127.0.0.1:4317:4317",
        "127.0.0.1:4318:4318",
    ]


def test_compose_images_are_pinned(rendered: Path) -> None:
    services = load(rendered, "docker-compose.yml")["services"]
    for name, service in services.items():
        image = service["image"]
        assert image == IMAGES[name]
        repository, _, tag = image.rpartition(":")
        assert repository, image
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: {image} is not a pinned version"


def test_compose_wires_prometheus_to_the_bot_on_the_host(rendered: Path) -> None:
    services = load(rendered, "docker-compose.yml")["services"]
    prometheus = services["prometheus"]
    assert prometheus["extra_hosts"] == ["host.docker.internal:host-gateway"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in prometheus["volumes"]}
    # rule_files: [alerts.yml] resolves next to the config inside the container.
    assert mounted["/etc/prometheus/alerts.yml"] == "./alerts.yml"
    assert mounted["/etc/prometheus/prometheus.yml"] == "./prometheus.yml"
    alertmanager = services["alertmanager"]
    assert "--cluster.listen-address=" in alertmanager["command"]


def test_compose_jaeger_accepts_otlp(rendered: Path) -> None:
    jaeger = load(rendered, "docker-compose.yml")["services"]["jaeger"]
    assert jaeger["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def test_compose_mounts_grafana_provisioning_and_dashboard(rendered: Path) -> None:
    grafana = load(rendered, "docker-compose.yml")["services"]["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./grafana/dashboard.json"].startswith(DASHBOARDS_DIR + "/")
    # The provider reads the directory the dashboard is mounted into.
    providers = load(rendered, "grafana/provisioning/dashboards/dashboards.yml")["providers"]
    assert [p["options"]["path"] for p in providers] == [DASHBOARDS_DIR]
    # The datasource points at the compose service.
    datasources = load(rendered, "grafana/provisioning/datasources/prometheus.yml")
    assert [d["url"] for d in datasources["datasources"]] == ["http://prometheus:9090"]


def test_every_bind_mount_source_is_a_rendered_file(rendered: Path) -> None:
    compose = load(rendered, "docker-compose.yml")
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (rendered / source).exists(), f"{volume}: {source} is not rendered"
            else:
                assert source in compose["volumes"], f"{volume}: unknown named volume"


# --- README.md ---------------------------------------------------------------------------


def test_readme_names_every_file_and_how_to_start(rendered: Path) -> None:
    readme = (rendered / "README.md").read_text()
    for path in render_files(OpsOptions(namespace="coinbase_trader")):
        assert f"`{path}`" in readme, path
    assert "docker compose up -d" in readme
    assert "trader-telemetry ops render --out DIR --namespace coinbase_trader" in readme


def test_readme_lists_changed_thresholds() -> None:
    options = OpsOptions(thresholds=Thresholds(staleness_warning_seconds=12.0))
    assert "`staleness_warning_seconds=12.0`" in render_files(options)["README.md"]
    assert "Thresholds: the defaults." in render_files(OpsOptions())["README.md"]


def test_ops_doc_names_every_file_and_thresholds_field() -> None:
    doc = (REPO / "docs" / "ops.md").read_text(encoding="utf-8")
    for path in render_files(OpsOptions()):
        assert f"`{path}`" in doc, path
    for field in fields(Thresholds):
        assert f"`{field.name}`" in doc, field.name
