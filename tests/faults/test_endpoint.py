"""Endpoint faults, against the real server on 127.0.0.1: the port taken at start, a scrape
flood, slow-loris connections and malformed requests, each while the bot's loop runs."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import trader_telemetry as tt
from trader_telemetry.config import ServerLimits

from .accounting import account
from .conftest import RecordRow
from .harness import BackgroundLoop, ledger_of, make_bot, run_loop, wait_until
from .summary import Verdict, exceptions_verdict, loop_verdict, lost_verdict

MAX_CYCLE_COST = 0.25


@pytest.fixture
def taken_port() -> Iterator[tuple[socket.socket, int]]:
    """A port another process (here: a listening socket) already holds."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder, int(holder.getsockname()[1])


def library_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("trader-telemetry")}


def test_port_in_use_at_start(
    taken_port: tuple[socket.socket, int],
    make_telemetry: Callable[..., tt.Telemetry],
    fault_row: RecordRow,
) -> None:
    """``PortInUseError`` naming the port, at configuration; the port's owner still works,
    nothing is left running, and the bot carries on with an endpoint on another port."""
    holder, port = taken_port
    before = library_threads()
    with pytest.raises(tt.PortInUseError, match=f"127.0.0.1:{port}"):
        tt.configure(namespace="fault", port=port)
    assert tt.get_telemetry() is None
    leaked = library_threads() - before
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        owner, _ = holder.accept()
        owner.close()
    fallback = make_telemetry(port=0)
    bot = make_bot(fallback)
    stats = run_loop(bot, cycles=200)
    accounting = account(fallback, ledger_of(bot))
    row = fault_row(
        "port in use at start",
        loop=loop_verdict(stats, min_cycles=200, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            accounting.nothing_lost and not leaked,
            f"{accounting.summary()}; {len(leaked)} thread(s) left behind",
        ),
    )
    row.check()


def test_port_in_use_at_start_with_a_data_dir(
    tmp_path: Path,
    taken_port: tuple[socket.socket, int],
    make_telemetry: Callable[..., tt.Telemetry],
    fault_row: RecordRow,
) -> None:
    """The same with files: the bot retries on port 0 with the same data directory."""
    _, port = taken_port
    before = library_threads()
    with pytest.raises(tt.PortInUseError):
        tt.Telemetry(
            namespace="fault", port=port, data_dir=tmp_path, metrics_file_interval_seconds=0.02
        )
    leaked = sorted(t.name for t in library_threads() - before)
    live = make_telemetry(port=0, data_dir=tmp_path, metrics_file_interval_seconds=0.02)
    bot = make_bot(live)
    stats = run_loop(bot, cycles=100)
    cycles = ledger_of(bot).calls["cycles_ok"] + ledger_of(bot).calls["cycles_error"]

    def count_on_disk() -> int:
        try:
            count: int = json.loads((tmp_path / "metrics.json").read_bytes())["cycle_metrics"][
                "count"
            ]
        except (OSError, ValueError):
            return -1
        return count

    wait_until(lambda: count_on_disk() == cycles, 10.0)  # the writer's next round, however late
    seen = []
    for _ in range(30):  # the loop is done: every read must show its cycles
        try:
            seen.append(
                json.loads((tmp_path / "metrics.json").read_bytes())["cycle_metrics"]["count"]
            )
        except (OSError, ValueError):
            seen.append(-1)
        time.sleep(0.01)
    stale = sum(1 for count in seen if count != cycles)
    row = fault_row(
        "port in use at start, with a data dir",
        loop=loop_verdict(stats, min_cycles=100, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            stale == 0 and not leaked,
            f"{stale}/{len(seen)} metrics.json reads stale ({min(seen)} cycles, not {cycles}); "
            f"left running: {', '.join(leaked) or 'nothing'}",
        ),
    )
    row.check()


class ThroughputError(AssertionError):
    """The endpoint answered fewer scrapes than asked for (see the keep-alive case)."""


