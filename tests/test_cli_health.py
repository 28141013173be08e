"""``trader-telemetry health`` against a real little HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from trader_telemetry.cli import main
from trader_telemetry.health.probe import health_url, render_text

from .cli_process import run_cli

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class CannedServer(ThreadingHTTPServer):
    """Answers ``GET /health`` with ``body`` and ``code`` (after ``delay`` seconds), 404 else."""

    daemon_threads = False  # server_close() joins the handler threads: nothing outlives a test
    block_on_close = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.code = 200
        self.body = b"{}"
        self.delay = 0.0
        self.paths: list[str] = []
        self.release = threading.Event()  # set on teardown: a delayed answer stops waiting
        self.gate: threading.Event | None = None  # when set: answer only once the gate opens

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, document: dict[str, Any], code: int = 200) -> None:
        self.body = json.dumps(document).encode()
        self.code = code


class _Handler(BaseHTTPRequestHandler):
    server: CannedServer

    def do_GET(self) -> None:
        server = self.server
        server.paths.append(self.path)
        if server.gate is not None:
            server.gate.wait(10)
        if server.delay:
            server.release.wait(server.delay)
        code, body = (server.code, server.body) if self.path == "/health" else (404, b"no")
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (timeout test): nothing to answer
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is not the place for an access log."""


@pytest.fixture
def server() -> Iterator[CannedServer]:
    httpd = CannedServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd
    finally:
        httpd.release.set()
        if httpd.gate is not None:
            httpd.gate.set()
        httpd.shutdown()
        thread.join()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours proxy variables; the probes here must go straight to 127.0.0.1."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def document(status: str, *checks: tuple[str, str, str]) -> dict[str, Any]:
    """A health document as the library serves it, with ``(name, status, message)`` checks."""
    counts = {s: sum(c[1] == s for c in checks) for s in ("healthy", "degraded", "unhealthy")}
    counts["unknown"] = sum(c[1] == "unknown" for c in checks)
    return {
        "status": status,
        "timestamp": "2026-11-25T12:00:00.000Z",
        "namespace": "trader",
        "profile": "prod",
        "summary": {**counts, "total": len(checks)},
        "checks": [
            {
                "name": name,
                "status": check_status,
                "message": message,
                "details": {},
                "timestamp": "2026-11-25T12:00:00.000Z",
                "duration_seconds": 0.0001,
            }
            for name, check_status, message in checks
        ],
        "cached": False,
        "age_seconds": 0.0,
    }


DEGRADED = document(
    "degraded",
    ("loop_heartbeat", "healthy", "last cycle 1.2 s ago"),
    ("marks_fresh", "healthy", "all 3 symbols fresh"),
    ("ws_reconnects", "degraded", "4 reconnects in the last hour"),
    ("circuit_breaker", "healthy", "closed"),
)


def health(*args: str) -> int:
    return main(["health", *args])


def assert_one_line_reason(err: str, *fragments: str) -> None:
    assert err.startswith("trader-telemetry health: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("healthy", 200, 0),
        ("degraded", 200, 1),
        ("unhealthy", 503, 2),
        ("unknown", 200, 1),  # during the start-up grace period
        ("unknown", 503, 1),  # after it: still "no data", not "known bad"
    ],
)
def test_exit_code_follows_the_status(
    server: CannedServer,
    capsys: pytest.CaptureFixture[str],
    status: str,
    code: int,
    expected: int,
) -> None:
    server.answer(document(status, ("loop_heartbeat", status, "whatever")), code)
    assert health("--url", f"{server.base_url}/health") == expected
    out, err = capsys.readouterr()
    assert out.startswith(f"OVERALL: {status.upper()} (")
    assert err == ""


