"""``ops render --mode agent --remote-write URL``: an agent config per fleet host, the central
receiver's config, checked by both promtools (the live agent -> receiver test is in
tests/integration/test_fleet_agent.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from trader_telemetry.errors import ConfigurationError
from trader_telemetry.ops.bundle import render_command, render_files, write_files
from trader_telemetry.ops.options import OpsOptions

from .test_cli_ops import cli

URL = "http://central.example:9090/api/v1/write"
FLEET = OpsOptions(
    namespace="desk",
    targets=("bot-a:9000", "bot-a:9001", "bot-b:9100"),
    mode="agent",
    remote_write_url=URL,
)


def doc(files: dict[str, str], name: str) -> Any:
    return yaml.safe_load(files[name])


def test_one_agent_per_host_scraping_its_bots_over_loopback() -> None:
    files = render_files(FLEET)
    assert sorted(files) == sorted(
        [
            "agents/bot-a.yml",
            "agents/bot-b.yml",
            "receiver.yml",
            "alerts.yml",
            "alerts_test.yml",
            "alertmanager.yml",
            "README.md",
        ]
    )
    agent = doc(files, "agents/bot-a.yml")
    [job] = agent["scrape_configs"]
    assert job["job_name"] == "desk"
    assert job["static_configs"] == [{"targets": ["127.0.0.1:9000", "127.0.0.1:9001"]}]
    assert agent["remote_write"] == [{"url": URL}]
    assert agent["global"]["external_labels"] == {"fleet_host": "bot-a"}
    [relabel] = job["relabel_configs"]
    assert relabel["target_label"] == "instance"
    assert relabel["replacement"] == "bot-a:$1"
    assert "rule_files" not in agent  # an agent evaluates no rules
    other = doc(files, "agents/bot-b.yml")
    assert other["scrape_configs"][0]["static_configs"] == [{"targets": ["127.0.0.1:9100"]}]


def test_the_receiver_evaluates_the_rules_and_scrapes_nothing() -> None:
    receiver = doc(render_files(FLEET), "receiver.yml")
    assert receiver["rule_files"] == ["alerts.yml"]
    assert "scrape_configs" not in receiver
    assert receiver["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]


def test_targets_file_gives_one_agent_reading_it() -> None:
    options = OpsOptions(targets_file="targets/bots.json", mode="agent", remote_write_url=URL)
    files = render_files(options)
    agent = doc(files, "agents/agent.yml")
    assert agent["scrape_configs"][0]["file_sd_configs"] == [{"files": ["targets/bots.json"]}]
    assert [p for p in files if p.startswith("agents/")] == ["agents/agent.yml"]


def test_render_command_reproduces_the_agent_render() -> None:
    command = render_command(FLEET)
    assert f"--mode agent --remote-write {URL}" in command
    assert command in render_files(FLEET)["README.md"].replace("\n", " ")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mode": "agent"}, "needs remote_write_url"),
        ({"remote_write_url": URL}, "is for mode agent"),
        ({"mode": "agent", "remote_write_url": "central:9090"}, "http(s) URL"),
        ({"mode": "edge"}, "mode must be one of"),
    ],
)
def test_bad_agent_options_are_configuration_errors(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        OpsOptions(**changes)  # type: ignore[arg-type]


def test_cli_renders_agent_mode_and_rejects_a_missing_url(tmp_path: Path) -> None:
    args = ("--targets", "bot-a:9000", "bot-b:9000", "--mode", "agent")
    result = cli("--out", "fleet", *args, "--remote-write", URL, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fleet" / "agents" / "bot-b.yml").is_file()
    missing = cli("--out", "fleet2", *args, cwd=tmp_path)
    assert missing.returncode == 64  # a usage error (EX_USAGE)
    assert "remote_write_url" in missing.stderr


def test_both_promtools_accept_the_agent_and_receiver_configs(
    tmp_path: Path, promtool_path: str
) -> None:
    write_files(FLEET, tmp_path)
    for agent in ("agents/bot-a.yml", "agents/bot-b.yml"):
        checked = subprocess.run(
            [promtool_path, "check", "config", "--agent", agent],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
    receiver = subprocess.run(
        [promtool_path, "check", "config", "receiver.yml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert receiver.returncode == 0, receiver.stdout + receiver.stderr
    # The checker is live: an agent config with rules is refused in agent mode.
    broken = yaml.safe_load((tmp_path / "agents/bot-a.yml").read_text())
    broken["rule_files"] = ["alerts.yml"]
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    refused = subprocess.run(
        [promtool_path, "check", "config", "--agent", "broken.yml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
