# Generated from docs/index.md (```python block 1) by tests/test_docs_site.py: do not edit;
# regenerate with `python -m tests.test_docs_site`. Only type-checked (mypy --strict), never run.
# Doc snippets may leave a parameter unannotated for brevity; the body is still checked.
# mypy: disable-error-code="no-untyped-def"
import trader_telemetry as tt

telemetry = tt.configure(namespace="coinbase_trader")  # serves http://127.0.0.1:9000/metrics

with tt.cycle_timer() as cycle:  # duration, outcome, error type; re-raises unchanged
    with cycle.phase("fetch_marks"):
        telemetry.record_marks({"BTC-PERP": 97_000.0})
    telemetry.record_account(equity=10_000.0, realized_pnl=25.0)
