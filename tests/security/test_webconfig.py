"""The web config file: what is accepted, and a clear error naming the field for the rest."""

from __future__ import annotations

import logging
import os
import socket
import ssl
from pathlib import Path

import pytest

import trader_telemetry as tt
from trader_telemetry.exposition import MetricsServer
from trader_telemetry.exposition.webconfig import (
    WebConfig,
    exposure_warning,
    is_loopback,
    load_web_config,
)

from .conftest import tls_section, users_section, write_web_config
from .pki import Pki


def test_a_full_file_is_loaded(tmp_path: Path, pki: Pki, password_hash: str) -> None:
    text = tls_section(
        pki,
        min_version="TLS13",
        client_auth_type="RequireAndVerifyClientCert",
        client_ca_file=str(pki.client_ca.cert),
    )
    text += "  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n"
    text += "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n"
    config = load_web_config(write_web_config(tmp_path, text + users_section(password_hash)))
    assert config.scheme == "https"
    assert config.tls is not None
    assert config.tls.min_version == "TLS13"
    assert config.tls.client_ca_file == pki.client_ca.cert
    assert config.headers == (("X-Frame-Options", "deny"),)
    assert config.auth is not None
    assert config.auth.users == ("prometheus",)
    assert isinstance(config.ssl_context, ssl.SSLContext)
    assert config.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert config.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_3


