"""Hardening of the endpoint (issue 18), with raw sockets against the real server while the
bot's loop runs: request smuggling attempts, HTTP/0.9, gzip negotiation, one address hoarding
idle connections, a health check that hangs under a probe flood, and ``trader-telemetry
health`` against a server that trickles its answer."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest

import trader_telemetry as tt
from trader_telemetry.cli import main as cli_main
from trader_telemetry.config import ServerLimits
from trader_telemetry.health import HealthCheckResult, HealthStatus

from .accounting import account
from .conftest import RecordRow
from .harness import BackgroundLoop, http_get, ledger_of, make_bot
from .summary import Verdict, exceptions_verdict, loop_verdict, lost_verdict

MAX_CYCLE_COST = 0.25

#: Each carries a second request behind the first: a server that reads the framing as the
#: attacker meant would answer it too (request smuggling). Every one must be one 400, then a
#: closed connection.
SMUGGLED = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
GOOD = b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
AMBIGUOUS = {
    "duplicate Content-Length": b"Content-Length: 0\r\nContent-Length: 0\r\n",
    "conflicting Content-Length": b"Content-Length: 0\r\nContent-Length: 34\r\n",
    "Transfer-Encoding on a GET": b"Transfer-Encoding: chunked\r\n",
    "Transfer-Encoding and Content-Length": b"Content-Length: 34\r\nTransfer-Encoding: chunked\r\n",
    "space before the colon": b"Content-Length : 34\r\n",
    "negative Content-Length": b"Content-Length: -1\r\n",
    "signed Content-Length": b"Content-Length: +34\r\n",
    "Content-Length list": b"Content-Length: 34, 34\r\n",
    "folded header line": b"X-Note: a\r\n Content-Length: 34\r\n",
    "control character in a value": b"X-Note: a\x00b\r\n",
}


def exchange(address: tuple[str, int], raw: bytes, timeout: float = 5.0) -> tuple[bytes, float]:
    """Send ``raw`` on a fresh connection; (everything until the server closes, seconds)."""
    started = time.perf_counter()
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks), time.perf_counter() - started


def status_of(answer: bytes) -> str:
    return answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "closed"


def head_of(answer: bytes) -> dict[str, str]:
    lines = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


@pytest.fixture
def endpoint(make_telemetry: Callable[..., tt.Telemetry]) -> tt.Telemetry:
    # A read deadline well above "at once": an answer within 1 s cannot be the deadline's 408.
    return make_telemetry(port=0, server_limits=ServerLimits(read_timeout_seconds=2.0))


def test_request_smuggling_and_http_0_9(endpoint: tt.Telemetry, fault_row: RecordRow) -> None:
    """Ambiguous framing (repeated or conflicting ``Content-Length``, ``Transfer-Encoding`` on
    a GET, a space before the colon, negative lengths, folded lines) is one 400 and a closed
    connection, the request behind it never answered; HTTP/0.9 gets 400 at once, not after
    the read deadline."""
    address = endpoint.server_address
    assert address is not None
    bot = make_bot(endpoint)
    answers: dict[str, tuple[bytes, float]] = {}
    with BackgroundLoop(bot, pause=0.002, max_seconds=120) as loop:
        assert loop.wait_cycles(20)
        for name, fields in AMBIGUOUS.items():
            raw = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n" + SMUGGLED
            answers[name] = exchange(address, raw)
        answers["HTTP/0.9"] = exchange(address, b"GET /metrics\r\n")
        answers["HTTP/0.9, then silence"] = exchange(address, b"GET /\r\n")
        good, _ = exchange(address, GOOD)
        assert loop.wait_cycles(20)
    wrong = {
        name: f"{status_of(answer)} and {answer.count(b'HTTP/1.')} answer(s) in {took:.1f} s"
        for name, (answer, took) in answers.items()
        if status_of(answer) != "400" or answer.count(b"HTTP/1.") != 1 or took > 1.0
    }
    accounting = account(endpoint, ledger_of(bot))
    row = fault_row(
        "request smuggling and HTTP/0.9",
        loop=loop_verdict(loop.stats, min_cycles=40, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(accounting),
        notes=[f"{len(answers) - len(wrong)}/{len(answers)} refused with one 400 at once"],
    )
    row.check()
    assert not wrong, wrong
    assert status_of(good) == "200"


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("*;q=0", False),
        ("deflate, gzip;q=0, *;q=1", False),
        ("identity, *;q=0.5", True),
        ("GZIP;Q=0.5", True),
        ("gzip;q=nan", False),
        ("identity", False),
    ],
)
def test_gzip_only_when_acceptable_and_vary_always(
    endpoint: tt.Telemetry, accept_encoding: str, gzipped: bool
) -> None:
    """``Accept-Encoding`` q-values are honoured (``gzip;q=0`` is a refusal) and every answer
    says ``Vary: Accept-Encoding`` (a cache must not serve gzip to a client that refused it)."""
    address = endpoint.server_address
    assert address is not None
    endpoint.record_marks({f"SYM-{i}": 1.0 for i in range(50)})  # well past the gzip minimum
    raw = (
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept-Encoding: "
        + accept_encoding.encode()
        + b"\r\n\r\n"
    )
    answer, _ = exchange(address, raw)
    head = head_of(answer)
    assert status_of(answer) == "200"
    assert (head.get("content-encoding") == "gzip") is gzipped, head
    assert head.get("vary") == "Accept-Encoding", head


def idle_from(address: tuple[str, int], source: str) -> socket.socket:
    """A connection from ``source`` (a loopback address) that never sends a byte."""
    return socket.create_connection(address, timeout=5, source_address=(source, 0))


def refused(sock: socket.socket, wait: float) -> bool:
    """Whether the server answered this idle connection at once (the canned 503)."""
    sock.settimeout(wait)
    try:
        return sock.recv(4096).startswith(b"HTTP/1.1 503")
    except TimeoutError:
        return False
    except OSError:
        return True


def test_idle_connections_from_one_address_cannot_keep_prometheus_out(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """127.0.0.2 opens 12 idle connections to an endpoint that serves 8 at once, at most 4
    per address: 4 are held, the other 8 refused with 503 at once, and scrapes from
    127.0.0.1 (Prometheus) are all answered meanwhile."""
    limits = ServerLimits(read_timeout_seconds=5.0, max_connections=8, max_connections_per_client=4)
    telemetry = make_telemetry(port=0, server_limits=limits)
    address = telemetry.server_address
    assert address is not None
    assert telemetry.metrics_url is not None
    bot = make_bot(telemetry)
    hoard: list[socket.socket] = []
    with BackgroundLoop(bot, pause=0.002) as loop:
        assert loop.wait_cycles(20)
        try:
            hoard = [idle_from(address, "127.0.0.2") for _ in range(12)]
            # At once, while the hoard holds its slots (connections are accepted in order:
            # the server has placed all twelve before the first scrape).
            scrapes = []
            for _ in range(10):
                try:
                    with urllib.request.urlopen(telemetry.metrics_url, timeout=3) as response:
                        scrapes.append(response.status)
                except urllib.error.HTTPError as error:
                    scrapes.append(error.code)
                    error.close()
            turned_away = sum(refused(sock, 1.0) for sock in hoard)
        finally:
            for sock in hoard:
                sock.close()
        assert loop.wait_cycles(20)
    answered = scrapes.count(200)
    row = fault_row(
        "idle connections from one address",
        loop=loop_verdict(loop.stats, min_cycles=40, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(account(telemetry, ledger_of(bot))),
        notes=[f"12 idle from 127.0.0.2: {turned_away} refused; {answered}/10 scrapes answered"],
    )
    row.check()
    assert answered == 10, scrapes
    assert turned_away == 8


class Hung:
    """A plain (thread-run) health check that never returns until released."""

    name = "venue_api"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def check(self) -> HealthCheckResult:
        self.calls += 1
        self.release.wait(30)
        return HealthCheckResult(self.name, HealthStatus.HEALTHY, "late")


def health_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("trader-telemetry-health"))


@pytest.fixture
def hung() -> Iterator[Hung]:
    check = Hung()
    yield check
    check.release.set()


def test_hung_health_check_under_a_probe_flood(
    make_telemetry: Callable[..., tt.Telemetry], hung: Hung, fault_row: RecordRow
) -> None:
    """A health check that hangs, ``/health`` asked back to back for 1.5 s with no cache
    and a 0.1 s timeout: every answer is 503 naming the check, one thread at most runs it,
    none starts after ``shutdown()``, and the one left ends when the check returns."""
    before = health_threads()
    telemetry = make_telemetry(port=0, health_cache_seconds=0, health_check_timeout_seconds=0.1)
    telemetry.health.register(hung)
    assert telemetry.metrics_url is not None
    url = telemetry.metrics_url.removesuffix("/metrics") + "/health"
    bot = make_bot(telemetry)
    codes: list[int] = []
    most = 0
    with BackgroundLoop(bot, pause=0.002) as loop:
        assert loop.wait_cycles(20)
        started = time.monotonic()
        while time.monotonic() - started < 1.5:
            codes.append(http_get(url)[0])
            most = max(most, health_threads() - before)
            time.sleep(0.025)
        assert loop.wait_cycles(20)
    accounting = account(telemetry, ledger_of(bot))
    waiting = len(telemetry.health._flights[hung.name]._waiters)  # reports that gave up
    telemetry.shutdown()
    for _ in range(20):
        telemetry.health_report()
    after_shutdown = health_threads() - before
    hung.release.set()
    deadline = time.monotonic() + 5
    while health_threads() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    left = health_threads() - before
    row = fault_row(
        "hung health check under a probe flood",
        loop=loop_verdict(loop.stats, min_cycles=40, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=Verdict(
            accounting.nothing_lost and most <= 1 and after_shutdown <= 1 and left == 0,
            f"{accounting.summary()}; check threads: at most {most}, {after_shutdown} after "
            f"shutdown, {left} once released",
        ),
        notes=[f"{len(codes)} probes: {codes.count(503)} answered 503, check called {hung.calls}x"],
    )
    row.check()
    assert codes
    assert all(code == 503 for code in codes), codes
    assert hung.calls == 1
    assert waiting == 0, f"{waiting} reports still wait for the hung call"


class Trickler:
    """A server that answers any request a byte every ``interval`` seconds for ``limit``
    seconds (then hangs up): the head, or a whole head then the body. The limit only bounds
    a probe that ignores its timeout (the defect), so the case fails instead of hanging."""

    def __init__(self, *, body_only: bool, interval: float = 0.1, limit: float = 8.0) -> None:
        self.limit = limit
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.body_only = body_only
        self.interval = interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                if self.body_only:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{")
                trickle = b"HTTP/1.1 200 OK\r\nX-Slow: " if not self.body_only else b" "
                sent = 0
                ends = time.monotonic() + self.limit
                while not self.stop.wait(self.interval) and time.monotonic() < ends:
                    try:
                        conn.sendall(trickle[sent : sent + 1] or b"a")
                    except OSError:
                        break
                    sent += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


@pytest.mark.parametrize("body_only", [False, True], ids=["head", "body"])
def test_health_probe_timeout_bounds_a_trickling_answer(
    make_telemetry: Callable[..., tt.Telemetry],
    fault_row: RecordRow,
    capsys: pytest.CaptureFixture[str],
    body_only: bool,
) -> None:
    """``trader-telemetry health --timeout 1`` against a server that sends its answer a byte
    every 0.1 s (each read well within 1 s): the probe gives up after about 1 s with exit 3,
    while the bot (whose own endpoint is not the one probed) keeps cycling."""
    telemetry = make_telemetry(port=0)
    bot = make_bot(telemetry)
    server = Trickler(body_only=body_only)
    try:
        with BackgroundLoop(bot, pause=0.002) as loop:
            assert loop.wait_cycles(20)
            started = time.monotonic()
            code = cli_main(
                ["health", "--url", f"http://127.0.0.1:{server.port}", "--timeout", "1"]
            )
            took = time.monotonic() - started
            assert loop.wait_cycles(20)
    finally:
        server.close()
    err = capsys.readouterr().err
    part = "body" if body_only else "head"
    row = fault_row(
        f"health probe against a trickling {part}",
        loop=loop_verdict(loop.stats, min_cycles=40, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(account(telemetry, ledger_of(bot))),
        notes=[f"--timeout 1: exit {code} after {took:.2f} s"],
    )
    row.check()
    assert code == 3, err
    assert took < 2.0, f"the probe took {took:.1f} s with --timeout 1"
    assert "within 1 s" in err, err
