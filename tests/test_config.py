"""TelemetryConfig and Thresholds: validated at construction, errors name field and value."""

from __future__ import annotations

import pytest

import trader_telemetry as tt


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
