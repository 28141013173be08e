"""``trader-telemetry ops render`` run as a real process (``python -m trader_telemetry``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from trader_telemetry.config import Thresholds
from trader_telemetry.ops.bundle import render_files
from trader_telemetry.ops.options import OpsOptions

from ..cli_process import run_cli
from ..conftest import require_tool


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADER_TELEMETRY_", "OTEL_"))}
    return run_cli("ops", "render", *args, cwd=cwd, env=env)


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_render_writes_the_bundle_and_prints_each_path(tmp_path: Path) -> None:
    result = cli("--out", "bundle", "--namespace", "coinbase_trader", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    printed = result.stdout.splitlines()
    expected = render_files(OpsOptions(namespace="coinbase_trader"))
    assert printed == [str(Path("bundle", *name.split("/"))) for name in expected]
    written = tree(tmp_path / "bundle")
    assert written == {name: text.encode() for name, text in expected.items()}
    [job] = yaml.safe_load(written["prometheus.yml"])["scrape_configs"]
    assert job["job_name"] == "coinbase_trader"


def test_two_renders_are_byte_identical(tmp_path: Path) -> None:
    args = ("--namespace", "coinbase_trader", "--job", "cb", "--targets", "10.0.0.5:9000")
    assert cli("--out", "a", *args, cwd=tmp_path).returncode == 0
    assert cli("--out", "b", *args, cwd=tmp_path).returncode == 0
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_targets_job_and_interval_reach_the_scrape_config(tmp_path: Path) -> None:
    result = cli(
        "--out",
        "out",
        "--job",
        "bots",
        "--targets",
        "10.0.0.5:9000",
        "10.0.0.6:9000",
        "--scrape-interval",
        "15",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((tmp_path / "out" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["job_name"] == "bots"
    assert job["static_configs"] == [{"targets": ["10.0.0.5:9000", "10.0.0.6:9000"]}]
    assert config["global"]["scrape_interval"] == "15s"


def test_targets_file_gives_file_sd(tmp_path: Path) -> None:
    result = cli("--out", "out", "--targets-file", "targets/*.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [job] = yaml.safe_load((tmp_path / "out" / "prometheus.yml").read_text())["scrape_configs"]
    assert job["file_sd_configs"] == [{"files": ["targets/*.json"]}]


@pytest.mark.parametrize("suffix", ["toml", "json"])
def test_thresholds_file_changes_the_rules(tmp_path: Path, suffix: str) -> None:
    values: dict[str, Any] = {"daily_loss_warning_ratio": 0.7, "staleness_critical_seconds": 45.0}
    text = (
        json.dumps(values)
        if suffix == "json"
        else "[thresholds]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    )
    (tmp_path / f"t.{suffix}").write_text(text)
    result = cli("--out", "out", "--thresholds", f"t.{suffix}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = render_files(OpsOptions(thresholds=Thresholds(**values)))
    assert (tmp_path / "out" / "alerts.yml").read_text() == expected["alerts.yml"]
    assert expected["alerts.yml"] != render_files(OpsOptions())["alerts.yml"]


def test_no_alertmanager(tmp_path: Path) -> None:
    result = cli("--out", "out", "--no-alertmanager", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "out" / "alertmanager.yml").exists()
    assert "alerting" not in yaml.safe_load((tmp_path / "out" / "prometheus.yml").read_text())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--namespace", "bad-ns"], "namespace"),
        (["--job", "bad job"], "job"),
        (["--targets", "no-port"], "host:port"),
        (["--alertmanager", "http://am"], "alertmanager"),
        (["--scrape-interval", "0"], "scrape_interval"),
        (["--thresholds", "missing.toml"], "missing.toml"),
        (["--thresholds", "unknown.toml"], "unknown field"),
        (["--thresholds", "inverted.json"], "must not exceed"),
    ],
)
def test_bad_options_are_one_line_and_exit_64(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "unknown.toml").write_text("daily_loss_ratio = 0.8\n")
    (tmp_path / "inverted.json").write_text('{"staleness_warning_seconds": 60}')
    result = cli("--out", "out", *args, cwd=tmp_path)
    assert result.returncode == 64, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("trader-telemetry ops render: ")
    assert message in line
    assert not (tmp_path / "out").exists(), "nothing is written when the options are bad"


@pytest.mark.parametrize(
    "args",
    [
        [],  # --out is required
        ["--out", "o", "--targets", "a:1", "--targets-file", "t.json"],
        ["--out", "o", "--alertmanager", "am:9093", "--no-alertmanager"],
    ],
)
def test_conflicting_or_missing_flags_exit_64(tmp_path: Path, args: list[str]) -> None:
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 64
    assert "error:" in result.stderr
    assert not (tmp_path / "o").exists()


def test_unwritable_out_is_exit_1(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a directory")
    result = cli("--out", "taken", cwd=tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "cannot write taken" in line


def test_render_for_a_bot_behind_tls_and_basic_auth(tmp_path: Path) -> None:
    out = tmp_path / "secure"
    result = cli(
        "--out", str(out), "--scheme", "https", "--ca-file", "/etc/prometheus/bot-ca.crt",
        "--basic-auth-user", "prometheus", "--basic-auth-password-file",
        "/etc/prometheus/bot-password", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = yaml.safe_load((out / "prometheus.yml").read_text())["scrape_configs"][0]
    assert job["scheme"] == "https"
    assert job["tls_config"] == {"ca_file": "/etc/prometheus/bot-ca.crt"}
    assert job["basic_auth"] == {
        "username": "prometheus",
        "password_file": "/etc/prometheus/bot-password",
    }
    for bad in (
        ["--ca-file", "ca.crt"],  # TLS options without https
        ["--scheme", "https", "--basic-auth-user", "prometheus"],  # no password file
        ["--scheme", "https", "--client-cert", "c.crt"],  # no key
    ):
        failed = cli("--out", str(tmp_path / "bad"), *bad, cwd=tmp_path)
        assert failed.returncode == 64
        assert failed.stderr.count("\n") == 1


def test_loopback_target_warns_and_the_compose_copy_reaches_the_host(tmp_path: Path) -> None:
    result = cli("--out", "out", "--targets", "127.0.0.1:9000", "--targets", "10.0.0.5:9000",
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [warning] = result.stderr.splitlines()
    assert "warning: target 127.0.0.1:9000 is a loopback address" in warning
    assert "host.docker.internal:9000" in warning
    out = tmp_path / "out"
    host_copy = yaml.safe_load((out / "prometheus.yml").read_text())
    assert host_copy["scrape_configs"][0]["static_configs"][0]["targets"] == [
        "127.0.0.1:9000",
        "10.0.0.5:9000",
    ]
    compose_copy = yaml.safe_load((out / "prometheus.compose.yml").read_text())
    assert compose_copy["scrape_configs"][0]["static_configs"][0]["targets"] == [
        "host.docker.internal:9000",
        "10.0.0.5:9000",
    ]
    prometheus = yaml.safe_load((out / "docker-compose.yml").read_text())["services"]["prometheus"]
    assert "./prometheus.compose.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert "host.docker.internal:host-gateway" in prometheus["extra_hosts"]
    promtool = require_tool("promtool")
    checked = subprocess.run([promtool, "check", "config", "prometheus.compose.yml"], cwd=out,
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_no_loopback_target_no_warning_and_no_compose_copy(tmp_path: Path) -> None:
    result = cli("--out", "out", cwd=tmp_path)  # the default target: host.docker.internal:9000
    assert result.returncode == 0
    assert result.stderr == ""
    assert not (tmp_path / "out" / "prometheus.compose.yml").exists()
