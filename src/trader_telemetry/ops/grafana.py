"""Grafana files of the bundle: the dashboard JSON and the provisioning that loads it.

Grafana reads ``/etc/grafana/provisioning/datasources/*.yml`` and ``dashboards/*.yml`` at start
(the compose bundle mounts ``grafana/provisioning`` there). The datasource is created with the
uid the dashboard's ``datasource`` variable selects by default, and the dashboard provider reads
the directory the compose file mounts ``grafana/dashboard.json`` into.

Example:
    >>> from trader_telemetry.ops import OpsOptions
    >>> sorted(grafana_files(OpsOptions()))  # doctest: +NORMALIZE_WHITESPACE
    ['grafana/dashboard.json', 'grafana/provisioning/dashboards/dashboards.yml',
     'grafana/provisioning/datasources/prometheus.yml']
"""

from __future__ import annotations

import json

from .dashboard import DATASOURCE_NAME, DATASOURCE_UID, dashboard
from .options import OpsOptions
from .yaml_text import dump_yaml

__all__ = [
    "DASHBOARDS_DIR",
    "DASHBOARD_FILE",
    "PROMETHEUS_URL",
    "dashboard_provider",
    "datasource_provisioning",
    "grafana_files",
]

#: Where the compose bundle mounts the dashboard inside the Grafana container.
DASHBOARDS_DIR = "/var/lib/grafana/dashboards"
#: The dashboard's path in a rendered bundle.
DASHBOARD_FILE = "grafana/dashboard.json"
#: Prometheus as the Grafana container reaches it on the compose network.
PROMETHEUS_URL = "http://prometheus:9090"

_HEADER = (
    "Rendered by `trader-telemetry ops render`.\n"
    "Do not edit: change the options or thresholds and render again."
)


def datasource_provisioning(options: OpsOptions, *, url: str = PROMETHEUS_URL) -> str:
    """``provisioning/datasources/prometheus.yml``: the Prometheus datasource, default for the
    org, with the scrape interval as Grafana's minimum step (it sizes ``$__rate_interval``).

    Example:
        >>> from trader_telemetry.ops import OpsOptions
        >>> "uid: prometheus" in datasource_provisioning(OpsOptions())
        True
    """
    document = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": DATASOURCE_NAME,
                "uid": DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": url,
                "isDefault": True,
                "editable": False,
                "jsonData": {
                    "httpMethod": "POST",
                    "timeInterval": f"{options.scrape_interval_seconds}s",
                },
            }
        ],
    }
    return dump_yaml(document, header=_HEADER)


def dashboard_provider(options: OpsOptions, *, path: str = DASHBOARDS_DIR) -> str:
    """``provisioning/dashboards/dashboards.yml``: a file provider reading ``path``.

    Example:
        >>> from trader_telemetry.ops import OpsOptions
        >>> "path: /var/lib/grafana/dashboards" in dashboard_provider(OpsOptions())
        True
    """
    document = {
        "apiVersion": 1,
        "providers": [
            {
                "name": f"trader_telemetry {options.namespace}",
                "orgId": 1,
                "folder": "Trading",
                "type": "file",
                "disableDeletion": False,
                # Provisioned means rendered: UI edits would be lost at the next render anyway.
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": path, "foldersFromFilesStructure": False},
            }
        ],
    }
    return dump_yaml(document, header=_HEADER)


def grafana_files(options: OpsOptions) -> dict[str, str]:
    """Relative path -> text of the dashboard and its provisioning files.

    Args:
        options: Namespace, job, thresholds and scrape interval of the bundle.

    Returns:
        ``grafana/dashboard.json`` (2-space JSON, key order kept, trailing newline),
        ``grafana/provisioning/datasources/prometheus.yml`` and
        ``grafana/provisioning/dashboards/dashboards.yml``.
    """
    return {
        DASHBOARD_FILE: json.dumps(dashboard(options), indent=2, sort_keys=False) + "\n",
        "grafana/provisioning/datasources/prometheus.yml": datasource_provisioning(options),
        "grafana/provisioning/dashboards/dashboards.yml": dashboard_provider(options),
    }
