"""The stack around the bot: ``prometheus.yml``, ``alertmanager.yml`` and the compose file.

Each function returns a plain document (dicts and lists) that :func:`~.yaml_text.dump_yaml`
writes; :mod:`.render` puts them together with the alert rules and the Grafana files.

The compose bundle runs Prometheus, Alertmanager, Grafana and Jaeger in containers while the bot
stays on the host: Prometheus reaches it as ``host.docker.internal`` (mapped to the host
gateway, so this works on Linux too), and every published port is bound to 127.0.0.1 so nothing
in the bundle is reachable from the network.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import Any, Final

from ..errors import ConfigurationError
from .options import OpsOptions

__all__ = [
    "ALERTMANAGER_SERVICE",
    "COMPOSE_PROMETHEUS",
    "DOCKER_HOST",
    "IMAGES",
    "alertmanager_config",
    "alertmanager_target",
    "bundles_alertmanager",
    "compose_file",
    "compose_prometheus_config",
    "compose_warnings",
    "loopback_targets",
    "prometheus_config",
]

#: Pinned images: a re-render never silently changes what runs.
IMAGES: Final[dict[str, str]] = {
    "prometheus": "prom/prometheus:v2.53.2",
    "alertmanager": "prom/alertmanager:v0.27.0",
    "grafana": "grafana/grafana:11.6.0",
    "jaeger": "jaegertracing/all-in-one:1.62.0",
}

#: ``host:port`` of the Alertmanager inside the compose bundle (the default of ``OpsOptions``).
ALERTMANAGER_SERVICE: Final = "alertmanager:9093"

#: Where the webhook receivers point until an operator wires a real one (nothing listens there).
PLACEHOLDER_WEBHOOK: Final = "http://127.0.0.1:5001/alerts"

_HOST_PORT = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:[0-9]{1,5}$")
_PROMETHEUS_DIR: Final = "/etc/prometheus"


def alertmanager_target(options: OpsOptions) -> str | None:
    """The Alertmanager ``host:port`` alerts go to, or None when alerting is off.

    Raises:
        ConfigurationError: when the address is not ``host:port``.

    Example:
        >>> alertmanager_target(OpsOptions(alertmanager=None)) is None
        True
    """
    target = options.alertmanager
    if target is None:
        return None
    if not _HOST_PORT.match(target) or int(target.rsplit(":", 1)[1]) > 65535:
        raise ConfigurationError(f"OpsOptions.alertmanager: expected host:port, got {target!r}")
    return target


def bundles_alertmanager(options: OpsOptions) -> bool:
    """Whether the compose bundle runs its own Alertmanager (alerts go to the bundled one)."""
    return alertmanager_target(options) == ALERTMANAGER_SERVICE


def _seconds(value: float) -> str:
    return f"{int(value)}s"


def prometheus_config(options: OpsOptions) -> dict[str, Any]:
    """The ``prometheus.yml`` document: one scrape job for the bot(s), the rules, alerting.

    Static targets by default; with ``targets_file`` a ``file_sd_configs`` block, so a fleet is
    changed by editing that file (Prometheus watches it, no reload needed).

    Example:
        >>> config = prometheus_config(OpsOptions(namespace="coinbase_trader"))
        >>> job = config["scrape_configs"][0]
        >>> job["job_name"], job["static_configs"][0]["targets"]
        ('coinbase_trader', ['host.docker.internal:9000'])
    """
    interval = options.scrape_interval_seconds
    job: dict[str, Any] = {
        "job_name": options.job,
        "metrics_path": "/metrics",
        "scheme": options.scheme,
    }
    tls: dict[str, Any] = {}
    if options.ca_file:
        tls["ca_file"] = options.ca_file
    if options.client_cert_file:
        tls["cert_file"] = options.client_cert_file
        tls["key_file"] = options.client_key_file
    if tls:
        job["tls_config"] = tls
    if options.basic_auth_user:
        job["basic_auth"] = {
            "username": options.basic_auth_user,
            "password_file": options.basic_auth_password_file,
        }
    if options.targets_file:
        job["file_sd_configs"] = [{"files": [options.targets_file]}]
    else:
        job["static_configs"] = [{"targets": list(options.static_targets)}]
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": _seconds(interval),
            # A timeout longer than the interval is a config error; 10 s is Prometheus' default.
            "scrape_timeout": _seconds(min(interval, 10)),
            "evaluation_interval": _seconds(interval),
        },
        "rule_files": ["alerts.yml"],
    }
    target = alertmanager_target(options)
    if target is not None:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [target]}]}]}
    config["scrape_configs"] = [job]
    return config


def alertmanager_config(options: OpsOptions) -> dict[str, Any]:
    """The ``alertmanager.yml`` document: alerts routed by their ``severity`` label.

    ``critical`` and ``warning`` each have a receiver; both are placeholder webhooks on
    127.0.0.1 (no credentials in a rendered file). A critical alert mutes the warning of the
    same ``alertgroup`` (and symbol or stream) on the same target, so one incident pages once.

    Example:
        >>> routes = alertmanager_config(OpsOptions())["route"]["routes"]
        >>> [r["receiver"] for r in routes]
        ['critical', 'warning']
    """
    del options  # the same routing suits every namespace; kept for a uniform signature
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "warning",
            "group_by": ["alertname", "job", "severity"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "receiver": "critical",
                    "matchers": ["severity=critical"],
                    "group_wait": "10s",
                    "repeat_interval": "1h",
                },
                {"receiver": "warning", "matchers": ["severity=warning"]},
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ["severity=critical"],
                "target_matchers": ["severity=warning"],
                # alertgroup pairs a warning with its critical twin (set by the rules); symbol and
                # stream keep one symbol's critical from muting another's warning.
                "equal": ["job", "instance", "alertgroup", "symbol", "stream"],
            }
        ],
        "receivers": [
            {
                "name": "critical",
                "webhook_configs": [
                    {"url": f"{PLACEHOLDER_WEBHOOK}/critical", "send_resolved": True}
                ],
            },
            {
                "name": "warning",
                "webhook_configs": [
                    {"url": f"{PLACEHOLDER_WEBHOOK}/warning", "send_resolved": True}
                ],
            },
        ],
    }


#: Where a container of the bundle finds the host (``extra_hosts: host-gateway`` on Linux).
DOCKER_HOST: Final = "host.docker.internal"
#: The compose bundle's own copy of the scrape config, written when a target is loopback.
COMPOSE_PROMETHEUS: Final = "prometheus.compose.yml"


def loopback_targets(options: OpsOptions) -> tuple[str, ...]:
    """The static targets on a loopback address: inside a container, those are the container.

    Example:
        >>> loopback_targets(OpsOptions(targets=("127.0.0.1:9000", "10.0.0.5:9000")))
        ('127.0.0.1:9000',)
    """
    found = []
    for target in options.static_targets:
        host = target.rsplit(":", 1)[0].strip("[]")
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host.lower() == "localhost"
        if loopback:
            found.append(target)
    return tuple(found)


def compose_prometheus_config(options: OpsOptions) -> dict[str, Any]:
    """``prometheus.yml`` as the bundle's Prometheus needs it: loopback targets become
    ``host.docker.internal`` (the host, through ``extra_hosts: host-gateway``).

    Example:
        >>> config = compose_prometheus_config(OpsOptions(targets=("127.0.0.1:9000",)))
        >>> config["scrape_configs"][0]["static_configs"][0]["targets"]
        ['host.docker.internal:9000']
    """
    config = prometheus_config(options)
    loopback = set(loopback_targets(options))
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", ()):
            static["targets"] = [
                f"{DOCKER_HOST}:{t.rsplit(':', 1)[1]}" if t in loopback else t
                for t in static["targets"]
            ]
    return config


def compose_warnings(options: OpsOptions) -> list[str]:
    """What an operator must know before ``docker compose up``: a loopback target.

    Example:
        >>> compose_warnings(OpsOptions()) == []
        True
    """
    loopback = loopback_targets(options)
    if not loopback:
        return []
    return [
        f"target {target} is a loopback address: inside the compose bundle's container that is "
        f"Prometheus itself. prometheus.yml keeps it (for a Prometheus on the host); the "
        f"bundle mounts {COMPOSE_PROMETHEUS}, which scrapes {DOCKER_HOST}:"
        f"{target.rsplit(':', 1)[1]} instead. That reaches the bot only if it listens on an "
        f'address the Docker bridge reaches (e.g. host="172.17.0.1", the docker0 address), '
        f"not on 127.0.0.1"
        for target in loopback
    ]


def _loopback(port: int) -> str:
    return f"127.0.0.1:{port}:{port}"


def _targets_file_mount(targets_file: str) -> str | None:
    """The bind mount that makes a relative ``file_sd`` path visible to Prometheus.

    Prometheus resolves it against the config file's directory; the directory holding it is
    mounted (not the file), so edits that replace the file are seen. An absolute path is the
    operator's to mount.
    """
    if posixpath.isabs(targets_file):
        return None
    folder = posixpath.dirname(posixpath.normpath(targets_file))
    if not folder or folder == ".":
        name = posixpath.normpath(targets_file)
        return f"./{name}:{_PROMETHEUS_DIR}/{name}:ro"
    return f"./{folder}:{_PROMETHEUS_DIR}/{folder}:ro"


def compose_file(
    options: OpsOptions, *, dashboards_dir: str, dashboard_file: str = "grafana/dashboard.json"
) -> dict[str, Any]:
    """The ``docker-compose.yml`` document: Prometheus, Alertmanager, Grafana and Jaeger.

    Args:
        options: The render's options.
        dashboards_dir: Directory in the Grafana container that the dashboard provider reads.
        dashboard_file: The rendered dashboard, relative to the bundle directory.

    Example:
        >>> sorted(compose_file(OpsOptions(), dashboards_dir="/d")["services"])
        ['alertmanager', 'grafana', 'jaeger', 'prometheus']
    """
    # With a loopback target, the bundle's own copy (those targets pointed at the host).
    scrape_config = COMPOSE_PROMETHEUS if loopback_targets(options) else "prometheus.yml"
    prometheus_volumes = [
        f"./{scrape_config}:{_PROMETHEUS_DIR}/prometheus.yml:ro",
        f"./alerts.yml:{_PROMETHEUS_DIR}/alerts.yml:ro",
    ]
    if options.targets_file:
        mount = _targets_file_mount(options.targets_file)
        if mount is not None:
            prometheus_volumes.append(mount)
    prometheus_volumes.append("prometheus-data:/prometheus")
    prometheus: dict[str, Any] = {
        "image": IMAGES["prometheus"],
        "command": [
            f"--config.file={_PROMETHEUS_DIR}/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=15d",
            "--web.enable-lifecycle",
        ],
        "volumes": prometheus_volumes,
        "ports": [_loopback(9090)],
        # The bot runs on the host: host-gateway makes host.docker.internal resolve on Linux too.
        "extra_hosts": ["host.docker.internal:host-gateway"],
        "restart": "unless-stopped",
    }
    services: dict[str, Any] = {"prometheus": prometheus}
    volumes: dict[str, Any] = {"prometheus-data": {}}
    if bundles_alertmanager(options):
        prometheus["depends_on"] = ["alertmanager"]
        services["alertmanager"] = {
            "image": IMAGES["alertmanager"],
            "command": [
                "--config.file=/etc/alertmanager/alertmanager.yml",
                "--storage.path=/alertmanager",
                # An empty address turns clustering off; otherwise it gossips on every interface.
                "--cluster.listen-address=",
            ],
            "volumes": [
                "./alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro",
                "alertmanager-data:/alertmanager",
            ],
            "ports": [_loopback(9093)],
            "restart": "unless-stopped",
        }
        volumes["alertmanager-data"] = {}
    services["grafana"] = {
        "image": IMAGES["grafana"],
        "environment": {
            # Viewers need no login on this loopback-only bundle; editing still needs admin.
            "GF_AUTH_ANONYMOUS_ENABLED": "true",
            "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
            "GF_USERS_ALLOW_SIGN_UP": "false",
        },
        "volumes": [
            "./grafana/provisioning:/etc/grafana/provisioning:ro",
            f"./{dashboard_file}:{dashboards_dir}/{posixpath.basename(dashboard_file)}:ro",
            "grafana-data:/var/lib/grafana",
        ],
        "ports": [_loopback(3000)],
        "depends_on": ["prometheus"],
        "restart": "unless-stopped",
    }
    volumes["grafana-data"] = {}
    services["jaeger"] = {
        "image": IMAGES["jaeger"],
        "environment": {"COLLECTOR_OTLP_ENABLED": "true"},
        # 16686: the UI; 4317/4318: OTLP gRPC/HTTP, where the bot's slow-cycle traces go.
        "ports": [_loopback(16686), _loopback(4317), _loopback(4318)],
        "restart": "unless-stopped",
    }
    return {
        "name": f"trader-telemetry-{options.namespace.lower()}",
        "services": services,
        "volumes": volumes,
    }
