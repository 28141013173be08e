"""Faults at the secured endpoint (TLS and basic auth from a web config, bcrypt hash made in
the test at cost 10): a wrong password, plain HTTP sent to the TLS port, and a TLS client
that does not trust the server's CA. Real handshakes, real clients, the bot's loop running."""

from __future__ import annotations

import socket
import ssl
import urllib.error
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import trader_telemetry as tt
from tests.security.conftest import (
    basic,
    client_context,
    fetch,
    tls_section,
    users_section,
    write_web_config,
)
from tests.security.pki import Pki

from .accounting import account
from .conftest import PASSWORD, RecordRow
from .harness import BackgroundLoop, ledger_of, make_bot
from .summary import exceptions_verdict, loop_verdict, lost_verdict

MAX_CYCLE_COST = 0.25


@pytest.fixture
def secure(
    tmp_path: Path, pki: Pki, password_hash: str, make_telemetry: Callable[..., tt.Telemetry]
) -> tt.Telemetry:
    path = write_web_config(tmp_path, tls_section(pki) + users_section(password_hash))
    return make_telemetry(port=0, web_config=str(path))


def url(telemetry: tt.Telemetry, route: str = "/metrics") -> str:
    assert telemetry.metrics_url is not None
    return telemetry.metrics_url.removesuffix("/metrics") + route


def test_wrong_password(secure: tt.Telemetry, pki: Pki, fault_row: RecordRow) -> None:
    """Twelve guesses, four at a time, each paying bcrypt at cost 10: all 401 with a
    ``WWW-Authenticate`` challenge, the right password still gets in, and the bot's cycles
    do not wait for bcrypt."""
    context = client_context(pki)
    bot = make_bot(secure)
    guesses = [basic(password=f"guess {i}") for i in range(11)] + [basic(user="root")]

    def guess(authorization: str) -> tuple[int, str | None]:
        status, headers, _ = fetch(url(secure), context=context, authorization=authorization)
        return status, headers.get("WWW-Authenticate")

    with BackgroundLoop(bot, pause=0.002) as loop:
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(guess, guesses))
        anonymous = fetch(url(secure), context=context)[0]
        right = fetch(url(secure), context=context, authorization=basic(password=PASSWORD))[0]
        assert loop.wait_cycles(20)
    accounting = account(secure, ledger_of(bot))
    refused = sum(1 for status, challenge in answers if status == 401 and challenge)
    row = fault_row(
        "wrong password (bcrypt cost 10)",
        loop=loop_verdict(loop.stats, min_cycles=100, max_cost=MAX_CYCLE_COST, p99_cost=0.05),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(accounting),
        notes=[f"{refused}/12 guesses 401, no credentials {anonymous}, right password {right}"],
    )
    row.check()
    assert refused == 12
    assert anonymous == 401
    assert right == 200


def test_plain_http_against_tls(secure: tt.Telemetry, pki: Pki, fault_row: RecordRow) -> None:
    """Plain HTTP to the TLS port gets a plain-text 400 and a close; TLS clients carry on."""
    assert secure.server_address is not None
    bot = make_bot(secure)
    with BackgroundLoop(bot, pause=0.002) as loop:
        answers = []
        for _ in range(5):
            with socket.create_connection(secure.server_address, timeout=5) as sock:
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                answers.append(sock.recv(4096))
        good = fetch(url(secure), context=client_context(pki), authorization=basic())[0]
        after = loop.stats.cycles + 50
        loop.wait_cycles(50)  # and it goes on after the fault
    accounting = account(secure, ledger_of(bot))
    told = sum(
        1
        for a in answers
        if a.startswith(b"HTTP/1.0 400") and b"HTTP request to an HTTPS server" in a
    )
    row = fault_row(
        "plain HTTP against TLS",
        loop=loop_verdict(loop.stats, min_cycles=after, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(accounting),
        notes=[f"{told}/5 told 400, TLS client then {good}"],
    )
    row.check()
    assert told == 5
    assert good == 200


def test_tls_client_without_the_ca(secure: tt.Telemetry, pki: Pki, fault_row: RecordRow) -> None:
    """A client that trusts only the system CAs refuses the server's certificate; the server
    stays up for clients that do trust it."""
    bot = make_bot(secure)
    refusals = []
    with BackgroundLoop(bot, pause=0.002) as loop:
        for _ in range(5):
            try:
                fetch(url(secure), context=client_context(pki, trust=False))
            except urllib.error.URLError as error:
                refusals.append(isinstance(error.reason, ssl.SSLCertVerificationError))
        good = fetch(url(secure), context=client_context(pki), authorization=basic())[0]
        after = loop.stats.cycles + 50
        loop.wait_cycles(50)  # and it goes on after the fault
    accounting = account(secure, ledger_of(bot))
    row = fault_row(
        "TLS client without the CA",
        loop=loop_verdict(loop.stats, min_cycles=after, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(accounting),
        notes=[f"{sum(refusals)}/5 refused the certificate, trusting client then {good}"],
    )
    row.check()
    assert refusals == [True] * 5
    assert good == 200
