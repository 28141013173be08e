"""Operator artefacts rendered from the catalogue and :class:`~trader_telemetry.Thresholds`.

``trader-telemetry ops render --out DIR`` writes the scrape config, alert rules and their promtool
tests, the Grafana dashboard with its provisioning, the Alertmanager config and a compose bundle.
Every file is a pure function of :class:`OpsOptions`, so the same options always give the same
bytes (the committed ``deploy/`` trees are checked against a fresh render).
"""

from __future__ import annotations

from .options import OpsOptions

# The thresholds loader is the config layer's (``trader_telemetry.config.load_thresholds``).
__all__ = ["OpsOptions"]
