"""Every operator artefact of one :class:`OpsOptions`, as text, and writing them to a directory.

The output is a pure function of the options: no timestamps, no version strings, no absolute
paths, so two renders are byte-identical and the committed ``deploy/`` trees can be compared
with a fresh one.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import fields
from pathlib import Path

from ..config import Thresholds
from .agent import agent_configs, receiver_config
from .alert_tests import alert_rule_tests
from .alerts import alert_rules
from .grafana import DASHBOARD_FILE, DASHBOARDS_DIR, grafana_files
from .options import DEFAULT_RUNBOOK_BASE, OpsOptions
from .stack import (
    ALERTMANAGER_SERVICE,
    COMPOSE_PROMETHEUS,
    alertmanager_config,
    alertmanager_target,
    bundles_alertmanager,
    compose_file,
    compose_prometheus_config,
    loopback_targets,
    prometheus_config,
)
from .yaml_text import dump_yaml

__all__ = ["render_command", "render_files", "write_files"]


def render_command(options: OpsOptions, out: str = "DIR") -> str:
    """The ``trader-telemetry ops render`` command line that reproduces ``options``.

    Thresholds are not flags: a render with non-default ones needs the same ``--thresholds``
    file (the README of the render lists the values).

    Example:
        >>> render_command(OpsOptions(namespace="coinbase_trader"), "deploy/coinbase_trader")
        'trader-telemetry ops render --out deploy/coinbase_trader --namespace coinbase_trader'
    """
    parts = ["trader-telemetry ops render", f"--out {out}"]
    if options.namespace != "trader":
        parts.append(f"--namespace {options.namespace}")
    if options.job != options.namespace:
        parts.append(f"--job {options.job}")
    if options.targets:
        parts.append("--targets " + " ".join(options.targets))
    if options.targets_file:
        parts.append(f"--targets-file {options.targets_file}")
    if options.thresholds != Thresholds():
        parts.append("--thresholds FILE")
    if options.alertmanager is None:
        parts.append("--no-alertmanager")
    elif options.alertmanager != ALERTMANAGER_SERVICE:
        parts.append(f"--alertmanager {options.alertmanager}")
    if options.scrape_interval_seconds != 5:
        parts.append(f"--scrape-interval {options.scrape_interval_seconds}")
    if options.runbook_base != DEFAULT_RUNBOOK_BASE:
        parts.append(f"--runbook-base {options.runbook_base}")
    if options.mode != "server":
        parts.append(f"--mode {options.mode} --remote-write {options.remote_write_url}")
    return " ".join(parts)


def _header(options: OpsOptions) -> str:
    return (
        f"Rendered by `{render_command(options)}`.\n"
        "Do not edit: change the options or thresholds and render again."
    )


def render_files(options: OpsOptions) -> dict[str, str]:
    """Every file of the bundle: relative path (``/``-separated) -> text.

    Raises:
        ConfigurationError: when an option cannot be rendered (e.g. a bad Alertmanager address).

    Example:
        >>> files = render_files(OpsOptions())
        >>> [name for name in files if "/" not in name]  # doctest: +NORMALIZE_WHITESPACE
        ['prometheus.yml', 'alerts.yml', 'alerts_test.yml', 'alertmanager.yml',
         'docker-compose.yml', 'README.md']
    """
    alertmanager_target(options)  # validate before anything is built
    if options.mode == "agent":
        return _agent_files(options)
    header = _header(options)
    files: dict[str, str] = {
        "prometheus.yml": dump_yaml(prometheus_config(options), header=header),
        "alerts.yml": dump_yaml(alert_rules(options), header=header),
        "alerts_test.yml": dump_yaml(
            alert_rule_tests(options, rules_file="alerts.yml"), header=header
        ),
    }
    if options.alertmanager is not None:
        files["alertmanager.yml"] = dump_yaml(alertmanager_config(options), header=header)
    if loopback_targets(options):
        files[COMPOSE_PROMETHEUS] = dump_yaml(compose_prometheus_config(options), header=header)
    files["docker-compose.yml"] = dump_yaml(
        compose_file(options, dashboards_dir=DASHBOARDS_DIR, dashboard_file=DASHBOARD_FILE),
        header=header,
    )
    files.update(sorted(grafana_files(options).items()))
    files["README.md"] = _readme(options, list(files))
    return files


def _agent_files(options: OpsOptions) -> dict[str, str]:
    # A fleet host runs only its agent; the receiver, rules and Alertmanager are central. The
    # dashboard and compose bundle of server mode are for one machine and are not written.
    header = _header(options)
    files = {
        path: dump_yaml(document, header=header)
        for path, document in agent_configs(options).items()
    }
    files["receiver.yml"] = dump_yaml(receiver_config(options), header=header)
    files["alerts.yml"] = dump_yaml(alert_rules(options), header=header)
    files["alerts_test.yml"] = dump_yaml(
        alert_rule_tests(options, rules_file="alerts.yml"), header=header
    )
    if options.alertmanager is not None:
        files["alertmanager.yml"] = dump_yaml(alertmanager_config(options), header=header)
    files["README.md"] = _agent_readme(options, list(files))
    return files


def _agent_readme(options: OpsOptions, paths: list[str]) -> str:
    agents = [p for p in paths if p.startswith("agents/")]
    lines = [
        f"# Fleet agents for `{options.namespace}`",
        "",
        _paragraph(f"Rendered by `{render_command(options)}`; render again instead of editing."),
        "",
        _paragraph(
            f"Each fleet host runs a Prometheus agent that scrapes its bots over 127.0.0.1 every "
            f"{options.scrape_interval_seconds} s and remote-writes the samples to "
            f"`{options.remote_write_url}`. The central receiver evaluates `alerts.yml`. "
            f"Thresholds: {_thresholds_text(options)}."
        ),
        "",
        *[
            _item(f"- `{p}`: the agent of one host: `prometheus --agent --config.file={p}`")
            for p in agents
        ],
        _item(
            "- `receiver.yml`: the central Prometheus: `prometheus --config.file=receiver.yml "
            "--web.enable-remote-write-receiver` (or Mimir, Thanos Receive, VictoriaMetrics "
            "with `alerts.yml` loaded)"
        ),
        "- `alerts.yml`, `alerts_test.yml`: the rules and `promtool test rules alerts_test.yml`",
        "",
        "## Check",
        "",
        "```sh",
        *[f"promtool check config --agent {p}" for p in agents],
        "promtool check config receiver.yml",
        "promtool test rules alerts_test.yml",
        "```",
        "",
    ]
    return "\n".join(lines)


def write_files(options: OpsOptions, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Render and write every file under ``out_dir`` (created if needed); the paths written.

    Existing files of the same names are replaced; other files in ``out_dir`` are left alone.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as out:
        ...     paths = write_files(OpsOptions(), out)
        ...     [p.name for p in paths][:2]
        ['prometheus.yml', 'alerts.yml']
    """
    root = Path(out_dir)
    written: list[Path] = []
    for relative, text in render_files(options).items():
        path = root.joinpath(*relative.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Bytes, not text mode: "\n" on every platform, so renders compare equal anywhere.
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written


_WIDTH = 100

_DESCRIPTIONS = {
    "prometheus.yml": "Prometheus config: scrapes the bot, loads `alerts.yml`{alerting}",
    "alerts.yml": "alert rules (the playbook's five plus warning/critical per threshold), "
    "each with a `runbook_url`",
    "alerts_test.yml": "promtool unit tests of every rule: `promtool test rules alerts_test.yml`",
    "alertmanager.yml": "Alertmanager config: routes by `severity` to the `critical` and "
    "`warning` receivers (placeholder webhooks on 127.0.0.1: replace them)",
    "docker-compose.yml": "the bundle: {services}, every port bound to 127.0.0.1",
    COMPOSE_PROMETHEUS: "the bundle's copy of `prometheus.yml`: loopback targets scrape "
    "`host.docker.internal` instead (the bot must listen where the Docker bridge reaches it)",
    "README.md": "this file",
}


def _describe(path: str, options: OpsOptions) -> str:
    if path in _DESCRIPTIONS:
        target = options.alertmanager
        services = ["Prometheus", "Alertmanager", "Grafana", "Jaeger (OTLP on 4317/4318)"]
        if not bundles_alertmanager(options):
            services.remove("Alertmanager")
        return _DESCRIPTIONS[path].format(
            alerting=f" and sends alerts to `{target}`" if target else "",
            services=", ".join(services),
        )
    if path.endswith("dashboard.json"):
        return "Grafana dashboard (also importable by hand: Dashboards > New > Import)"
    if "/datasources/" in path:
        return "Grafana provisioning: the Prometheus datasource"
    if "/dashboards/" in path:
        return "Grafana provisioning: loads the dashboard"
    return "Grafana file"


def _targets_text(options: OpsOptions) -> str:
    if options.targets_file:
        return (
            f"the targets listed in `{options.targets_file}` (`file_sd_configs`; Prometheus "
            "watches the file, edits need no restart)"
        )
    return ", ".join(f"`{t}`" for t in options.static_targets)


def _thresholds_text(options: OpsOptions) -> str:
    default = Thresholds()
    changed = [
        f"`{f.name}={getattr(options.thresholds, f.name)!r}`"
        for f in fields(Thresholds)
        if getattr(options.thresholds, f.name) != getattr(default, f.name)
    ]
    return "the defaults" if not changed else ", ".join(changed)


def _paragraph(text: str) -> str:
    return textwrap.fill(text, width=_WIDTH, break_long_words=False, break_on_hyphens=False)


def _item(text: str) -> str:
    return textwrap.fill(
        text,
        width=_WIDTH,
        subsequent_indent="  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _readme(options: OpsOptions, paths: list[str]) -> str:
    listing = [_item(f"- `{path}`: {_describe(path, options)}") for path in [*paths, "README.md"]]
    urls = [
        "Prometheus http://127.0.0.1:9090",
        "Grafana http://127.0.0.1:3000",
        "Jaeger http://127.0.0.1:16686",
    ]
    if bundles_alertmanager(options):
        urls.append("Alertmanager http://127.0.0.1:9093")
    checks = ["promtool check config prometheus.yml", "promtool test rules alerts_test.yml"]
    if options.alertmanager is not None:
        checks.append("amtool check-config alertmanager.yml")
    lines = [
        f"# Monitoring bundle for `{options.namespace}`",
        "",
        _paragraph(f"Rendered by `{render_command(options)}`; render again instead of editing."),
        "",
        _paragraph(
            f"Job `{options.job}` scrapes {_targets_text(options)} every "
            f"{options.scrape_interval_seconds} s. Thresholds: {_thresholds_text(options)}."
        ),
        "",
        *listing,
        "",
        "## Start",
        "",
        "```sh",
        "docker compose up -d        # in this directory",
        "```",
        "",
        _paragraph(", ".join(urls) + "."),
        "",
        _paragraph(
            "The bot runs on the host. Prometheus reaches it as `host.docker.internal` (the host "
            "gateway): on Linux the bot must listen on the Docker bridge address, e.g. "
            "`TRADER_TELEMETRY_HOST=172.17.0.1`, since containers cannot reach the host's "
            "127.0.0.1. Traces: send OTLP to http://127.0.0.1:4318 (HTTP) or 127.0.0.1:4317 "
            "(gRPC); Jaeger shows them."
        ),
        "",
        "## Check",
        "",
        "```sh",
        *checks,
        "```",
        "",
    ]
    return "\n".join(lines)
