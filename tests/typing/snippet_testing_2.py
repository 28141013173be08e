# Generated from docs/testing.md (```python block 2) by tests/test_docs_site.py: do not edit;
# regenerate with `python -m tests.test_docs_site`. Only type-checked (mypy --strict), never run.
# Doc snippets may leave a parameter unannotated for brevity; the body is still checked.
# mypy: disable-error-code="no-untyped-def"
import pytest

import trader_telemetry as tt


@pytest.fixture
def telemetry_config() -> tt.TelemetryConfig:
    return tt.TelemetryConfig(
        namespace="coinbase_trader",
        port=0,
        thresholds=tt.Thresholds(expected_cycle_interval_seconds=2.0),
    )