def test_text_report_is_an_aligned_table(
    server: CannedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.answer(DEGRADED)
    assert health("--url", f"{server.base_url}/health") == 1
    assert capsys.readouterr().out.splitlines() == [
        "OVERALL: DEGRADED (3 healthy, 1 degraded, 0 unhealthy, 0 unknown)",
        "HEALTHY   loop_heartbeat   last cycle 1.2 s ago",
        "HEALTHY   marks_fresh      all 3 symbols fresh",
        "DEGRADED  ws_reconnects    4 reconnects in the last hour",
        "HEALTHY   circuit_breaker  closed",
    ]


def test_text_report_without_checks_or_summary() -> None:
    assert render_text({"status": "unknown"}) == (
        "OVERALL: UNKNOWN (0 healthy, 0 degraded, 0 unhealthy, 0 unknown)\n"
    )


def test_text_report_counts_checks_when_the_summary_is_missing() -> None:
    bare = {"status": "unhealthy", "checks": [{"name": "a", "status": "unhealthy"}]}
    assert render_text(bare).splitlines() == [
        "OVERALL: UNHEALTHY (0 healthy, 0 degraded, 1 unhealthy, 0 unknown)",
        "UNHEALTHY  a",
    ]


def test_text_report_keeps_each_check_on_one_line() -> None:
    doc = document("degraded", ("feed", "degraded", "line one\nline two"))
    assert render_text(doc).splitlines()[1] == "DEGRADED  feed  line one line two"


@pytest.mark.parametrize(("status", "code"), [("degraded", 200), ("unhealthy", 503)])
def test_json_format_prints_the_document_as_received(
    server: CannedServer, capsys: pytest.CaptureFixture[str], status: str, code: int
) -> None:
    sent = {**DEGRADED, "status": status}
    server.answer(sent, code)
    assert health("--url", f"{server.base_url}/health", "--format", "json") in (1, 2)
    out = capsys.readouterr().out
    received = json.loads(out)
    assert received == sent
    assert list(received) == list(sent)  # key order as received
    assert "\n  " in out  # pretty-printed


def test_unreachable_port_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert health("--url", f"http://127.0.0.1:{port}/health") == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_reason(err, "cannot reach", f"127.0.0.1:{port}")


def test_slow_server_times_out_with_exit_3(
    server: CannedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.answer(DEGRADED)
    server.delay = 5.0
    started = time.monotonic()
    assert health("--url", server.base_url, "--timeout", "0.5") == 3
    assert time.monotonic() - started < 3.0
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_reason(err, "within 0.5 s")


def test_404_exits_3(server: CannedServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.answer(DEGRADED)
    assert health("--url", f"{server.base_url}/elsewhere") == 3
    assert server.paths == ["/elsewhere"]
    assert_one_line_reason(capsys.readouterr().err, "HTTP 404")


@pytest.mark.parametrize("code", [500, 502, 204])
def test_other_http_codes_exit_3(
    server: CannedServer, capsys: pytest.CaptureFixture[str], code: int
) -> None:
    server.answer(DEGRADED, code)
    if code == 204:
        server.body = b""
    assert health("--url", server.base_url) == 3
    assert_one_line_reason(capsys.readouterr().err, f"HTTP {code}")


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        (b"<html><body>OK</body></html>", 200, "not JSON"),
        (b"<html><body>503 Service Unavailable</body></html>", 503, "not JSON"),  # a proxy's page
        (b"\xff\xfe\x00garbage", 200, "not JSON"),
        (b"[1, 2, 3]", 200, "not a JSON object"),
        (b'{"checks": []}', 200, 'no "status"'),
        (b'{"status": "ok"}', 200, 'unexpected "status"'),
        (b'{"status": "healthy", "checks": {"a": 1}}', 200, '"checks"'),
        (b"[" * 100_000, 200, "not JSON"),
    ],
)
def test_not_the_health_document_exits_3(
    server: CannedServer,
    capsys: pytest.CaptureFixture[str],
    body: bytes,
    code: int,
    reason: str,
) -> None:
    server.body = body
    server.code = code
    assert health("--url", server.base_url) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_reason(err, reason)


@pytest.mark.parametrize("suffix", ["", "/", "/metrics", "/metrics/", "/health"])
def test_base_and_metrics_urls_reach_health(
    server: CannedServer, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    server.answer(document("healthy", ("loop_heartbeat", "healthy", "ok")))
    assert health("--url", server.base_url + suffix) == 0
    assert server.paths == ["/health"]
    assert capsys.readouterr().out.startswith("OVERALL: HEALTHY")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000/health"),
        ("http://127.0.0.1:9000/", "http://127.0.0.1:9000/health"),
        ("http://127.0.0.1:9000/metrics", "http://127.0.0.1:9000/health"),
        ("http://127.0.0.1:9000/health", "http://127.0.0.1:9000/health"),
        ("https://bot.example:8443/bot1/metrics", "https://bot.example:8443/bot1/health"),
        ("http://127.0.0.1:9000/healthz", "http://127.0.0.1:9000/healthz"),
        ("http://127.0.0.1:9000/metrics?x=1", "http://127.0.0.1:9000/health?x=1"),
        ("127.0.0.1:9000", "http://127.0.0.1:9000/health"),
        ("localhost:9000/metrics", "http://localhost:9000/health"),
    ],
)
def test_health_url(given: str, expected: str) -> None:
    assert health_url(given) == expected


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/health", "file:///etc/passwd", "http://", "http://h:port/"]
)
def test_bad_url_is_a_usage_error(capsys: pytest.CaptureFixture[str], url: str) -> None:
    # 64 (EX_USAGE), not argparse's 2, which a probe would read as "unhealthy".
    assert health("--url", url) == 64
    assert "--url" in capsys.readouterr().err


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "inf", "soon"])
def test_bad_timeout_is_a_usage_error(capsys: pytest.CaptureFixture[str], timeout: str) -> None:
    assert health("--timeout", timeout) == 64
    assert "--timeout" in capsys.readouterr().err


def test_unknown_option_is_not_read_as_unhealthy(capsys: pytest.CaptureFixture[str]) -> None:
    assert health("--bogus") == 64
    assert "unrecognized arguments" in capsys.readouterr().err


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        health("--help")
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out
    assert "unknown (no data yet: not healthy, but not known to be bad either)" in out
    assert "http://127.0.0.1:9000/health" in out


def test_console_command_exit_code_end_to_end(server: CannedServer) -> None:
    server.answer({**DEGRADED, "status": "unhealthy"}, 503)
    result = run_cli("health", "--url", f"{server.base_url}/metrics", "--format", "json")
    assert result.returncode == 2, result.stderr
    assert json.loads(result.stdout)["status"] == "unhealthy"
    assert result.stderr == ""


def test_console_command_survives_a_closed_stdout(server: CannedServer) -> None:
    """``trader-telemetry health | head -0``: the exit code stands, no traceback."""
    server.answer(DEGRADED)
    server.gate = threading.Event()
    command = [sys.executable, "-m", "trader_telemetry", "health", "--url", server.base_url]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()  # the reader leaves before the answer is printed
        server.gate.set()
        try:
            stderr = process.stderr.read()
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert stderr == ""
