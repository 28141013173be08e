"""Secrets in label values, event fields and the library's logs are redacted everywhere the
library writes them: the exposition, /metrics.json, /health, events.jsonl and the logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import trader_telemetry as tt
from trader_telemetry.health import HealthCheckResult, HealthStatus
from trader_telemetry.redaction import REDACTED, Redactor

from .conftest import fetch

SECRETS = ("abc123", "tok-777", "hunter2", "s3cr3t", "pp-999", "-----BEGIN", "zz-breaker")


@pytest.mark.parametrize(
    ("key", "redacted"),
    [
        ("key", True),
        ("api_key", True),
        ("apiKey", True),
        ("APIKey", True),
        ("X-Api-Key", True),
        ("apikey", True),
        ("private_key", True),
        ("privateKey", True),
        ("api_secret", True),
        ("client_secrets", True),
        ("access_token", True),
        ("refreshToken", True),
        ("password", True),
        ("db.password", True),
        ("passphrase", True),
        ("symbol", False),
        ("side", False),
        ("keyboard", False),
        ("reason", False),
        ("stream", False),
        ("passwd", False),  # not a configured name: add it to redact_keys if you use it
    ],
)
def test_which_keys_are_redacted_by_default(key: str, redacted: bool) -> None:
    assert Redactor().matches(key) is redacted


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login failed: token=abc123 for alice", "login failed: token=[REDACTED] for alice"),
        (
            "GET /v1/orders?api_key=abc123&symbol=BTC",
            "GET /v1/orders?api_key=[REDACTED]&symbol=BTC",
        ),
        ('{"password": "hun ter2", "user": "bob"}', '{"password": "[REDACTED]", "user": "bob"}'),
        ("secret: 's3 cr3t' next", "secret: '[REDACTED]' next"),
        ("url=https://h/ws?token=abc123", "url=https://h/ws?token=[REDACTED]"),
        ("API_KEY = abc123", "API_KEY = [REDACTED]"),
        ("BTC-PERP", "BTC-PERP"),
        ("timeout after 5s", "timeout after 5s"),
        ("key rotation due", "key rotation due"),  # no value next to the name: nothing to hide
    ],
)
def test_secrets_inside_text_are_redacted(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


def test_fields_are_redacted_recursively() -> None:
    fields = {
        "user": "bob",
        "auth": {"api_key": "abc123", "scopes": ["read", "token=tok-777"]},
        "orders": [{"id": 1, "signature_secret": "s3cr3t"}],
        "note": "password: hunter2",
        "count": 3,
    }
    assert Redactor().fields(fields) == {
        "user": "bob",
        "auth": {"api_key": REDACTED, "scopes": ["read", "token=[REDACTED]"]},
        "orders": [{"id": 1, "signature_secret": REDACTED}],
        "note": "password: [REDACTED]",
        "count": 3,
    }
    assert fields["auth"] == {"api_key": "abc123", "scopes": ["read", "token=tok-777"]}  # a copy


def test_configured_keys_replace_the_defaults_and_empty_turns_it_off() -> None:
    custom = Redactor(["account_id"])
    assert custom.fields({"account_id": "A-1", "api_key": "k"}) == {
        "account_id": REDACTED,
        "api_key": "k",
    }
    off = Redactor(())
    assert not off.enabled
    assert off.fields({"password": "p"}) == {"password": "p"}
    assert off.text("token=abc") == "token=abc"


def test_a_label_named_like_a_secret_is_redacted_whole() -> None:
    redactor = Redactor()
    assert redactor.label("api_key", "anything") == REDACTED
    assert redactor.label("reason", "rejected: secret=s3cr3t") == "rejected: secret=[REDACTED]"


def test_config_field_and_environment() -> None:
    assert tt.TelemetryConfig().redact_keys == (
        "key",
        "secret",
        "token",
        "password",
        "passphrase",
        "private_key",
        "authorization",
        "cookie",
    )
    env = {"TRADER_TELEMETRY_REDACT_KEYS": "key, account_id ,"}
    assert tt.TelemetryConfig.from_env(env).redact_keys == ("key", "account_id")
    assert tt.TelemetryConfig(redact_keys=["a"]).redact_keys == ("a",)  # type: ignore[arg-type]
    with pytest.raises(tt.ConfigurationError, match=r"TelemetryConfig\.redact_keys"):
        tt.TelemetryConfig(redact_keys=("ok", ""))


class _LeakyCheck:
    name = "exchange"

    def check(self) -> HealthCheckResult:
        return HealthCheckResult(
            self.name,
            HealthStatus.DEGRADED,
            "auth failed for https://api.example/?api_key=abc123",
            details={"passphrase": "pp-999", "latency_ms": 12},
        )


@pytest.fixture
def leaky(tmp_path: Path) -> Iterator[tt.Telemetry]:
    """A bot whose label values, events and health messages carry secrets."""
    telemetry = tt.Telemetry(
        namespace="red",
        port=0,
        data_dir=str(tmp_path),
        max_label_values=3,
        health_cache_seconds=0,
    )
    telemetry.health.register(_LeakyCheck())
    telemetry.record_rejection("BTC-PERP", "invalid signature, api_key=abc123")
    telemetry.record_ws_reconnect("wss://feed.example/ws?token=tok-777")
    telemetry.set_circuit_breaker(True, reason="guard password=hunter2")
    telemetry.record_exposure("private_key=-----BEGIN", 10.0)
    telemetry.event(
        "login",
        user="bob",
        password="hunter2",  # noqa: S106 - the secret the test hunts for
        credentials={"api_secret": "s3cr3t", "passphrase": "pp-999"},
        note="retrying with token=tok-777",
    )
    yield telemetry
    telemetry.shutdown()


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


def test_label_values_are_redacted_in_the_exposition(leaky: tt.Telemetry) -> None:
    assert leaky.metrics_url is not None
    status, _, body = fetch(leaky.metrics_url)
    assert status == 200
    text = body.decode()
    assert_clean(text)
    assert 'reason="invalid signature, api_key=[REDACTED]"' in text
    assert 'stream="wss://feed.example/ws?token=[REDACTED]"' in text
    assert 'reason="guard password=[REDACTED]"' in text


def test_metrics_json_and_health_are_redacted(leaky: tt.Telemetry) -> None:
    assert leaky.metrics_url is not None
    base = leaky.metrics_url.removesuffix("/metrics")
    status, _, body = fetch(base + "/metrics.json")
    assert status == 200
    assert_clean(body.decode())
    document = json.loads(body)
    assert document["risk"]["circuit_breaker_reason"] == "guard password=[REDACTED]"
    assert "private_key=[REDACTED]" in document["positions"]
    _, _, body = fetch(base + "/health")
    assert_clean(body.decode())
    assert "api_key=[REDACTED]" in body.decode()


def test_events_file_is_redacted(leaky: tt.Telemetry, tmp_path: Path) -> None:
    leaky.shutdown()  # flushes the writer
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert_clean("\n".join(lines))
    events = [json.loads(line) for line in lines]
    login = next(e for e in events if e["event_type"] == "login")
    assert login["user"] == "bob"
    assert login["password"] == REDACTED
    assert login["credentials"] == {"api_secret": REDACTED, "passphrase": REDACTED}
    assert login["note"] == "retrying with token=[REDACTED]"
    kinds = {e["event_type"] for e in events}
    assert {"rejection", "ws_reconnect", "circuit_breaker"} <= kinds


def test_the_librarys_logs_are_redacted(
    leaky: tt.Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding(dict[str, float]):
        def items(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("feed refused: password=hunter2")

    with caplog.at_level(logging.DEBUG, logger="trader_telemetry"):
        # Over the label limit (3): the overflow warning quotes the value.
        for i in range(5):
            leaky.record_rejection("BTC-PERP", f"nonce {i} reused, secret=s3cr3t")
        # An internal fault is logged with its exception and traceback.
        leaky.record_marks(Exploding())
    assert "__overflow__" in caplog.text
    assert "internal fault" in caplog.text
    assert "password=[REDACTED]" in caplog.text
    assert_clean(caplog.text)


def test_redaction_can_be_turned_off(tmp_path: Path) -> None:
    telemetry = tt.Telemetry(namespace="plain", serve=False, data_dir=str(tmp_path), redact_keys=())
    telemetry.record_rejection("BTC-PERP", "api_key=abc123")
    telemetry.event("login", password="hunter2")  # noqa: S106 - a test secret
    assert 'reason="api_key=abc123"' in telemetry.render_metrics().body.decode()
    telemetry.shutdown()
    assert "hunter2" in (tmp_path / "events.jsonl").read_text()