def test_relative_paths_resolve_against_the_files_directory(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "tls_server_config:\n  cert_file: server.crt\n  key_file: ./server.key\n"
    path = pki.directory / "relative-web.yml"
    path.write_text(text)
    monkeypatch.chdir(tmp_path)  # somewhere the certificates are not
    config = load_web_config(os.path.relpath(path, tmp_path))
    assert config.tls is not None
    assert config.tls.cert_file == pki.server.cert
    assert config.tls.key_file == pki.directory / "server.key"


@pytest.mark.parametrize(
    "text", ["", "# comments only\n", "tls_server_config: {}\n", "basic_auth_users: {}\n"]
)
def test_an_empty_file_or_section_means_plain_http_without_auth(tmp_path: Path, text: str) -> None:
    config = load_web_config(write_web_config(tmp_path, text))
    assert (config.scheme, config.tls, config.auth) == ("http", None, None)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("tls_config:\n  cert_file: x\n", "tls_config: unknown field"),
        ("tls_server_config:\n  certfile: x\n", "tls_server_config.certfile: unknown field"),
        ("{tls}  min_version: TLS14\n", "tls_server_config.min_version must be one of"),
        ("{tls}  max_version: TLS11\n  min_version: TLS12\n", "min_version TLS12 is above"),
        ("tls_server_config:\n  cert_file: /nonexistent/server.crt\n  key_file: {key}\n",
         "tls_server_config.cert_file: cannot read /nonexistent/server.crt"),
        ("tls_server_config:\n  cert_file: {cert}\n", "tls_server_config.key_file is required"),
        ("tls_server_config:\n  cert_file: {cert}\n  key_file: {other_key}\n",
         "tls_server_config.key_file"),
        ("tls_server_config:\n  cert_file: {key}\n  key_file: {key}\n",
         "tls_server_config.cert_file"),
        ("{tls}  client_ca_file: {client_ca}\n", "client_ca_file is set but client_auth_type"),
        ("{tls}  client_auth_type: RequireAndVerifyClientCert\n",
         "client_ca_file is required by RequireAndVerifyClientCert"),
        ("{tls}  client_auth_type: RequireAnyClientCert\n  client_ca_file: {client_ca}\n",
         "tls_server_config.client_auth_type must be one of"),
        ("{tls}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {key}\n",
         "tls_server_config.client_ca_file"),
        ("{tls}  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n", "tls_server_config.cipher_suites"),
        ("{tls}  curve_preferences: [X25519]\n", "tls_server_config.curve_preferences"),
        ("{tls}  cert: inline\n", "tls_server_config.cert: inline certificates"),
        ("{tls}  prefer_server_cipher_suites: maybe\n", "prefer_server_cipher_suites"),
        ("basic_auth_users:\n  alice: hunter2-plain-text\n",
         "basic_auth_users.alice must be a bcrypt hash"),
        ("basic_auth_users:\n  - alice\n", "basic_auth_users must be a mapping"),
        ("basic_auth_users:\n  'a:b': {hash}\n", "user name 'a:b'"),
        ("http_server_config:\n  headers:\n    X-Powered-By: me\n",
         "http_server_config.headers.X-Powered-By"),
        ("http_server_config:\n  http2: sometimes\n", "http_server_config.http2"),
        ("- just\n- a list\n", "(top level) must be a mapping"),
        ("tls_server_config: [\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_a_bad_file_is_a_clear_error_naming_the_field(
    tmp_path: Path, pki: Pki, password_hash: str, body: str, named: str
) -> None:
    (tmp_path / "other.key").write_bytes(pki.client.key.read_bytes())
    text = body.format(
        tls=tls_section(pki),
        cert=pki.server.cert,
        key=pki.server.key,
        other_key=tmp_path / "other.key",
        client_ca=pki.client_ca.cert,
        hash=password_hash,
    )
    path = write_web_config(tmp_path, text)
    with pytest.raises(tt.ConfigurationError) as info:
        load_web_config(path)
    message = str(info.value)
    assert message.startswith(f"web config {path}: ")
    assert named in message


def test_a_plain_text_password_in_the_file_is_not_echoed(tmp_path: Path) -> None:
    path = write_web_config(tmp_path, "basic_auth_users:\n  alice: my-real-password\n")
    with pytest.raises(tt.ConfigurationError) as info:
        load_web_config(path)
    assert "my-real-password" not in str(info.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(tt.ConfigurationError, match=r"web config .*nope\.yml: cannot read it"):
        load_web_config(tmp_path / "nope.yml")


def test_a_bad_file_stops_the_start_before_binding(tmp_path: Path, pki: Pki) -> None:
    path = write_web_config(tmp_path, tls_section(pki, min_version="SSL3"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(tt.ConfigurationError, match=r"tls_server_config\.min_version"):
        tt.configure(port=port, web_config=path)
    assert tt.get_telemetry() is None
    with socket.socket() as again:  # the port was never taken
        again.bind(("127.0.0.1", port))


def test_the_config_field_is_checked(tmp_path: Path) -> None:
    assert tt.TelemetryConfig(web_config=tmp_path / "w.yml").web_config == str(tmp_path / "w.yml")
    with pytest.raises(tt.ConfigurationError, match=r"TelemetryConfig\.web_config"):
        tt.TelemetryConfig(web_config="  ")
    with pytest.raises(tt.ConfigurationError, match=r"TelemetryConfig\.health_without_auth"):
        tt.TelemetryConfig(health_without_auth="yes")  # type: ignore[arg-type]
    env = {
        "TRADER_TELEMETRY_WEB_CONFIG": "/etc/bot/web.yml",
        "TRADER_TELEMETRY_HEALTH_WITHOUT_AUTH": "true",
        "TRADER_TELEMETRY_HTTP_MAX_CONNECTIONS": "16",
        "TRADER_TELEMETRY_HTTP_READ_TIMEOUT_SECONDS": "2.5",
    }
    config = tt.TelemetryConfig.from_env(env)
    assert config.web_config == "/etc/bot/web.yml"
    assert config.health_without_auth is True
    assert config.server_limits.max_connections == 16
    assert config.server_limits.read_timeout_seconds == 2.5
    with pytest.raises(tt.ConfigurationError, match=r"ServerLimits\.max_headers"):
        tt.TelemetryConfig.from_env({}, server_limits=type(config.server_limits)(max_headers=0))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),  # all of 127.0.0.0/8 is loopback
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.1.2.3", False),
        ("192.168.1.20", False),
        ("bot.example.internal", False),  # a name is not resolved: assume it is exposed
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_exposed_binds_without_tls_or_auth_are_warned_about(
    tmp_path: Path, pki: Pki, password_hash: str
) -> None:
    tls_only = load_web_config(write_web_config(tmp_path, tls_section(pki)))
    auth_only = load_web_config(write_web_config(tmp_path, users_section(password_hash)))
    both = load_web_config(
        write_web_config(tmp_path, tls_section(pki) + users_section(password_hash))
    )
    assert exposure_warning("127.0.0.1", None) is None
    assert exposure_warning("::1", WebConfig()) is None
    message = exposure_warning("0.0.0.0", None)
    assert message is not None
    assert "without TLS and without authentication" in message
    assert "docs/security.md" in message
    assert "without authentication" in (exposure_warning("0.0.0.0", tls_only) or "")
    assert "without TLS" in (exposure_warning("10.0.0.5", auth_only) or "")
    assert exposure_warning("0.0.0.0", both) is None


def test_a_loopback_server_logs_no_exposure_warning(caplog: pytest.LogCaptureFixture) -> None:
    telemetry = tt.Telemetry(serve=False)
    with caplog.at_level(logging.WARNING, logger="trader_telemetry.exposition"):
        server = MetricsServer(telemetry, "127.0.0.1", 0)
        server.close()
    telemetry.shutdown()
    assert "without TLS" not in caplog.text
