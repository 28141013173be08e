"""Configuration: :class:`TelemetryConfig` and :class:`Thresholds`, validated at construction.

``Thresholds`` is the one source of the playbook's numbers: alert rules, dashboard
threshold lines, health checks and the report all read them from here.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .catalogue import CATALOGUE
from .clock import Clock, SystemClock
from .errors import ConfigurationError
from .thresholds_file import read_thresholds_file

__all__ = ["READERS", "ServerLimits", "TelemetryConfig", "Thresholds", "load_thresholds"]


# The choices of some fields live here, at the bottom of the import graph, so the configuration
# imports no recording code; two modules that use them re-export them under their old names
# (``otlp_metrics.OTLP_PROTOCOLS``, ``redaction.DEFAULT_REDACT_KEYS``).

#: Reader implementations selectable with ``TelemetryConfig.reader``; the first is the default.
READERS = ("native", "otel-prometheus")
#: The OTLP transports: protobuf over HTTP (port 4318, ``/v1/metrics``) or gRPC (port 4317).
OTLP_PROTOCOLS = ("http/protobuf", "grpc")
#: The key names redacted unless configured otherwise (``TelemetryConfig.redact_keys``).
DEFAULT_REDACT_KEYS: tuple[str, ...] = (
    "key",
    "secret",
    "token",
    "password",
    "passphrase",
    "private_key",
    "authorization",
    "cookie",
)

# Whole-string patterns (used with fullmatch: ``$`` would let a trailing newline through).
# A namespace starts with a letter: OTel refuses instrument names that start otherwise.
_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_PROFILE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
#: OTel refuses instrument names over 255 characters; ours are ``{namespace}_{catalogue name}``.
MAX_NAMESPACE_LENGTH = 255 - 1 - max(len(spec.name) for spec in CATALOGUE)
#: A profile is a directory name under the data dir (NAME_MAX is 255 bytes).
MAX_PROFILE_LENGTH = 255
_ENV_PREFIX = "TRADER_TELEMETRY_"


def _fail(owner: str, name: str, expectation: str, value: object) -> ConfigurationError:
    return ConfigurationError(f"{owner}.{name} must be {expectation}, got {value!r}")


def _clipped(value: object) -> object:
    """``value`` for an error message: a very long string is cut (its length is kept)."""
    if isinstance(value, str) and len(value) > 60:
        return f"{value[:40]}... ({len(value)} characters)"
    return value


def namespace_problem(namespace: object) -> str | None:
    """What a namespace must be, when ``namespace`` is not that; None when it is fine.

    Example:
        >>> namespace_problem("coinbase_trader") is None
        True
        >>> namespace_problem("_trader")
        'a Prometheus name that OTel accepts ([a-zA-Z][a-zA-Z0-9_]*)'
    """
    if not isinstance(namespace, str) or not _NAME_RE.fullmatch(namespace):
        return "a Prometheus name that OTel accepts ([a-zA-Z][a-zA-Z0-9_]*)"
    if len(namespace) > MAX_NAMESPACE_LENGTH:
        return (
            f"at most {MAX_NAMESPACE_LENGTH} characters (OTel's 255 for an instrument name, "
            "less the longest metric name)"
        )
    return None


def _positive(owner: str, name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise _fail(owner, name, "a finite number > 0", value)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The playbook's warning and critical levels, in base units (docs/configuration.md).

    Example:
        >>> t = Thresholds(expected_cycle_interval_seconds=2.0)
        >>> t.cycle_duration_warning_seconds, t.heartbeat_critical_seconds
        (3.0, 20.0)
    """

    cycle_duration_warning_seconds: float = 3.0
    cycle_duration_critical_seconds: float = 6.0
    #: The cycle-duration alerts fire when more than this share of the window's cycles is
    #: slower than the level (0.1: the 90th percentile is above it).
    cycle_duration_slow_share: float = 0.1
    cycle_duration_window_seconds: float = 300.0
    cycle_errors_warning: int = 1
    cycle_errors_critical: int = 3
    cycle_errors_window_seconds: float = 300.0
    daily_loss_warning_ratio: float = 0.8
    daily_loss_critical_ratio: float = 1.0
    staleness_warning_seconds: float = 10.0
    staleness_critical_seconds: float = 30.0
    account_age_warning_seconds: float = 900.0
    account_age_critical_seconds: float = 1800.0
    ws_reconnects_critical: int = 5
    ws_reconnects_window_seconds: float = 60.0
    ws_reconnects_hourly_warning: int = 10
    expected_cycle_interval_seconds: float = 5.0
    heartbeat_warning_factor: float = 3.0
    heartbeat_critical_factor: float = 10.0

    def __post_init__(self) -> None:
        for f in fields(self):
            _positive("Thresholds", f.name, getattr(self, f.name))
        if self.cycle_duration_slow_share >= 1:
            raise _fail(
                "Thresholds", "cycle_duration_slow_share", "a share below 1",
                self.cycle_duration_slow_share,
            )  # fmt: skip
        pairs = [
            ("cycle_duration_warning_seconds", "cycle_duration_critical_seconds"),
            ("cycle_errors_warning", "cycle_errors_critical"),
            ("daily_loss_warning_ratio", "daily_loss_critical_ratio"),
            ("staleness_warning_seconds", "staleness_critical_seconds"),
            ("account_age_warning_seconds", "account_age_critical_seconds"),
            ("heartbeat_warning_factor", "heartbeat_critical_factor"),
        ]
        for warn, crit in pairs:
            if getattr(self, warn) > getattr(self, crit):
                raise ConfigurationError(
                    f"Thresholds.{warn} ({getattr(self, warn)!r}) must not exceed "
                    f"Thresholds.{crit} ({getattr(self, crit)!r})"
                )

    @property
    def heartbeat_warning_seconds(self) -> float:
        """Loop heartbeat warning: this many seconds without a completed cycle."""
        return self.heartbeat_warning_factor * self.expected_cycle_interval_seconds

    @property
    def heartbeat_critical_seconds(self) -> float:
        """Loop heartbeat critical: this many seconds without a completed cycle."""
        return self.heartbeat_critical_factor * self.expected_cycle_interval_seconds


