"""Server hardening, with raw sockets and real HTTP clients against the real server: bounded
request size and header count, a read deadline against slow-loris, a connection cap, only
GET/HEAD, exact routes, no tracebacks, and scrapes that never block recording."""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import trader_telemetry as tt
from trader_telemetry.config import ServerLimits
from trader_telemetry.exposition import MetricsServer
from trader_telemetry.health import HealthCheckResult, HealthStatus
from trader_telemetry.readers import Exposition

from .conftest import fetch

LIMITS = ServerLimits(
    read_timeout_seconds=0.6,
    max_connections=4,
    max_request_line_bytes=1024,
    max_header_bytes=2048,
    max_headers=20,
)


@pytest.fixture
def telemetry() -> Iterator[tt.Telemetry]:
    instance = tt.Telemetry(namespace="hard", port=0, server_limits=LIMITS)
    instance.record_account(equity=1.0)
    yield instance
    instance.shutdown()


def address(telemetry: tt.Telemetry) -> tuple[str, int]:
    assert telemetry.server_address is not None
    return telemetry.server_address


def exchange(telemetry: tt.Telemetry, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send ``raw`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(address(telemetry), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def still_serving(telemetry: tt.Telemetry) -> bool:
    return fetch(f"http://{address(telemetry)[0]}:{address(telemetry)[1]}/metrics")[0] == 200


def test_an_oversized_request_line_gets_414(telemetry: tt.Telemetry) -> None:
    response = exchange(telemetry, b"GET /" + b"a" * 4000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(response) == 414
    assert still_serving(telemetry)


def test_a_request_line_that_never_ends_gets_414_without_waiting(telemetry: tt.Telemetry) -> None:
    with socket.create_connection(address(telemetry), timeout=5) as sock:
        sock.sendall(b"GET /" + b"a" * 3000)  # no newline yet
        assert status_of(sock.recv(1024)) == 414


def test_oversized_headers_get_431(telemetry: tt.Telemetry) -> None:
    response = exchange(telemetry, b"GET /metrics HTTP/1.1\r\nX-Big: " + b"b" * 3000 + b"\r\n\r\n")
    assert status_of(response) == 431
    assert still_serving(telemetry)


def test_too_many_headers_get_431(telemetry: tt.Telemetry) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
    response = exchange(telemetry, b"GET /metrics HTTP/1.1\r\n" + headers + b"\r\n")
    assert status_of(response) == 431
    assert b"431 Request Header Fields Too Large" in response


def test_headers_within_the_limits_are_fine(telemetry: tt.Telemetry) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(15))
    response = exchange(
        telemetry, b"GET /metrics HTTP/1.1\r\nConnection: close\r\n" + headers + b"\r\n"
    )
    assert status_of(response) == 200


def test_a_slow_loris_client_is_cut_off_after_the_read_timeout(telemetry: tt.Telemetry) -> None:
    with socket.create_connection(address(telemetry), timeout=5) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        stop = threading.Event()

        def trickle() -> None:
            # A header byte every 0.1 s: every read succeeds, the deadline still passes.
            while not stop.is_set():
                try:
                    sock.send(b"X")
                except OSError:
                    return
                time.sleep(0.1)

        trickler = threading.Thread(target=trickle)
        trickler.start()
        started = time.monotonic()
        received = b""
        try:
            while chunk := sock.recv(1024):
                received += chunk
        except ConnectionResetError:
            pass
        elapsed = time.monotonic() - started
        stop.set()
        trickler.join()
    assert 0.5 < elapsed < 3.0, elapsed
    assert received.startswith(b"HTTP/1.1 408 Request Timeout"), received
    assert still_serving(telemetry)


def test_an_idle_connection_is_closed_after_the_read_timeout(telemetry: tt.Telemetry) -> None:
    with socket.create_connection(address(telemetry), timeout=5) as sock:
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed, with no answer: it never asked anything
        assert 0.4 < time.monotonic() - started < 3.0


def test_slow_loris_connections_do_not_block_scrapes(telemetry: tt.Telemetry) -> None:
    loris = [socket.create_connection(address(telemetry), timeout=5) for _ in range(3)]
    try:
        for sock in loris:
            sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        started = time.monotonic()
        assert still_serving(telemetry)
        assert time.monotonic() - started < 0.5
    finally:
        for sock in loris:
            sock.close()


def test_connections_past_the_cap_get_503_and_the_cap_frees_up(telemetry: tt.Telemetry) -> None:
    held = [socket.create_connection(address(telemetry), timeout=5) for _ in range(4)]
    time.sleep(0.1)  # let the server accept them all
    try:
        with socket.create_connection(address(telemetry), timeout=5) as extra:
            started = time.monotonic()
            answer = extra.recv(1024)
            assert time.monotonic() - started < 0.5  # answered at once, not queued
        assert status_of(answer) == 503
        assert telemetry._server is not None
        assert telemetry._server.refused_connections >= 1
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if still_serving(telemetry):
                break
        except OSError:
            pass
        time.sleep(0.05)
    assert still_serving(telemetry)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"])
def test_only_get_and_head_are_allowed(telemetry: tt.Telemetry, method: str) -> None:
    host, port = address(telemetry)
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request(method, "/metrics", body=b"x=1")
    response = connection.getresponse()
    assert response.status == 405
    assert response.getheader("Allow") == "GET, HEAD"
    assert b"equity" not in response.read()
    connection.close()


def test_head_gets_headers_only(telemetry: tt.Telemetry) -> None:
    host, port = address(telemetry)
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("HEAD", "/metrics")
    response = connection.getresponse()
    assert response.status == 200
    assert int(response.getheader("Content-Length") or 0) > 0
    assert response.read() == b""
    connection.close()


@pytest.mark.parametrize(
    "target",
    [
        "/../etc/passwd",
        "/../../../../etc/passwd",
        "/metrics/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/metrics/",
        "/metrics/../metrics",
        "/METRICS",
        "/metrics%00",
        "/health.json",
        "/.git/config",
        "*",
        "http://evil.example/metrics",
        "metrics",
    ],
)
def test_odd_paths_get_404(telemetry: tt.Telemetry, target: str) -> None:
    raw = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    response = exchange(telemetry, raw)
    assert status_of(response) == 404
    assert b"root:" not in response
    assert b"hard_equity" not in response


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"HELLO\r\n\r\n", 400),
        (b"GET /metrics\r\n\r\n", 400),  # HTTP/0.9: no headers, no status line: refused
        (b"GET /metrics HTTP/9.9\r\n\r\n", 505),
        (b"GET /metrics HTTP/1.1 extra\r\n\r\n", 400),
        (b"\x00\x01\x02\x03\r\n\r\n", 400),
    ],
)
def test_malformed_requests_get_a_plain_error(
    telemetry: tt.Telemetry, raw: bytes, expected: int
) -> None:
    response = exchange(telemetry, raw)
    assert status_of(response) == expected
    assert b"<html" not in response.lower()
    assert b"\x00" not in response
    assert still_serving(telemetry)


def test_keep_alive_and_pipelined_requests_work(telemetry: tt.Telemetry) -> None:
    host, port = address(telemetry)
    connection = http.client.HTTPConnection(host, port, timeout=5)
    for _ in range(3):
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
    connection.close()
    two = (
        b"GET /metrics.json HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    answers = exchange(telemetry, two)
    assert answers.count(b"HTTP/1.1 ") == 2
    assert b"HTTP/1.1 200 OK" in answers
    assert b"HTTP/1.1 404 Not Found" in answers


class _Exploding:
    """A source whose rendering fails with a message that must not reach the client."""

    def render_metrics(self, accept: str | None = None) -> Exposition:
        raise RuntimeError("db at 10.0.0.7 refused login, token=tok-4711")

    def snapshot(self) -> dict[str, Any]:
        return {"bad": float("nan")}  # strict JSON refuses it

    def health_response(self) -> tuple[int, dict[str, Any]]:
        raise KeyError("boom")

    def liveness_response(self) -> tuple[int, dict[str, Any]]:
        raise KeyError("boom")


@pytest.mark.parametrize("route", ["/metrics", "/metrics.json", "/health", "/livez"])
def test_a_handler_exception_is_a_500_without_a_traceback(
    route: str, caplog: pytest.LogCaptureFixture
) -> None:
    tt.Telemetry(serve=False).shutdown()  # installs the log redaction, as any instance does
    server = MetricsServer(_Exploding(), "127.0.0.1", 0, limits=LIMITS)
    try:
        with caplog.at_level(logging.ERROR, logger="trader_telemetry.exposition"):
            status, _, body = fetch(server.url + route)
            assert fetch(server.url + "/")[0] == 200
    finally:
        server.close()
    assert status == 500
    assert body == b"internal error while rendering; see the bot's log\n"
    for leak in (b"Traceback", b"RuntimeError", b"10.0.0.7", b"KeyError", b"nan"):
        assert leak not in body
    assert "error while serving" in caplog.text  # the details went to the log ...
    assert "tok-4711" not in caplog.text  # ... with the secret redacted


def test_responses_carry_no_server_version_details(telemetry: tt.Telemetry) -> None:
    host, port = address(telemetry)
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    response.read()
    assert response.getheader("Server") == "trader_telemetry"
    assert response.getheader("Cache-Control") == "no-store"
    connection.close()


def test_scrapes_never_block_recording(telemetry: tt.Telemetry) -> None:
    """Scrapes stuck in a hanging health check and a client that never reads its response
    must not slow the bot's recording calls: no lock is held across either."""
    release = threading.Event()

    class Hanging:
        name = "hanging"

        def check(self) -> HealthCheckResult:
            release.wait(5)
            return HealthCheckResult(self.name, HealthStatus.HEALTHY, "late")

    telemetry.health.register(Hanging())
    for symbol in range(150):
        telemetry.record_exposure(f"S{symbol}", 1.0)  # a bigger /metrics body
    host, port = address(telemetry)
    stuck = []
    try:
        for route in ("/health", "/metrics.json", "/metrics"):
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(f"GET {route} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            stuck.append(sock)  # never read: the server blocks on the check or on sending
        time.sleep(0.3)
        started = time.perf_counter()
        for i in range(300):
            with telemetry.cycle_timer() as cycle, cycle.phase("work"):
                telemetry.record_account(equity=1_000.0 + i, realized_pnl=1.0)
                telemetry.record_order("BTC-PERP", "buy")
                telemetry.record_marks({"BTC-PERP": 97_000.0 + i})
        elapsed = time.perf_counter() - started
    finally:
        release.set()
        for sock in stuck:
            sock.close()
    assert elapsed < 0.5, f"300 cycles took {elapsed:.3f} s while scrapes were stuck"
