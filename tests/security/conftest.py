"""Fixtures for the secure endpoint: a test PKI, bcrypt hashes made here, web config files,
and an HTTP(S) client that returns (status, headers, body) whatever the status."""

from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import bcrypt
import pytest

import trader_telemetry as tt

from .pki import Pki, make_pki

USER, PASSWORD = "prometheus", "correct horse battery staple"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def password_hash() -> str:
    """bcrypt at the lowest cost: the tests check behaviour, not bcrypt's slowness."""
    return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


def write_web_config(directory: Path, text: str) -> Path:
    path = directory / "web.yml"
    path.write_text(text)
    return path


def tls_section(pki: Pki, **extra: str) -> str:
    lines = [
        "tls_server_config:",
        f"  cert_file: {pki.server.cert}",
        f"  key_file: {pki.server.key}",
    ]
    lines += [f"  {name}: {value}" for name, value in extra.items()]
    return "\n".join(lines) + "\n"


def users_section(password_hash: str, user: str = USER) -> str:
    return f"basic_auth_users:\n  {user}: {password_hash}\n"


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def client_context(
    pki: Pki,
    *,
    client: tuple[Path, Path] | None = None,
    maximum: ssl.TLSVersion | None = None,
    trust: bool = True,
) -> ssl.SSLContext:
    """A verifying client context: it trusts the test server CA (unless ``trust=False``:
    then only the system CAs, which never signed our server)."""
    context = ssl.create_default_context(cafile=str(pki.server_ca.cert) if trust else None)
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    if maximum is not None:
        context.maximum_version = maximum
    return context


def fetch(
    url: str,
    *,
    context: ssl.SSLContext | None = None,
    authorization: str | None = None,
    method: str = "GET",
) -> tuple[int, Message, bytes]:
    """One real HTTP(S) request with urllib; an HTTP error status is returned, not raised."""
    request = urllib.request.Request(url, method=method)
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


Serve = Callable[..., tt.Telemetry]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(web_config=PATH, **config)``: a Telemetry serving on 127.0.0.1:0, shut down
    after the test."""
    started: list[tt.Telemetry] = []

    def start(**overrides: Any) -> tt.Telemetry:
        telemetry = tt.Telemetry(namespace="sec", port=0, **overrides)
        started.append(telemetry)
        return telemetry

    yield start
    for telemetry in started:
        telemetry.shutdown()
