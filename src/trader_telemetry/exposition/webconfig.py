"""The Prometheus exporter-toolkit web config file (``--web.config.file``), read and checked.

Operators already protect exporters with this file; the endpoint accepts the same one::

    tls_server_config:
      cert_file: server.crt          # relative paths resolve against this file's directory
      key_file: server.key
      min_version: TLS12
      client_auth_type: RequireAndVerifyClientCert   # mTLS
      client_ca_file: clients-ca.crt
    basic_auth_users:
      prometheus: $2y$10$...         # a bcrypt hash

A file that cannot be used is a :class:`~trader_telemetry.ConfigurationError` at start that
names the file and the field. docs/security.md lists what is accepted and what is refused.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .auth import BasicAuth

__all__ = ["TLSServerConfig", "WebConfig", "exposure_warning", "is_loopback", "load_web_config"]

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# client_auth_type -> verify mode. Go's RequestClientCert and RequireAnyClientCert accept a
# certificate without verifying it; Python's ssl cannot, so those are refused, not weakened.
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Go (IANA) cipher suite names -> OpenSSL names. TLS 1.3 suites are not configurable (in Go
# either): they are accepted and always on.
_CIPHERS = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": "",
    "TLS_AES_256_GCM_SHA384": "",
    "TLS_CHACHA20_POLY1305_SHA256": "",
}
# The response headers the exporter-toolkit lets http_server_config.headers set.
_HEADERS = {
    name.lower(): name
    for name in (
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "X-XSS-Protection",
        "Content-Security-Policy",
    )
}
# RFC 9110 5.5 field-value: visible ASCII, obs-text (0x80-0xFF), space and tab.
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_TLS_FIELDS = {
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "client_allowed_sans",
    "min_version",
    "max_version",
    "cipher_suites",
    "prefer_server_cipher_suites",
}
_REFUSED_TLS_FIELDS = {
    "cert": "inline certificates are not supported: use cert_file",
    "key": "inline keys are not supported: use key_file",
    "client_ca": "an inline client CA is not supported: use client_ca_file",
    "curve_preferences": "Python's ssl cannot set a curve preference list: remove it",
}


@dataclass(frozen=True, slots=True)
class TLSServerConfig:
    """``tls_server_config``: paths are absolute (resolved against the file's directory)."""

    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    client_allowed_sans: tuple[str, ...] = ()
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True

    def ssl_context(self, where: str = "tls_server_config") -> ssl.SSLContext:
        """A server :class:`ssl.SSLContext`; files are read now, so a bad one fails here."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = _TLS_VERSIONS[self.min_version]
        context.maximum_version = _TLS_VERSIONS[self.max_version]
        context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
        if self.prefer_server_cipher_suites:
            context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
        context.set_alpn_protocols(["http/1.1"])  # no HTTP/2 here: say so in the handshake
        names = [_CIPHERS[c] for c in self.cipher_suites if _CIPHERS[c]]
        if names:
            try:
                context.set_ciphers(":".join(names))
            except ssl.SSLError as exc:
                raise ConfigurationError(
                    f"{where}.cipher_suites: OpenSSL accepts none of {list(self.cipher_suites)}"
                ) from exc
        _readable(f"{where}.cert_file", self.cert_file)
        _readable(f"{where}.key_file", self.key_file)
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(str(self.cert_file))
        except ssl.SSLError as exc:
            raise ConfigurationError(
                f"{where}.cert_file: {self.cert_file} holds no PEM certificate ({exc.reason})"
            ) from exc
        try:
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
        except ssl.SSLError as exc:
            raise ConfigurationError(
                f"{where}.key_file: {self.key_file} is not the private key of "
                f"{self.cert_file} or not a PEM key ({exc.reason})"
            ) from exc
        context.verify_mode = _CLIENT_AUTH[self.client_auth_type]
        if self.client_ca_file is not None:
            _readable(f"{where}.client_ca_file", self.client_ca_file)
            try:
                context.load_verify_locations(cafile=str(self.client_ca_file))
            except ssl.SSLError as exc:
                raise ConfigurationError(
                    f"{where}.client_ca_file: {self.client_ca_file} holds no PEM "
                    f"certificate ({exc.reason})"
                ) from exc
        return context


@dataclass(frozen=True, slots=True)
class WebConfig:
    """A checked web config: what the server needs to serve TLS and ask for credentials.

    Build it with :func:`load_web_config`; ``WebConfig()`` is "no TLS, no auth".
    """

    path: Path | None = None
    tls: TLSServerConfig | None = None
    basic_auth_users: Mapping[str, str] = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = ()
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False, repr=False)
    auth: BasicAuth | None = field(default=None, compare=False, repr=False)

    @property
    def scheme(self) -> str:
        """``https`` with TLS, else ``http``."""
        return "http" if self.tls is None else "https"


def load_web_config(path: str | os.PathLike[str]) -> WebConfig:
    """Read, check and prepare a web config file (TLS context loaded, bcrypt ready).

    Raises:
        ConfigurationError: the file is unreadable, not YAML, has an unknown or bad field, a
            certificate or key cannot be loaded, or basic auth needs bcrypt and it is missing.
            The message names the file and the field.

    Example:
        >>> import tempfile, pathlib
        >>> empty = pathlib.Path(tempfile.mkdtemp()) / "web.yml"
        >>> _ = empty.write_text("# nothing: plain HTTP, no auth\\n")
        >>> load_web_config(empty).scheme
        'http'
    """
    source = Path(os.path.abspath(Path(path).expanduser()))  # abspath also folds ".."
    try:
        # Optional (the auth extra); imported by name so that no stubs are needed.
        yaml = importlib.import_module("yaml")
    except ImportError as exc:
        raise ConfigurationError(
            f"web config {source}: reading it needs PyYAML: pip install 'trader_telemetry[auth]'"
        ) from exc
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"web config {source}: cannot read it ({exc})") from exc
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        document = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"web config {source}: not valid YAML ({exc})") from exc
    finally:
        loader.dispose()
    try:
        return _parse(document, source, _literal_users(node, yaml))
    except ConfigurationError as exc:
        raise ConfigurationError(f"web config {source}: {exc}") from exc.__cause__


def _literal_users(root: Any, yaml: Any) -> dict[str, Any] | None:
    """``basic_auth_users`` with each user name exactly as written in the file.

    PyYAML reads YAML 1.1, where ``yes``, ``no``, ``on``, ``off`` are booleans and ``017`` is
    an octal number: a user called ``yes`` would become ``True`` (and clash with ``on``). The
    exporter-toolkit (Go, YAML 1.2, a map of strings) takes the name as written; so do we.
    None when the section is absent or not a mapping (``_parse`` reports that).
    """
    if not isinstance(root, yaml.MappingNode):
        return None
    section = next(
        (value for key, value in root.value if getattr(key, "value", None) == "basic_auth_users"),
        None,
    )
    if not isinstance(section, yaml.MappingNode):
        return None
    users: dict[str, Any] = {}
    for key, value in section.value:
        if not isinstance(key, yaml.ScalarNode):
            raise ConfigurationError("basic_auth_users: a user name must be a plain string")
        if key.value in users:
            raise ConfigurationError(f"basic_auth_users: user {key.value!r} appears twice")
        # A hash is a plain scalar; anything else keeps its node type for the error message.
        users[key.value] = value.value if isinstance(value, yaml.ScalarNode) else value
    return users


def _parse(document: Any, source: Path, literal_users: dict[str, Any] | None = None) -> WebConfig:
    if document is None:
        return WebConfig(path=source)
    top = _mapping("(top level)", document)
    _known("", top, {"tls_server_config", "http_server_config", "basic_auth_users"})
    tls = _tls(top.get("tls_server_config"), source.parent)
    headers = _http(top.get("http_server_config"))
    users = _mapping("basic_auth_users", top.get("basic_auth_users") or {})
    if literal_users is not None:
        users = literal_users
    auth = (
        BasicAuth({str(k) if k is not None else "": v for k, v in users.items()}) if users else None
    )
    return WebConfig(
        path=source,
        tls=tls,
        basic_auth_users=dict(users),
        headers=headers,
        ssl_context=None if tls is None else tls.ssl_context(),
        auth=auth,
    )


def _tls(raw: Any, base: Path) -> TLSServerConfig | None:
    where = "tls_server_config"
    section = _mapping(where, raw or {})
    for name, reason in _REFUSED_TLS_FIELDS.items():
        if section.get(name):
            raise ConfigurationError(f"{where}.{name}: {reason}")
    _known(where, {k: v for k, v in section.items() if k not in _REFUSED_TLS_FIELDS}, _TLS_FIELDS)
    if not any(section.get(name) for name in _TLS_FIELDS):
        return None  # as the exporter-toolkit: an empty section means no TLS
    cert, key = _path(section, "cert_file", base), _path(section, "key_file", base)
    if cert is None or key is None:
        missing = "cert_file" if cert is None else "key_file"
        raise ConfigurationError(f"{where}.{missing} is required when TLS is configured")
    client_auth = _choice(section, "client_auth_type", list(_CLIENT_AUTH), "NoClientCert")
    client_ca = _path(section, "client_ca_file", base)
    if client_ca is not None and client_auth == "NoClientCert":
        raise ConfigurationError(
            f"{where}.client_ca_file is set but client_auth_type is NoClientCert: set "
            "client_auth_type to RequireAndVerifyClientCert (or VerifyClientCertIfGiven)"
        )
    if client_ca is None and client_auth != "NoClientCert":
        raise ConfigurationError(f"{where}.client_ca_file is required by {client_auth}")
    low = _choice(section, "min_version", list(_TLS_VERSIONS), "TLS12")
    high = _choice(section, "max_version", list(_TLS_VERSIONS), "TLS13")
    if _TLS_VERSIONS[low] > _TLS_VERSIONS[high]:
        raise ConfigurationError(f"{where}.min_version {low} is above max_version {high}")
    ciphers = _strings(section, "cipher_suites")
    for cipher in ciphers:
        if cipher not in _CIPHERS:
            raise ConfigurationError(
                f"{where}.cipher_suites: unknown or insecure suite {cipher!r} "
                f"(known: {', '.join(sorted(_CIPHERS))})"
            )
    prefer = section.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer, bool):
        raise ConfigurationError(f"{where}.prefer_server_cipher_suites must be true or false")
    return TLSServerConfig(
        cert_file=cert,
        key_file=key,
        client_auth_type=client_auth,
        client_ca_file=client_ca,
        client_allowed_sans=_strings(section, "client_allowed_sans"),
        min_version=low,
        max_version=high,
        cipher_suites=ciphers,
        prefer_server_cipher_suites=prefer,
    )


def _http(raw: Any) -> tuple[tuple[str, str], ...]:
    where = "http_server_config"
    section = _mapping(where, raw or {})
    _known(where, section, {"http2", "headers"})
    if not isinstance(section.get("http2", True), bool):
        raise ConfigurationError(f"{where}.http2 must be true or false")
    headers = []
    for name, value in _mapping(f"{where}.headers", section.get("headers") or {}).items():
        canonical = _HEADERS.get(str(name).lower())
        if canonical is None:
            raise ConfigurationError(
                f"{where}.headers.{name}: not allowed (allowed: {', '.join(_HEADERS.values())})"
            )
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise ConfigurationError(f"{where}.headers.{name} must be a one-line string")
        if not _FIELD_VALUE.fullmatch(value):
            # HTTP carries header values as Latin-1 bytes, without control characters: a value
            # outside that would fail every response (a 500 on each scrape), so refuse it now.
            raise ConfigurationError(
                f"{where}.headers.{name}: {value!r} has characters an HTTP header cannot carry "
                "(only printable Latin-1: write non-ASCII text percent-encoded)"
            )
        headers.append((canonical, value))
    return tuple(headers)


def _mapping(where: str, value: Any) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _known(where: str, section: Mapping[Any, Any], allowed: set[str]) -> None:
    for name in section:
        if name not in allowed:
            place = f"{where}.{name}" if where else str(name)
            raise ConfigurationError(
                f"{place}: unknown field (known here: {', '.join(sorted(allowed))})"
            )


def _choice(section: Mapping[Any, Any], name: str, allowed: list[str], default: str) -> str:
    value = section.get(name) or default
    if value not in allowed:
        raise ConfigurationError(
            f"tls_server_config.{name} must be one of {', '.join(allowed)}, got {value!r}"
        )
    return str(value)


def _path(section: Mapping[Any, Any], name: str, base: Path) -> Path | None:
    value = section.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"tls_server_config.{name} must be a file path, got {value!r}")
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _strings(section: Mapping[Any, Any], name: str) -> tuple[str, ...]:
    value = section.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigurationError(f"tls_server_config.{name} must be a list of strings")
    return tuple(value)


def _readable(where: str, path: Path) -> None:
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigurationError(f"{where}: cannot read {path} ({exc.strerror or exc})") from exc


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine: ``localhost``, anything
    in 127.0.0.0/8, ``::1`` (and IPv4-mapped loopback). Other names count as exposed.

    Example:
        >>> is_loopback("127.0.0.2"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def exposure_warning(host: str, web_config: WebConfig | None) -> str | None:
    """The warning to log when ``host`` is reachable from other machines without TLS or
    without authentication; None when bound to loopback or fully protected.

    Example:
        >>> exposure_warning("127.0.0.1", None) is None
        True
        >>> print(exposure_warning("0.0.0.0", None))  # doctest: +ELLIPSIS
        metrics endpoint bound to 0.0.0.0 without TLS and without authentication: ...
    """
    if is_loopback(host):
        return None
    missing = []
    if web_config is None or web_config.tls is None:
        missing.append("without TLS")
    if web_config is None or web_config.auth is None:
        missing.append("without authentication")
    if not missing:
        return None
    return (
        f"metrics endpoint bound to {host} {' and '.join(missing)}: anyone who can reach it "
        "can read positions and PnL; set web_config (TLS and basic_auth_users), see "
        "docs/security.md"
    )
