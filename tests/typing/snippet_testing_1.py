# Generated from docs/testing.md (```python block 1) by tests/test_docs_site.py: do not edit;
# regenerate with `python -m tests.test_docs_site`. Only type-checked (mypy --strict), never run.
# Doc snippets may leave a parameter unannotated for brevity; the body is still checked.
# mypy: disable-error-code="no-untyped-def"
import pytest

import trader_telemetry as tt
from trader_telemetry.testing import TelemetryProbe


def run_cycle(fail: bool) -> None:  # the bot's code, instrumented as usual
    with tt.cycle_timer() as cycle:
        with cycle.phase("fetch_account"):
            if fail:
                raise TimeoutError("exchange did not answer")
        telemetry = tt.get_telemetry()
        if telemetry is not None:
            telemetry.record_mark("BTC-PERP", 97_000.0)


def test_a_timeout_is_an_error_cycle(telemetry: TelemetryProbe) -> None:
    with pytest.raises(TimeoutError):
        run_cycle(fail=True)
    telemetry.assert_cycle(outcome="error", error_type="TimeoutError")
    assert telemetry.value("cycle_errors_total", error_type="TimeoutError") == 1


def test_a_quiet_feed_goes_stale(telemetry: TelemetryProbe) -> None:
    run_cycle(fail=False)
    telemetry.advance(45.0)  # the fake clock: no sleeping
    assert telemetry.value("market_data_staleness_seconds", symbol="BTC-PERP") == 45.0
    assert telemetry.cycles("ok") == 1
