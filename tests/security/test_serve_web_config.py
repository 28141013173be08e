"""``trader-telemetry serve --web-config``: the file exporter behind TLS and basic auth, run as
the real command in its own process."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import basic, client_context, fetch, tls_section, users_section, write_web_config
from .pki import Pki


def test_serve_with_tls_and_basic_auth(tmp_path: Path, pki: Pki, password_hash: str) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"timestamp": "2026-11-25T12:00:00Z", "equity": 4321.0}))
    web = write_web_config(tmp_path, tls_section(pki) + users_section(password_hash))
    process = subprocess.Popen(
        [sys.executable, "-m", "trader_telemetry", "serve", "--metrics-file", str(metrics),
         "--port", "0", "--interval", "0", "--web-config", str(web), "--health-without-auth"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"metrics on (https://127\.0\.0\.1:\d+)/metrics", line)
        assert found, line
        base = found.group(1)
        context = client_context(pki)
        status, _, body = fetch(f"{base}/metrics", context=context, authorization=basic())
        assert status == 200
        assert re.search(rb"^trader_equity(\{[^}]*\})? 4321(\.0)?$", body, re.MULTILINE)
        status, headers, _ = fetch(f"{base}/metrics", context=context)
        assert status == 401
        assert headers["WWW-Authenticate"].startswith("Basic")
        status, _, _ = fetch(f"{base}/health", context=context)
        assert status in {200, 503}  # open without credentials, as asked
    finally:
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=5)
    assert process.returncode == 0


def test_serve_with_a_bad_web_config_names_the_field(tmp_path: Path) -> None:
    web = write_web_config(tmp_path, "tls_server_config:\n  cert_file: /nonexistent.pem\n")
    result = subprocess.run(
        [sys.executable, "-m", "trader_telemetry", "serve", "--events-file",
         str(tmp_path / "e.jsonl"), "--port", "0", "--web-config", str(web)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert "key_file" in result.stderr or "cert_file" in result.stderr
