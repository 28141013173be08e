"""What an ``ops render`` is for: namespace, job, targets and thresholds."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# load_thresholds lives in the config layer (one loader for the bot, ops and the report);
# re-exported here for the callers that import it from ops.
from ..config import Thresholds, load_thresholds, namespace_problem
from ..errors import ConfigurationError

__all__ = ["DEFAULT_RUNBOOK_BASE", "MODES", "OpsOptions", "load_thresholds"]

_JOB_RE = re.compile(r"[a-zA-Z0-9_.:-]+")  # fullmatch: "$" lets a newline end it
_TARGET_RE = re.compile(r"[^\s/]+:[0-9]{1,5}")
_URL_RE = re.compile(r"https?://[^\s/]+(/\S*)?")  # fullmatch
#: ``server``: one Prometheus scrapes every target; ``agent``: a Prometheus agent per fleet host
#: remote-writes to a central receiver (see :mod:`trader_telemetry.ops.agent`).
MODES = ("server", "agent")

#: Where rendered ``runbook_url`` annotations point; a section anchor is appended.
DEFAULT_RUNBOOK_BASE = (
    "https://github.com/trader-telemetry/trader_telemetry/blob/main/docs/runbooks.md"
)


@dataclass(frozen=True, slots=True)
class OpsOptions:
    """Inputs of every rendered artefact.

    Attributes:
        namespace: Metric prefix the bot exports with (``TelemetryConfig.namespace``).
        job: Prometheus job name; the scrape config and the "bot down" rule use the same one.
        targets: Static ``host:port`` targets. Empty with ``targets_file`` unset means the bot on
            the Docker host, ``host.docker.internal:9000``, as the compose bundle expects.
        targets_file: A ``file_sd_configs`` file path (as Prometheus will see it) for fleets;
            used instead of static targets when set.
        thresholds: The warning and critical levels (docs/configuration.md).
        alertmanager: ``host:port`` of Alertmanager for the scrape config's ``alerting`` block,
            or None for no alerting block.
        runbook_base: URL of docs/runbooks.md; rules link to ``{runbook_base}#{anchor}``.
        scrape_interval_seconds: Scrape (and rule evaluation) interval.
        scheme: ``http``, or ``https`` for a bot serving TLS (``web_config``).
        ca_file: The CA that signed the bot's certificate, as Prometheus sees the path
            (``tls_config.ca_file``; implies https).
        client_cert_file: A client certificate for mTLS (with ``client_key_file``).
        client_key_file: Its key.
        basic_auth_user: The user of the bot's ``basic_auth_users`` (with
            ``basic_auth_password_file``: the password never goes into a rendered file).
        basic_auth_password_file: A file holding that user's password, as Prometheus sees it.
        mode: ``server`` (one Prometheus scrapes the targets) or ``agent`` (an agent config per
            fleet host, remote-writing to ``remote_write_url``, and the central receiver's).
        remote_write_url: The central receiver's remote-write URL (agent mode only), e.g.
            ``http://central:9090/api/v1/write``.

    Example:
        >>> OpsOptions(namespace="coinbase_trader").job
        'coinbase_trader'
    """

    namespace: str = "trader"
    job: str = ""
    targets: tuple[str, ...] = ()
    targets_file: str | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    alertmanager: str | None = "alertmanager:9093"
    runbook_base: str = DEFAULT_RUNBOOK_BASE
    scrape_interval_seconds: int = 5
    scheme: str = "http"
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    basic_auth_user: str | None = None
    basic_auth_password_file: str | None = None
    mode: str = "server"
    remote_write_url: str | None = None

    def __post_init__(self) -> None:
        if (problem := namespace_problem(self.namespace)) is not None:
            raise ConfigurationError(
                f"OpsOptions.namespace must be {problem}, got {self.namespace!r}"
            )
        if not self.job:
            object.__setattr__(self, "job", self.namespace)
        if not _JOB_RE.fullmatch(self.job):
            raise ConfigurationError(
                f"OpsOptions.job has characters a job name cannot have, got {self.job!r}"
            )
        for target in self.targets:
            if not _TARGET_RE.fullmatch(target):
                raise ConfigurationError(f"OpsOptions.targets: expected host:port, got {target!r}")
        if self.targets and self.targets_file:
            raise ConfigurationError("OpsOptions: give targets or targets_file, not both")
        self._check_security()
        self._check_mode()
        if self.scrape_interval_seconds < 1:
            raise ConfigurationError(
                "OpsOptions.scrape_interval_seconds must be >= 1, "
                f"got {self.scrape_interval_seconds!r}"
            )

    def _check_security(self) -> None:
        if self.scheme not in {"http", "https"}:
            raise ConfigurationError(
                f"OpsOptions.scheme must be http or https, got {self.scheme!r}"
            )
        tls = (self.ca_file, self.client_cert_file, self.client_key_file)
        if any(tls) and self.scheme != "https":
            raise ConfigurationError("OpsOptions: ca_file and client certificates need https")
        if bool(self.client_cert_file) != bool(self.client_key_file):
            raise ConfigurationError("OpsOptions: client_cert_file and client_key_file go together")
        if bool(self.basic_auth_user) != bool(self.basic_auth_password_file):
            raise ConfigurationError(
                "OpsOptions: basic_auth_user and basic_auth_password_file go together"
            )

    def _check_mode(self) -> None:
        if self.mode not in MODES:
            raise ConfigurationError(
                f"OpsOptions.mode must be one of {', '.join(MODES)}, got {self.mode!r}"
            )
        url = self.remote_write_url
        if self.mode == "agent" and url is None:
            raise ConfigurationError("OpsOptions: mode agent needs remote_write_url")
        if self.mode != "agent" and url is not None:
            raise ConfigurationError("OpsOptions: remote_write_url is for mode agent")
        if url is not None and not _URL_RE.fullmatch(url):
            raise ConfigurationError(
                f"OpsOptions.remote_write_url must be an http(s) URL, got {url!r}"
            )

    @property
    def static_targets(self) -> tuple[str, ...]:
        """The static targets to scrape (the compose default when none were given)."""
        if self.targets_file:
            return ()
        return self.targets or ("host.docker.internal:9000",)

    def metric(self, name: str) -> str:
        """The exposition name of catalogue row ``name`` in this namespace."""
        return f"{self.namespace}_{name}"

    def runbook(self, anchor: str) -> str:
        """The runbook URL of one section."""
        return f"{self.runbook_base}#{anchor}"