def load_thresholds(path: str | os.PathLike[str]) -> Thresholds:
    """Read a :class:`Thresholds` from a TOML or JSON file of ``field = value`` pairs.

    The same file serves the bot (``TRADER_TELEMETRY_THRESHOLDS``), ``ops render --thresholds``
    and ``report daily --thresholds``. Fields left out keep their defaults.

    Args:
        path: A ``.json`` file, or TOML (the pairs at the top level or under ``[thresholds]``).

    Returns:
        The validated thresholds.

    Raises:
        ConfigurationError: The file is unreadable or invalid, names an unknown field, or
            holds a bad value (the message names the file).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp(), "thresholds.json")
        >>> _ = path.write_text('{"expected_cycle_interval_seconds": 1}')
        >>> load_thresholds(path).heartbeat_warning_seconds
        3.0
    """
    values = read_thresholds_file(path, [f.name for f in fields(Thresholds)])
    try:
        return Thresholds(**values)
    except ConfigurationError as exc:
        raise ConfigurationError(f"thresholds file {os.fspath(path)}: {exc}") from None
    except OverflowError:  # an integer too large for a float
        raise ConfigurationError(
            f"thresholds file {os.fspath(path)}: a value is too large to be a number"
        ) from None


def _thresholds_from_env(path: str | None, interval: str | None) -> Thresholds | None:
    """``TRADER_TELEMETRY_THRESHOLDS`` (a file), then ``_EXPECTED_CYCLE_INTERVAL_SECONDS``."""
    if path is None and interval is None:
        return None
    thresholds = Thresholds() if path is None else load_thresholds(path)
    if interval is None:
        return thresholds
    try:
        seconds = float(interval)
    except ValueError:
        raise ConfigurationError(
            f"environment variable {_ENV_PREFIX}EXPECTED_CYCLE_INTERVAL_SECONDS must be a "
            f"float, got {interval!r}"
        ) from None
    return replace(thresholds, expected_cycle_interval_seconds=seconds)


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """How much the metrics endpoint accepts from one client (docs/security.md).

    Args:
        read_timeout_seconds: A connection must deliver its whole request head (and finish the
            TLS handshake) within this many seconds, or it is closed: a slow-loris client cannot
            pin a thread. Also the idle limit of a kept-alive connection and each write's limit.
        max_connections: Connections served at once; the next one is answered 503 and closed
            (plain HTTP) or just closed (TLS).
        max_connections_per_client: Connections one client address may hold at once (of
            ``max_connections``); the next one from it is refused the same way, so idle sockets
            from one address cannot keep Prometheus out.
        max_request_line_bytes: Longest request line (``GET /metrics HTTP/1.1``); longer: 414.
        max_header_bytes: All header lines together; more: 431.
        max_headers: Header lines; more: 431.

    Example:
        >>> ServerLimits(read_timeout_seconds=2.0).max_connections
        128
    """

    read_timeout_seconds: float = 10.0
    max_connections: int = 128
    max_connections_per_client: int = 32
    max_request_line_bytes: int = 8192
    max_header_bytes: int = 16384
    max_headers: int = 64

    def __post_init__(self) -> None:
        _positive("ServerLimits", "read_timeout_seconds", self.read_timeout_seconds)
        for name in (
            "max_connections",
            "max_connections_per_client",
            "max_request_line_bytes",
            "max_header_bytes",
            "max_headers",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _fail("ServerLimits", name, "an integer >= 1", value)


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    """Everything :func:`trader_telemetry.configure` needs, validated when built.

    Args:
        namespace: Metric name prefix (``coinbase_trader`` reproduces the playbook's names).
        host: Address the metrics endpoint binds; loopback unless you say otherwise.
        port: TCP port of the endpoint; ``0`` picks a free one (see ``Telemetry.metrics_url``).
        serve: Start the HTTP endpoint. Off when another server renders the metrics.
        profile: Deployment profile (``dev``, ``canary``, ``prod`` ...), shown in ``/metrics.json``.
        thresholds: The warning/critical levels shared by alerts, dashboard and health checks.
        max_label_values: Distinct values kept per label before new ones fold into ``__overflow__``.
        clock: Time source; tests pass a :class:`~trader_telemetry.ManualClock`.
        target_info: Export OTel's ``target_info`` metric (off: names are exactly the catalogue's).
        scope_labels: Add ``otel_scope_*`` labels to every series (off by default, same reason).
        reader: Prometheus reader: ``native`` (ours, default) or ``otel-prometheus`` (upstream).
        warning_interval_seconds: At most one warning per kind of bad input in this window.
        health_cache_seconds: ``/health`` and ``{ns}_health_status`` reuse a report this long
            (0 runs the checks on every request).
        health_check_timeout_seconds: Each health check's own timeout.
        health_startup_grace_seconds: While the process is younger, an overall UNKNOWN answers
            HTTP 200 instead of 503; default: the heartbeat's critical threshold.
        data_dir: Write ``events.jsonl`` and ``metrics.json`` here (``var/data/{namespace}/
            {profile}`` is the usual place; ``~`` is expanded); None writes no files. A path
            that is a regular file is a ``ConfigurationError``.
        events_queue_size: Events waiting for the writer thread before new ones are dropped.
        events_rotate_daily: ``events-YYYY-MM-DD.jsonl`` per UTC day instead of one file.
        events_max_bytes: Past this size the events file moves to ``.1``; None: no cap.
        metrics_file_interval_seconds: How often ``metrics.json`` is rewritten.
        web_config: Path of a Prometheus exporter-toolkit web config file (TLS, basic auth;
            see docs/security.md); None serves plain HTTP without authentication.
        health_without_auth: Leave ``/health`` open (no basic auth) for probes that cannot
            send credentials; every other route still asks for them.
        redact_keys: Key names whose values never reach labels, events or logs (see
            :mod:`trader_telemetry.redaction`); empty turns redaction off.
        server_limits: Request size, header count, read timeout and connection cap of the
            endpoint.
        otlp_metrics: Also push every metric over OTLP to a collector, from a background
            thread (see docs/otlp-metrics.md; needs the ``otlp`` extra).
        otlp_metrics_endpoint: Full OTLP endpoint (HTTP: ending in ``/v1/metrics``); default
            from ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``.
        otlp_metrics_protocol: ``http/protobuf`` or ``grpc``; default from
            ``OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL``, else HTTP.
        otlp_metrics_interval_seconds: Seconds between pushes; default from
            ``OTEL_METRIC_EXPORT_INTERVAL`` (milliseconds), else 60.
        otlp_metrics_exponential_histograms: Push the histograms (cycle duration, phase
            duration, order latency) as OTLP exponential histograms, which Prometheus 3's OTLP
            receiver stores as native histograms; ``/metrics`` keeps the explicit buckets.
        handle_sigterm: On SIGTERM, flush the queued events and write the last
            ``metrics.json`` before the process dies of it (see docs/health.md); only installed
            when the bot has no SIGTERM handler of its own, and never replaces one.

    Example:
        >>> cfg = TelemetryConfig(namespace="coinbase_trader", port=0)
        >>> cfg.host
        '127.0.0.1'
    """

    namespace: str = "trader"
    host: str = "127.0.0.1"
    port: int = 9000
    serve: bool = True
    profile: str = "default"
    thresholds: Thresholds = field(default_factory=Thresholds)
    max_label_values: int = 200
    clock: Clock = field(default_factory=SystemClock, compare=False)
    target_info: bool = False
    scope_labels: bool = False
    reader: str = "native"
    warning_interval_seconds: float = 60.0
    health_cache_seconds: float = 1.0
    health_check_timeout_seconds: float = 5.0
    health_startup_grace_seconds: float | None = None
    data_dir: str | os.PathLike[str] | None = None
    events_queue_size: int = 10_000
    events_rotate_daily: bool = False
    events_max_bytes: int | None = None
    metrics_file_interval_seconds: float = 10.0
    web_config: str | os.PathLike[str] | None = None
    health_without_auth: bool = False
    redact_keys: tuple[str, ...] = DEFAULT_REDACT_KEYS
    server_limits: ServerLimits = field(default_factory=ServerLimits)
    otlp_metrics: bool = False
    otlp_metrics_endpoint: str | None = None
    otlp_metrics_protocol: str | None = None
    otlp_metrics_interval_seconds: float | None = None
    otlp_metrics_exponential_histograms: bool = False
    handle_sigterm: bool = True

    def __post_init__(self) -> None:
        owner = "TelemetryConfig"
        if (problem := namespace_problem(self.namespace)) is not None:
            raise _fail(owner, "namespace", problem, _clipped(self.namespace))
        if (
            not isinstance(self.host, str)
            or not self.host.strip()
            or any(c.isspace() for c in self.host)
        ):
            raise _fail(owner, "host", "a host name or IP address", self.host)
        if (
            isinstance(self.port, bool)
            or not isinstance(self.port, int)
            or not 0 <= self.port <= 65535
        ):
            raise _fail(owner, "port", "an integer in 0..65535", self.port)
        if not isinstance(self.serve, bool):
            raise _fail(owner, "serve", "a bool", self.serve)
        if (
            not isinstance(self.profile, str)
            or not _PROFILE_RE.fullmatch(self.profile)
            or len(self.profile) > MAX_PROFILE_LENGTH
        ):
            raise _fail(
                owner,
                "profile",
                f"a name of letters, digits, '_', '.', '-' (at most {MAX_PROFILE_LENGTH})",
                _clipped(self.profile),
            )
        if not isinstance(self.thresholds, Thresholds):
            raise _fail(owner, "thresholds", "a Thresholds instance", self.thresholds)
        if (
            isinstance(self.max_label_values, bool)
            or not isinstance(self.max_label_values, int)
            or self.max_label_values < 1
        ):
            raise _fail(owner, "max_label_values", "an integer >= 1", self.max_label_values)
        if not isinstance(self.clock, Clock):
            raise _fail(owner, "clock", "an object with monotonic() and time()", self.clock)
        for name in ("target_info", "scope_labels"):
            if not isinstance(getattr(self, name), bool):
                raise _fail(owner, name, "a bool", getattr(self, name))
        if self.reader not in READERS:
            raise _fail(owner, "reader", f"one of {', '.join(READERS)}", self.reader)
        _positive(owner, "warning_interval_seconds", self.warning_interval_seconds)
        self._check_health_fields(owner)
        self._check_file_fields(owner)
        self._check_security_fields(owner)
        self._check_otlp_fields(owner)

    def _check_otlp_fields(self, owner: str) -> None:
        if not isinstance(self.otlp_metrics, bool):
            raise _fail(owner, "otlp_metrics", "a bool", self.otlp_metrics)
        endpoint = self.otlp_metrics_endpoint
        if endpoint is not None and (not isinstance(endpoint, str) or not endpoint.strip()):
            raise _fail(owner, "otlp_metrics_endpoint", "a URL or None", endpoint)
        protocol = self.otlp_metrics_protocol
        if protocol is not None and protocol not in OTLP_PROTOCOLS:
            expected = f"one of {', '.join(OTLP_PROTOCOLS)} or None"
            raise _fail(owner, "otlp_metrics_protocol", expected, protocol)
        if self.otlp_metrics_interval_seconds is not None:
            _positive(owner, "otlp_metrics_interval_seconds", self.otlp_metrics_interval_seconds)
        exponential = self.otlp_metrics_exponential_histograms
        if not isinstance(exponential, bool):
            raise _fail(owner, "otlp_metrics_exponential_histograms", "a bool", exponential)

    def _check_security_fields(self, owner: str) -> None:
        web: object = self.web_config  # checked as object: callers may pass anything
        if isinstance(web, os.PathLike):
            object.__setattr__(self, "web_config", os.fspath(web))
        elif web is not None and (not isinstance(web, str) or not web.strip()):
            raise _fail(owner, "web_config", "a file path or None", web)
        if not isinstance(self.handle_sigterm, bool):
            raise _fail(owner, "handle_sigterm", "a bool", self.handle_sigterm)
        if not isinstance(self.health_without_auth, bool):
            raise _fail(owner, "health_without_auth", "a bool", self.health_without_auth)
        keys: object = self.redact_keys
        if isinstance(keys, list):
            object.__setattr__(self, "redact_keys", keys := tuple(keys))
        if not isinstance(keys, tuple) or not all(isinstance(k, str) and k.strip() for k in keys):
            raise _fail(owner, "redact_keys", "a tuple of non-empty key names", keys)
        if not isinstance(self.server_limits, ServerLimits):
            raise _fail(owner, "server_limits", "a ServerLimits instance", self.server_limits)

    def _check_file_fields(self, owner: str) -> None:
        if isinstance(self.data_dir, os.PathLike):  # a pathlib.Path is as good as its str
            object.__setattr__(self, "data_dir", os.fspath(self.data_dir))
        if self.data_dir is not None and (not isinstance(self.data_dir, str) or not self.data_dir):
            raise _fail(owner, "data_dir", "a directory path or None", self.data_dir)
        if self.data_dir is not None:
            # "~/bot-data" means the home directory, as a shell would read it.
            object.__setattr__(self, "data_dir", os.path.expanduser(self.data_dir))
            if os.path.isfile(self.data_dir):
                raise _fail(
                    owner, "data_dir", "a directory path (it is a regular file)", self.data_dir
                )
        for name in ("events_queue_size", "events_max_bytes"):
            value = getattr(self, name)
            if value is None and name == "events_max_bytes":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _fail(owner, name, "an integer >= 1", value)
        if not isinstance(self.events_rotate_daily, bool):
            raise _fail(owner, "events_rotate_daily", "a bool", self.events_rotate_daily)
        _positive(owner, "metrics_file_interval_seconds", self.metrics_file_interval_seconds)

    def _check_health_fields(self, owner: str) -> None:
        _positive(owner, "health_check_timeout_seconds", self.health_check_timeout_seconds)
        if self.health_cache_seconds != 0:
            _positive(owner, "health_cache_seconds", self.health_cache_seconds)
        if self.health_startup_grace_seconds is not None:
            _positive(owner, "health_startup_grace_seconds", self.health_startup_grace_seconds)

    def with_changes(self, **changes: Any) -> TelemetryConfig:
        """A validated copy with some fields replaced."""
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> TelemetryConfig:
        """Build a config from ``TRADER_TELEMETRY_*`` variables; keyword arguments win.

        ``TRADER_TELEMETRY_HOST``/``_PORT`` fall back to OTel's
        ``OTEL_EXPORTER_PROMETHEUS_HOST``/``_PORT``. A malformed variable is a
        :class:`~trader_telemetry.ConfigurationError` naming it.

        Example:
            >>> TelemetryConfig.from_env({"TRADER_TELEMETRY_PORT": "0"}).port
            0
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}

        def text(name: str, *fallbacks: str) -> str | None:
            for var in (_ENV_PREFIX + name.upper(), *fallbacks):
                raw = env.get(var)
                if raw is not None and raw.strip():
                    return raw.strip()
            return None

        def convert(name: str, raw: str, kind: type) -> Any:
            var = _ENV_PREFIX + name.upper()
            if kind is bool:
                lowered = raw.lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
            else:
                try:
                    return kind(raw)
                except ValueError:
                    pass
            raise ConfigurationError(
                f"environment variable {var} must be a {kind.__name__}, got {raw!r}"
            )

        for name in ("namespace", "profile", "reader", "data_dir", "web_config"):
            if (raw := text(name)) is not None:
                values[name] = raw
        if (raw := text("host", "OTEL_EXPORTER_PROMETHEUS_HOST")) is not None:
            values["host"] = raw
        if (raw := text("port", "OTEL_EXPORTER_PROMETHEUS_PORT")) is not None:
            values["port"] = convert("port", raw, int)
        if (raw := text("max_label_values")) is not None:
            values["max_label_values"] = convert("max_label_values", raw, int)
        for name in (
            "serve",
            "target_info",
            "scope_labels",
            "health_without_auth",
            "otlp_metrics",
            "otlp_metrics_exponential_histograms",
            "handle_sigterm",
        ):
            if (raw := text(name)) is not None:
                values[name] = convert(name, raw, bool)
        if (
            thresholds := _thresholds_from_env(
                text("thresholds"), text("expected_cycle_interval_seconds")
            )
        ) is not None:
            values["thresholds"] = thresholds
        if (raw := text("redact_keys")) is not None:
            values["redact_keys"] = tuple(k.strip() for k in raw.split(",") if k.strip())
        limits: dict[str, Any] = {}
        for field_name, kind in (
            ("read_timeout_seconds", float),
            ("max_connections", int),
            ("max_connections_per_client", int),
        ):
            if (raw := text("http_" + field_name)) is not None:
                limits[field_name] = convert("http_" + field_name, raw, kind)
        if limits:
            values["server_limits"] = ServerLimits(**limits)
        values.update(overrides)
        return cls(**values)
