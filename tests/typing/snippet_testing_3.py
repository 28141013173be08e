# Generated from docs/testing.md (```python block 3) by tests/test_docs_site.py: do not edit;
# regenerate with `python -m tests.test_docs_site`. Only type-checked (mypy --strict), never run.
# Doc snippets may leave a parameter unannotated for brevity; the body is still checked.
# mypy: disable-error-code="no-untyped-def"
import trader_telemetry as tt
from trader_telemetry.testing import capture

with capture(namespace="bot", serve=False) as probe:
    with tt.cycle_timer():
        probe.record_account(equity=10_000.0, realized_pnl=25.0)
    probe.advance(60.0)
    assert probe.value("telemetry_account_age_seconds") == 60.0
    probe.assert_cycle(outcome="ok", count=1)
