# Generated from docs/migration.md (```python block 1) by tests/test_docs_site.py: do not edit;
# regenerate with `python -m tests.test_docs_site`. Only type-checked (mypy --strict), never run.
# Doc snippets may leave a parameter unannotated for brevity; the body is still checked.
# mypy: disable-error-code="no-untyped-def"
import trader_telemetry as tt

telemetry = tt.configure(
    namespace="coinbase_trader",
    profile="prod",
    port=9001,  # while `serve` still answers on 9000; 9000 once it is stopped
    data_dir="var/data/coinbase_trader/prod",  # events.jsonl and metrics.json, as before
)
