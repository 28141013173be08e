"""TLS and basic auth on the real endpoint: real handshakes, real HTTP clients, bcrypt hashes
made in the test."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import urllib.error
from pathlib import Path

import bcrypt
import pytest

import trader_telemetry as tt
from trader_telemetry.config import ServerLimits
from trader_telemetry.exposition.auth import BasicAuth

from .conftest import (
    PASSWORD,
    Serve,
    basic,
    client_context,
    fetch,
    tls_section,
    users_section,
    write_web_config,
)
from .pki import Pki

ROUTES = ["/metrics", "/metrics.json", "/health", "/", "/no-such-page"]


@pytest.fixture
def secure(tmp_path: Path, pki: Pki, password_hash: str, serve: Serve) -> tt.Telemetry:
    """TLS and basic auth, as an operator would configure them."""
    path = write_web_config(tmp_path, tls_section(pki) + users_section(password_hash))
    telemetry = serve(web_config=str(path))
    telemetry.record_account(equity=10_000.0)
    return telemetry


def base(telemetry: tt.Telemetry) -> str:
    assert telemetry.metrics_url is not None
    return telemetry.metrics_url.removesuffix("/metrics")


def test_metrics_url_is_https(secure: tt.Telemetry) -> None:
    assert base(secure).startswith("https://127.0.0.1:")


def test_correct_credentials_get_every_route(secure: tt.Telemetry, pki: Pki) -> None:
    context = client_context(pki)
    for route, expected in [("/metrics", 200), ("/metrics.json", 200), ("/", 200)]:
        status, _, body = fetch(base(secure) + route, context=context, authorization=basic())
        assert status == expected, route
    status, _, body = fetch(base(secure) + "/metrics", context=context, authorization=basic())
    assert b"sec_equity 10000.0" in body
    status, _, _ = fetch(base(secure) + "/health", context=context, authorization=basic())
    assert status in (200, 503)  # the health verdict, not an auth answer
    assert fetch(base(secure) + "/nope", context=context, authorization=basic())[0] == 404


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic(password="wrong"),  # noqa: S106 - a wrong test password
        basic(user="intruder", password=PASSWORD),
        basic(password=PASSWORD + " "),
        "Basic not-base64!!",
        "Basic " + "bm9jb2xvbg==",  # "nocolon"
        "Bearer " + PASSWORD,
    ],
    ids=[
        "missing",
        "wrong-password",
        "unknown-user",
        "extra-space",
        "garbage",
        "no-colon",
        "bearer",
    ],
)
def test_every_route_asks_for_credentials(
    secure: tt.Telemetry, pki: Pki, route: str, authorization: str | None
) -> None:
    status, headers, body = fetch(
        base(secure) + route, context=client_context(pki), authorization=authorization
    )
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="trader_telemetry", charset="UTF-8"'
    assert b"equity" not in body


def test_head_requests_are_authenticated_too(secure: tt.Telemetry, pki: Pki) -> None:
    url = base(secure) + "/metrics"
    assert fetch(url, context=client_context(pki), method="HEAD")[0] == 401
    assert fetch(url, context=client_context(pki), method="HEAD", authorization=basic())[0] == 200


def test_health_is_open_only_when_the_option_says_so(
    tmp_path: Path, pki: Pki, password_hash: str, serve: Serve
) -> None:
    path = write_web_config(tmp_path, tls_section(pki) + users_section(password_hash))
    closed = serve(web_config=str(path))
    opened = serve(web_config=str(path), health_without_auth=True)
    context = client_context(pki)
    assert fetch(base(closed) + "/health", context=context)[0] == 401
    status, _, body = fetch(base(opened) + "/health", context=context)
    assert status in (200, 503)
    assert b'"status"' in body
    for route in ("/metrics", "/metrics.json", "/", "/health/", "/healthz"):
        assert fetch(base(opened) + route, context=context)[0] == 401, route


def test_a_verified_password_is_cached_not_rehashed(tmp_path: Path, pki: Pki, serve: Serve) -> None:
    slow_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=12)).decode()
    path = write_web_config(tmp_path, tls_section(pki) + users_section(slow_hash))
    telemetry = serve(web_config=str(path))
    url, context = base(telemetry) + "/metrics", client_context(pki)

    started = time.perf_counter()
    assert fetch(url, context=context, authorization=basic())[0] == 200
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(5):
        assert fetch(url, context=context, authorization=basic())[0] == 200
    later = (time.perf_counter() - started) / 5
    assert first > 0.15  # cost 12 is ~0.4 s here: the first check really ran bcrypt
    assert later < first / 3
    # The cache holds exact credentials: a near miss still pays bcrypt and fails.
    assert fetch(url, context=context, authorization=basic(password=PASSWORD + "x"))[0] == 401


def test_cache_is_keyed_by_user_and_password() -> None:
    alice = bcrypt.hashpw(b"shared", bcrypt.gensalt(4)).decode()
    bob = bcrypt.hashpw(b"bobs own", bcrypt.gensalt(4)).decode()
    auth = BasicAuth({"alice": alice, "bob": bob})
    assert auth.verify("alice", "shared")
    assert not auth.verify("bob", "shared")  # alice's cached success is not bob's
    assert not auth.verify("carol", "shared")
    assert auth.verify("bob", "bobs own")


def test_apache_style_2y_hashes_are_accepted() -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    auth = BasicAuth({"u": hashed})
    assert auth.verify("u", "pw")
    assert not auth.verify("u", "pW")


def test_unknown_users_pay_bcrypt_like_known_ones() -> None:
    """No user enumeration by timing: an unknown name runs bcrypt on a decoy hash."""
    auth = BasicAuth({"u": bcrypt.hashpw(b"pw", bcrypt.gensalt(10)).decode()})

    def best_of_three(user: str) -> float:
        times = []
        for attempt in range(3):
            started = time.perf_counter()
            assert not auth.verify(user, f"wrong{attempt}")
            times.append(time.perf_counter() - started)
        return min(times)

    known, unknown = best_of_three("u"), best_of_three("nobody")
    assert unknown > 0.5 * known
    assert known > 0.01  # cost 10 really ran


def test_passwords_over_72_bytes_are_refused_not_crashing() -> None:
    auth = BasicAuth({"u": bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()})
    assert not auth.verify("u", "x" * 200)


def test_tls_minimum_version_is_enforced(tmp_path: Path, pki: Pki, serve: Serve) -> None:
    path = write_web_config(tmp_path, tls_section(pki, min_version="TLS13"))
    telemetry = serve(web_config=str(path))
    url = base(telemetry) + "/metrics"
    old_client = client_context(pki, maximum=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(urllib.error.URLError) as info:
        fetch(url, context=old_client)
    assert isinstance(info.value.reason, ssl.SSLError)
    with (
        socket.create_connection(telemetry.server_address or ("", 0), timeout=5) as raw,
        client_context(pki).wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == "TLSv1.3"
    assert fetch(url, context=client_context(pki))[0] == 200


def test_tls_without_auth_serves_anyone_who_trusts_the_ca(
    tmp_path: Path, pki: Pki, serve: Serve
) -> None:
    telemetry = serve(web_config=str(write_web_config(tmp_path, tls_section(pki))))
    assert fetch(base(telemetry) + "/metrics", context=client_context(pki))[0] == 200


def test_a_client_without_the_ca_refuses_the_server(secure: tt.Telemetry, pki: Pki) -> None:
    with pytest.raises(urllib.error.URLError) as info:
        fetch(base(secure) + "/metrics", context=client_context(pki, trust=False))
    assert isinstance(info.value.reason, ssl.SSLCertVerificationError)
    # ... and the server keeps serving the clients that do trust it.
    assert (
        fetch(base(secure) + "/metrics", context=client_context(pki), authorization=basic())[0]
        == 200
    )


def test_plain_http_against_the_tls_port_fails_cleanly(secure: tt.Telemetry, pki: Pki) -> None:
    host, port = secure.server_address or ("", 0)
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    assert response.status == 400
    assert b"HTTP request to an HTTPS server" in response.read()
    connection.close()
    assert (
        fetch(base(secure) + "/metrics", context=client_context(pki), authorization=basic())[0]
        == 200
    )


def test_a_stalled_tls_handshake_is_cut_off(tmp_path: Path, pki: Pki, serve: Serve) -> None:
    path = write_web_config(tmp_path, tls_section(pki))
    telemetry = serve(web_config=str(path), server_limits=ServerLimits(read_timeout_seconds=0.5))
    with socket.create_connection(telemetry.server_address or ("", 0), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
        started = time.monotonic()
        assert raw.recv(1024) == b""
        assert time.monotonic() - started < 3
    assert fetch(base(telemetry) + "/metrics", context=client_context(pki))[0] == 200


@pytest.fixture
def mtls(tmp_path: Path, pki: Pki, password_hash: str, serve: Serve) -> tt.Telemetry:
    extra = {
        "client_auth_type": "RequireAndVerifyClientCert",
        "client_ca_file": str(pki.client_ca.cert),
    }
    path = write_web_config(tmp_path, tls_section(pki, **extra) + users_section(password_hash))
    return serve(web_config=str(path))


def refused(url: str, context: ssl.SSLContext) -> bool:
    """Whether the request failed at the TLS layer (with TLS 1.3 the server's verdict on a
    client certificate arrives after the client's handshake, as an alert or a reset)."""
    try:
        fetch(url, context=context, authorization=basic())
    except (urllib.error.URLError, ssl.SSLError, ConnectionError, http.client.HTTPException):
        return True
    return False


def test_mtls_accepts_a_client_certificate_from_the_client_ca(mtls: tt.Telemetry, pki: Pki) -> None:
    context = client_context(pki, client=(pki.client.cert, pki.client.key))
    status, _, body = fetch(base(mtls) + "/metrics", context=context, authorization=basic())
    assert status == 200
    assert b"sec_build_info" in body


def test_mtls_refuses_a_client_without_a_certificate(mtls: tt.Telemetry, pki: Pki) -> None:
    assert refused(base(mtls) + "/metrics", client_context(pki))


def test_mtls_refuses_a_certificate_from_another_ca(mtls: tt.Telemetry, pki: Pki) -> None:
    rogue = client_context(pki, client=(pki.rogue_client.cert, pki.rogue_client.key))
    assert refused(base(mtls) + "/metrics", rogue)
    good = client_context(pki, client=(pki.client.cert, pki.client.key))
    assert fetch(base(mtls) + "/metrics", context=good, authorization=basic())[0] == 200


def test_mtls_with_allowed_sans(tmp_path: Path, pki: Pki, serve: Serve) -> None:
    text = tls_section(
        pki, client_auth_type="RequireAndVerifyClientCert", client_ca_file=str(pki.client_ca.cert)
    )
    path = write_web_config(tmp_path, text + "  client_allowed_sans: [prometheus]\n")
    telemetry = serve(web_config=str(path))
    url = base(telemetry) + "/metrics"
    allowed = client_context(pki, client=(pki.client.cert, pki.client.key))
    other = client_context(pki, client=(pki.other_client.cert, pki.other_client.key))
    assert fetch(url, context=allowed)[0] == 200
    assert refused(url, other)


def test_configure_takes_the_web_config_path(tmp_path: Path, pki: Pki, password_hash: str) -> None:
    path = write_web_config(tmp_path, tls_section(pki) + users_section(password_hash))
    telemetry = tt.configure(namespace="sec", port=0, web_config=path)
    assert telemetry.metrics_url is not None
    assert telemetry.metrics_url.startswith("https://")
    assert fetch(telemetry.metrics_url, context=client_context(pki))[0] == 401


def test_the_environment_variable_names_the_web_config(
    tmp_path: Path, pki: Pki, password_hash: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_web_config(tmp_path, tls_section(pki) + users_section(password_hash))
    monkeypatch.setenv("TRADER_TELEMETRY_WEB_CONFIG", str(path))
    monkeypatch.setenv("TRADER_TELEMETRY_PORT", "0")
    telemetry = tt.configure()
    assert telemetry.metrics_url is not None
    status, _, _ = fetch(telemetry.metrics_url, context=client_context(pki), authorization=basic())
    assert status == 200
    assert telemetry.config.web_config == str(path)
