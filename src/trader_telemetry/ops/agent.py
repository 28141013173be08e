"""Agent mode of ``ops render`` (``--mode agent --remote-write URL``): a fleet past one machine.

Each fleet host runs a Prometheus in agent mode (``prometheus --agent``) that scrapes the bots of
that host over loopback and remote-writes every sample to one central receiver: a Prometheus
started with ``--web.enable-remote-write-receiver`` (``/api/v1/write``), or Mimir, Thanos
Receive, VictoriaMetrics. The bots keep binding 127.0.0.1 (nothing listens on the network), and
an agent holds no TSDB, only a write-ahead log, so it is cheap to run on every host.

The files, for static targets ``HOST:PORT`` (grouped by host, one agent config each):

* ``agents/HOST.yml``: scrapes ``127.0.0.1:PORT`` for each of the host's targets and sets
  ``instance`` back to ``HOST:PORT``, so the central series carry the same ``job`` and
  ``instance`` labels a central scrape would have given them, and the alert rules, their tests
  and the dashboard work unchanged.
* ``receiver.yml``: the central Prometheus' config: no scrape jobs, the alert rules, alerting.

With ``targets_file`` one ``agents/agent.yml`` reads that file (its targets are scraped as
listed). Rule evaluation and alerting stay central: an agent evaluates no rules.
"""

from __future__ import annotations

import re
from typing import Any

from .options import OpsOptions
from .stack import alertmanager_target, prometheus_config

__all__ = ["agent_configs", "agent_file_name", "receiver_config"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def agent_file_name(host: str) -> str:
    """The relative path of one host's agent config.

    Example:
        >>> agent_file_name("bot-1.example"), agent_file_name("[::1]")
        ('agents/bot-1.example.yml', 'agents/___1_.yml')
    """
    return f"agents/{_UNSAFE.sub('_', host)}.yml"


def _hosts(options: OpsOptions) -> dict[str, list[str]]:
    hosts: dict[str, list[str]] = {}
    for target in options.static_targets:
        host, port = target.rsplit(":", 1)
        hosts.setdefault(host, []).append(port)
    return hosts


def _agent(options: OpsOptions, scrape: dict[str, Any], host: str | None) -> dict[str, Any]:
    interval = prometheus_config(options)["global"]
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": interval["scrape_interval"],
            "scrape_timeout": interval["scrape_timeout"],
        },
        "scrape_configs": [scrape],
        "remote_write": [{"url": options.remote_write_url}],
    }
    if host is not None:
        config["global"]["external_labels"] = {"fleet_host": host}
    return config


def agent_configs(options: OpsOptions) -> dict[str, dict[str, Any]]:
    """Relative path -> agent config document, one per fleet host (see the module docstring).

    Example:
        >>> options = OpsOptions(
        ...     targets=("a:9000", "a:9001", "b:9000"),
        ...     mode="agent",
        ...     remote_write_url="http://central:9090/api/v1/write",
        ... )
        >>> configs = agent_configs(options)
        >>> sorted(configs)
        ['agents/a.yml', 'agents/b.yml']
        >>> configs["agents/a.yml"]["scrape_configs"][0]["static_configs"][0]["targets"]
        ['127.0.0.1:9000', '127.0.0.1:9001']
    """
    base = dict(prometheus_config(options)["scrape_configs"][0])
    if options.targets_file:
        return {"agents/agent.yml": _agent(options, base, None)}
    configs: dict[str, dict[str, Any]] = {}
    for host, ports in _hosts(options).items():
        scrape = dict(base)
        scrape["static_configs"] = [{"targets": [f"127.0.0.1:{port}" for port in ports]}]
        # The agent scrapes over loopback; the instance label says which host it was.
        scrape["relabel_configs"] = [
            {
                "source_labels": ["__address__"],
                "regex": r"127\.0\.0\.1:(\d+)",
                "target_label": "instance",
                "replacement": f"{host}:$1",
            }
        ]
        configs[agent_file_name(host)] = _agent(options, scrape, host)
    return configs


def receiver_config(options: OpsOptions) -> dict[str, Any]:
    """The central receiver's ``prometheus.yml``: rules and alerting, samples by remote write.

    Start it with ``--web.enable-remote-write-receiver``; the agents write to its
    ``/api/v1/write``.

    Example:
        >>> receiver_config(OpsOptions(mode="agent", remote_write_url="http://c:9090/api/v1/write"))
        ... # doctest: +ELLIPSIS
        {'global': {'evaluation_interval': '5s'}, 'rule_files': ['alerts.yml'], 'alerting': ...}
    """
    config: dict[str, Any] = {
        "global": {
            "evaluation_interval": prometheus_config(options)["global"]["evaluation_interval"]
        },
        "rule_files": ["alerts.yml"],
    }
    target = alertmanager_target(options)
    if target is not None:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [target]}]}]}
    return config
