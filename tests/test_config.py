"""TelemetryConfig and Thresholds: validated at construction, errors name field and value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import trader_telemetry as tt
from trader_telemetry.config import load_thresholds


def test_defaults_are_secure_and_documented() -> None:
    cfg = tt.TelemetryConfig()
    assert cfg.host == "127.0.0.1"
    assert cfg.port == 9000
    assert cfg.namespace == "trader"
    assert cfg.max_label_values == 200
    assert cfg.target_info is False
    assert cfg.scope_labels is False


@pytest.mark.parametrize(
    ("field", "bad", "fragment"),
    [
        ("port", 70000, "TelemetryConfig.port must be an integer in 0..65535, got 70000"),
        ("port", -1, "got -1"),
        ("port", "9000", "got '9000'"),
        ("port", True, "got True"),
        ("namespace", "coinbase-trader", "TelemetryConfig.namespace must be a Prometheus name"),
        ("namespace", "", "got ''"),
        ("host", "", "TelemetryConfig.host"),
        ("host", "127.0.0.1 ", "TelemetryConfig.host"),
        ("profile", "../etc", "TelemetryConfig.profile"),
        ("max_label_values", 0, "TelemetryConfig.max_label_values must be an integer >= 1, got 0"),
        ("clock", object(), "TelemetryConfig.clock"),
        (
            "reader",
            "fast",
            "TelemetryConfig.reader must be one of native, otel-prometheus, got 'fast'",
        ),
        ("target_info", "yes", "TelemetryConfig.target_info must be a bool"),
        ("warning_interval_seconds", 0, "TelemetryConfig.warning_interval_seconds"),
    ],
)
def test_bad_values_raise_naming_field_and_value(field: str, bad: object, fragment: str) -> None:
    with pytest.raises(tt.ConfigurationError) as info:
        tt.TelemetryConfig(**{field: bad})  # type: ignore[arg-type]
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_thresholds_defaults_are_the_playbooks() -> None:
    t = tt.Thresholds()
    assert (t.cycle_duration_warning_seconds, t.cycle_duration_critical_seconds) == (3.0, 6.0)
    assert (t.cycle_errors_warning, t.cycle_errors_critical) == (1, 3)
    assert (t.daily_loss_warning_ratio, t.daily_loss_critical_ratio) == (0.8, 1.0)
    assert (t.staleness_warning_seconds, t.staleness_critical_seconds) == (10.0, 30.0)
    assert (t.account_age_warning_seconds, t.account_age_critical_seconds) == (900.0, 1800.0)
    assert t.ws_reconnects_critical == 5
    assert t.heartbeat_warning_seconds == 3 * t.expected_cycle_interval_seconds
    assert t.heartbeat_critical_seconds == 10 * t.expected_cycle_interval_seconds


def test_thresholds_reject_inverted_and_non_positive_values() -> None:
    with pytest.raises(tt.ConfigurationError, match="cycle_duration_warning_seconds"):
        tt.Thresholds(cycle_duration_warning_seconds=7.0)
    with pytest.raises(tt.ConfigurationError, match=r"Thresholds.staleness_warning_seconds .*nan"):
        tt.Thresholds(staleness_warning_seconds=float("nan"))


def test_from_env_reads_our_variables_and_otel_fallbacks() -> None:
    cfg = tt.TelemetryConfig.from_env(
        {
            "TRADER_TELEMETRY_NAMESPACE": "coinbase_trader",
            "TRADER_TELEMETRY_PROFILE": "canary",
            "OTEL_EXPORTER_PROMETHEUS_HOST": "::1",
            "OTEL_EXPORTER_PROMETHEUS_PORT": "9464",
            "TRADER_TELEMETRY_MAX_LABEL_VALUES": "50",
            "TRADER_TELEMETRY_TARGET_INFO": "true",
        }
    )
    assert (cfg.namespace, cfg.profile, cfg.host, cfg.port) == (
        "coinbase_trader",
        "canary",
        "::1",
        9464,
    )
    assert cfg.max_label_values == 50
    assert cfg.target_info is True


def test_from_env_own_variables_win_and_keywords_win_over_env() -> None:
    env = {"TRADER_TELEMETRY_PORT": "9100", "OTEL_EXPORTER_PROMETHEUS_PORT": "9464"}
    assert tt.TelemetryConfig.from_env(env).port == 9100
    assert tt.TelemetryConfig.from_env(env, port=0).port == 0


@pytest.mark.parametrize(
    ("var", "raw"),
    [("TRADER_TELEMETRY_PORT", "ninety"), ("TRADER_TELEMETRY_SERVE", "maybe")],
)
def test_from_env_malformed_variable_is_named(var: str, raw: str) -> None:
    with pytest.raises(tt.ConfigurationError, match=f"environment variable {var} .*{raw!r}"):
        tt.TelemetryConfig.from_env({var: raw})


def test_from_env_reads_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADER_TELEMETRY_PORT", "0")
    assert tt.TelemetryConfig.from_env().port == 0


def test_configure_validates_before_starting_anything() -> None:
    with pytest.raises(tt.ConfigurationError, match="port"):
        tt.configure(port=-5)
    assert tt.get_telemetry() is None


def test_slow_cycle_share_must_be_below_one() -> None:
    assert tt.Thresholds(cycle_duration_slow_share=0.5).cycle_duration_slow_share == 0.5
    with pytest.raises(tt.ConfigurationError, match="cycle_duration_slow_share"):
        tt.Thresholds(cycle_duration_slow_share=1.0)


def test_from_env_reads_the_thresholds_file(tmp_path: Path) -> None:
    """The one thresholds file the bot, ops render and the report share."""
    path = tmp_path / "thresholds.toml"
    path.write_text(
        "[thresholds]\nexpected_cycle_interval_seconds = 1.0\nstaleness_warning_seconds = 5\n"
    )
    cfg = tt.TelemetryConfig.from_env({"TRADER_TELEMETRY_THRESHOLDS": str(path)})
    assert cfg.thresholds == load_thresholds(path)
    assert cfg.thresholds.heartbeat_warning_seconds == 3.0
    assert cfg.thresholds.staleness_warning_seconds == 5.0
    # The interval variable still works, and wins over the file's value.
    both = tt.TelemetryConfig.from_env(
        {
            "TRADER_TELEMETRY_THRESHOLDS": str(path),
            "TRADER_TELEMETRY_EXPECTED_CYCLE_INTERVAL_SECONDS": "2",
        }
    )
    assert both.thresholds.expected_cycle_interval_seconds == 2.0
    assert both.thresholds.staleness_warning_seconds == 5.0


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("missing.toml", None, "cannot read thresholds file"),
        ("t.toml", "nope = 1\n", "unknown field(s) nope"),
        ("t.json", '{"staleness_warning_seconds": 40}', "must not exceed"),
        ("t.json", '{"staleness_warning_seconds": 1' + "0" * 400 + "}", "too large"),
        ("t.json", "[1, 2]", "must hold a table"),
        ("t.toml", "= broken", "is not valid"),
    ],
)
def test_a_bad_thresholds_file_names_the_file(
    tmp_path: Path, name: str, content: str | None, fragment: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(tt.ConfigurationError, match=re.escape(fragment)) as caught:
        tt.TelemetryConfig.from_env({"TRADER_TELEMETRY_THRESHOLDS": str(path)})
    assert str(path) in str(caught.value)


def test_ops_uses_the_config_layers_loader() -> None:
    from trader_telemetry.ops.options import load_thresholds as ops_loader

    assert ops_loader is load_thresholds
