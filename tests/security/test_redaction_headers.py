"""Credentials that carry no ``key=`` of their own: Authorization and cookie headers (scheme
and credential), ``user:password@`` in URLs, bearer tokens, and the configured names in
JSON-escaped and URL-encoded text; the same rules in event fields, logs and the traceback of a
library thread that dies."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import trader_telemetry as tt
from trader_telemetry.redaction import REDACTED, Redactor


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: [REDACTED]"),
        ("Authorization: Basic dXNlcjpwYXNz\r\nHost: h", "Authorization: [REDACTED]\r\nHost: h"),
        ("proxy-authorization: Negotiate YII=", "proxy-authorization: [REDACTED]"),
        ("Cookie: session=abc; theme=dark", "Cookie: [REDACTED]"),
        ("Set-Cookie: id=a3f; Path=/; Secure", "Set-Cookie: [REDACTED]"),
        (
            "{'Authorization': 'Bearer t-1', 'Accept': '*/*'}",
            "{'Authorization': '[REDACTED]', 'Accept': '*/*'}",
        ),
        ('{"authorization": "Digest u=1, r=2"}', '{"authorization": "[REDACTED]"}'),
        (
            "postgres://alice:s3cr3t@db.local:5432/x failed",
            "postgres://alice:[REDACTED]@db.local:5432/x failed",
        ),
        ("redis://:pw@127.0.0.1/0", "redis://:[REDACTED]@127.0.0.1/0"),
        ("wss://u:p@h/ws?token=t", "wss://u:[REDACTED]@h/ws?token=[REDACTED]"),
        ("401 for Bearer eyJhbGciOi.payload.sig", "401 for Bearer [REDACTED]"),
        ("token=Bearer abc123 next", "token=[REDACTED] next"),
        (
            '{"body": "{\\"password\\": \\"hunter2\\", \\"user\\": \\"bob\\"}"}',
            '{"body": "{\\"password\\": \\"[REDACTED]\\", \\"user\\": \\"bob\\"}"}',
        ),
        (
            "GET /login?user=bob&password%3Dhunter2%26next%3D1",
            "GET /login?user=bob&password%3D[REDACTED]%26next%3D1",
        ),
        ("q=%7B%22token%22%3A%22t-777%22%7D", "q=%7B%22token%22%3A%22[REDACTED]%22%7D"),
        # Nothing to hide: left alone.
        ("https://api.example/v1/orders", "https://api.example/v1/orders"),
        ("mail alice@example.com at 12:30", "mail alice@example.com at 12:30"),
        ("cookie jar empty", "cookie jar empty"),
        ("basic auth failed", "basic auth failed"),
    ],
)
def test_credentials_in_text_are_redacted(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


def test_authorization_and_cookie_are_in_the_defaults() -> None:
    assert {"authorization", "cookie"} <= set(tt.TelemetryConfig().redact_keys)
    redactor = Redactor()
    for header in ("Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "cookies"):
        assert redactor.matches(header), header


def test_header_mappings_in_event_fields_are_redacted_whole() -> None:
    fields = {
        "headers": {
            "Authorization": "Bearer abc",
            "Proxy-Authorization": "Basic xyz",
            "Cookie": "a=1; b=2",
            "Accept": "application/json",
        },
        "pairs": [["Authorization", "Bearer abc"]],
        "url": "https://bob:pw@api.example/x",
    }
    assert Redactor().fields(fields) == {
        "headers": {
            "Authorization": REDACTED,
            "Proxy-Authorization": REDACTED,
            "Cookie": REDACTED,
            "Accept": "application/json",
        },
        "pairs": [["Authorization", f"Bearer {REDACTED}"]],
        "url": f"https://bob:{REDACTED}@api.example/x",
    }


def test_the_library_logs_redact_headers(caplog: pytest.LogCaptureFixture) -> None:
    telemetry = tt.Telemetry(serve=False, max_label_values=1)
    try:
        with caplog.at_level(logging.WARNING, logger="trader_telemetry"):
            telemetry.record_rejection("BTC-PERP", "first")
            # Past the label limit: the overflow warning quotes the value. The header's value
            # runs to the end of the line, so the rest of this message goes too: redacting
            # errs on the side of hiding.
            telemetry.record_rejection("BTC-PERP", "sent Authorization: Basic c2VjcmV0")
    finally:
        telemetry.shutdown()
    assert "orders_rejected_total{reason='sent Authorization: [REDACTED]" in caplog.text
    assert "c2VjcmV0" not in caplog.text


DYING_THREADS = """
import threading
import trader_telemetry as tt

def die(secret):
    raise RuntimeError(f"upstream refused Cookie: session={secret}")

tt.Telemetry(serve=False).shutdown()  # installs the hook, as any instance does
for name, secret in (("trader-telemetry-probe", "ck-ours"), ("bot-worker", "ck-theirs")):
    thread = threading.Thread(target=die, args=(secret,), name=name)
    thread.start()
    thread.join()
print("still running", flush=True)
"""


def test_a_dying_library_thread_prints_a_redacted_traceback() -> None:
    """A real process, no logging configured (the bot that never set it up): the library's
    thread's traceback reaches stderr redacted, through the library's logger; the bot's own
    thread keeps Python's default hook, unchanged."""
    done = subprocess.run(
        [sys.executable, "-c", DYING_THREADS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "still running\n"
    assert "trader-telemetry-probe ended with an error" in done.stderr
    assert "Cookie: [REDACTED]" in done.stderr
    assert "ck-ours" not in done.stderr
    assert "Exception in thread bot-worker" in done.stderr
    assert "ck-theirs" in done.stderr  # not ours to rewrite