def scrape_flood(
    url: str, rate: float, seconds: float, *, keep_alive: bool = False
) -> tuple[int, int, list[float]]:
    """GET ``url`` ``rate`` times a second for ``seconds`` (every 10th request
    ``/metrics.json``), on a fresh connection each time or on one kept-alive connection;
    stops at 1.2 x ``seconds`` whatever was sent. Returns (answered 200, failed, latencies)."""
    host, port = url.split("//")[1].split("/", maxsplit=1)[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    ok, failed, latencies = 0, 0, []
    started = time.perf_counter()
    stop = started + 1.2 * seconds
    try:
        for i in range(round(rate * seconds)):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            if sent > stop:
                break
            try:
                connection.request("GET", "/metrics.json" if i % 10 == 9 else "/metrics")
                response = connection.getresponse()
                body = response.read()
                good = response.status == 200 and bool(body)
            except (OSError, http.client.HTTPException):
                good = False
                connection.close()
            if not keep_alive:
                connection.close()
            latencies.append(time.perf_counter() - sent)
            ok += good
            failed += not good
    finally:
        connection.close()
    return ok, failed, latencies


FLOOD_SECONDS = 10  # the figure: 200 scrapes a second for 10 s


def test_200_scrapes_per_second(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """200 scrapes a second for 10 s (2,000 in all: four scrapers at 50/s, a fresh connection
    each) while the bot cycles: every scrape answered, the rate held, and the loop's
    per-cycle cost bounded (no lock shared with rendering)."""
    telemetry = make_telemetry(port=0)
    bot = make_bot(telemetry, symbols=30)  # a bigger exposition to render
    assert telemetry.metrics_url is not None
    metrics_url = telemetry.metrics_url
    with BackgroundLoop(bot, pause=0.002) as loop:
        assert loop.wait_cycles(20)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            floods = list(
                pool.map(lambda _: scrape_flood(metrics_url, 50, FLOOD_SECONDS), range(4))
            )
        took = time.perf_counter() - started
    ok = sum(flood[0] for flood in floods)
    failed = sum(flood[1] for flood in floods)
    latencies = sorted(latency for flood in floods for latency in flood[2])
    rate = (ok + failed) / took
    accounting = account(telemetry, ledger_of(bot))
    row = fault_row(
        f"200 scrapes/s for {FLOOD_SECONDS:g} s",
        loop=loop_verdict(loop.stats, min_cycles=1000, max_cost=MAX_CYCLE_COST, p99_cost=0.025),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(accounting),
        notes=[
            f"{ok} answered, {failed} failed, {rate:.0f}/s, "
            f"p99 scrape {latencies[int(0.99 * len(latencies))] * 1e3:.1f} ms"
        ],
    )
    row.check()
    assert failed == 0
    assert ok == 200 * FLOOD_SECONDS
    assert rate > 180, f"the flood only reached {rate:.0f} scrapes/s"


def test_200_scrapes_per_second_on_one_kept_alive_connection(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """The same rate through one kept-alive connection, for 1 s."""
    telemetry = make_telemetry(port=0)
    bot = make_bot(telemetry)
    assert telemetry.metrics_url is not None
    with BackgroundLoop(bot, pause=0.002) as loop:
        assert loop.wait_cycles(20)
        ok, _, latencies = scrape_flood(
            telemetry.metrics_url, rate=200, seconds=1.0, keep_alive=True
        )
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1e3
    row = fault_row(
        "200 scrapes/s on one kept-alive connection",
        loop=loop_verdict(loop.stats, min_cycles=100, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(account(telemetry, ledger_of(bot))),
        notes=[f"{ok} of 200 answered in 1.2 s, p50 scrape {p50:.1f} ms"],
    )
    row.check()
    if ok < 190:
        raise ThroughputError(f"only {ok} of 200 scrapes answered in 1.2 s (p50 {p50:.1f} ms)")


def test_50_slow_loris_connections(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """50 clients each trickle a request head, a byte every 0.2 s: scrapes still answer at
    once, each loris is cut off at the 1 s read deadline, and their threads end."""
    # Loris and scraper share 127.0.0.1 here: no per-client cap (its own case holds it).
    limits = ServerLimits(read_timeout_seconds=1.0, max_connections_per_client=128)
    telemetry = make_telemetry(port=0, server_limits=limits)
    address = telemetry.server_address
    assert address is not None
    assert telemetry.metrics_url is not None
    bot = make_bot(telemetry)
    with BackgroundLoop(bot, pause=0.002) as loop:
        baseline = threading.active_count()
        loris = [socket.create_connection(address, timeout=5) for _ in range(50)]
        try:
            for sock in loris:
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            opened = time.monotonic()
            scrape_times = []
            while time.monotonic() - opened < 1.5:
                for sock in loris:
                    with contextlib.suppress(OSError):
                        sock.send(b"X")  # one byte of a header that never ends
                began = time.perf_counter()
                ok, failed, _ = scrape_flood(telemetry.metrics_url, rate=1000, seconds=0.001)
                scrape_times.append(time.perf_counter() - began if ok and not failed else 99.0)
                time.sleep(0.2)
            answers = [drain(sock) for sock in loris]
        finally:
            for sock in loris:
                sock.close()
        cut = sum(1 for a in answers if a.startswith(b"HTTP/1.1 408"))
        gone = wait_until(lambda: threading.active_count() <= baseline, 3.0)
    accounting = account(telemetry, ledger_of(bot))
    row = fault_row(
        "50 slow-loris connections",
        loop=loop_verdict(loop.stats, min_cycles=200, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(accounting),
        notes=[f"{cut}/50 cut off with 408, slowest scrape {max(scrape_times) * 1e3:.0f} ms"],
    )
    row.check()
    assert max(scrape_times) < 0.5, scrape_times
    assert cut == 50, answers
    assert gone, f"{threading.active_count()} threads, {baseline} before"


def drain(sock: socket.socket, timeout: float = 3.0) -> bytes:
    """What the server sends until it closes the connection."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


MALFORMED = [
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40,  # a TLS hello, plain port
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET / HTTP/1.1 extra\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /metrics HTTP/1.1\r\nContent-Length: 100000000\r\n\r\npartial",
    b"GET /\x00\xff\xfe HTTP/1.1\r\n\r\n",
    b"GET /%zz%00 HTTP/1.1\r\n\r\n",
    b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 500 + b"\r\n",
    b"GET /../../etc/passwd HTTP/1.1\r\n\r\n",
    b"GET http://evil.example/metrics HTTP/1.1\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\n",  # then the client hangs up
]


def test_malformed_http_requests(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Each malformed request gets a short 4xx (or just a close), never a 500 or a traceback;
    the endpoint keeps serving and the bot never notices."""
    telemetry = make_telemetry(port=0, server_limits=ServerLimits(read_timeout_seconds=0.5))
    address = telemetry.server_address
    assert address is not None
    assert telemetry.metrics_url is not None
    bot = make_bot(telemetry)
    statuses: list[str] = []
    bad: list[bytes] = []

    def send(raw: bytes) -> bytes:
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(raw)
            if raw.endswith(b"Host: x\r\n"):
                sock.shutdown(socket.SHUT_WR)
            return drain(sock)

    with BackgroundLoop(bot, pause=0.002) as loop:
        with ThreadPoolExecutor(max_workers=len(MALFORMED)) as pool:  # all at once
            answers = list(pool.map(send, MALFORMED))
        for raw, answer in zip(MALFORMED, answers, strict=True):
            status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "closed"
            statuses.append(status)
            if status == "500" or b"Traceback" in answer or b'File "' in answer:
                bad.append(raw[:40] + b" -> " + answer[:80])
        ok, failed, _ = scrape_flood(telemetry.metrics_url, rate=100, seconds=0.1)
        assert loop.wait_cycles(20)
    accounting = account(telemetry, ledger_of(bot))
    row = fault_row(
        "malformed HTTP requests",
        loop=loop_verdict(loop.stats, min_cycles=100, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(accounting),
        notes=[f"{len(MALFORMED)} requests: " + " ".join(sorted(set(statuses)))],
    )
    row.check()
    assert not bad, bad
    assert ok == 10
    assert failed == 0
    assert not accounting.errors, accounting.errors
