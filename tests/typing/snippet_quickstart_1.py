# Generated from docs/quickstart.md (```python block 1) by tests/test_docs_site.py: do not edit;
# regenerate with `python -m tests.test_docs_site`. Only type-checked (mypy --strict), never run.
# Doc snippets may leave a parameter unannotated for brevity; the body is still checked.
# mypy: disable-error-code="no-untyped-def"
import time

import trader_telemetry as tt


def fetch_marks() -> dict[str, float]:  # your exchange client
    return {"BTC-PERP": 97_000.0, "ETH-PERP": 3_400.0}


def fetch_account() -> tuple[float, float]:
    return 10_000.0, 25.0  # equity, realized PnL


def trade(marks: dict[str, float]) -> None: ...


telemetry = tt.configure(namespace="my_bot")  # http://127.0.0.1:9000/metrics
while True:
    with tt.cycle_timer() as cycle:  # duration, outcome, error type; re-raises unchanged
        with cycle.phase("fetch_marks"):
            marks = fetch_marks()
        telemetry.record_marks(marks)  # staleness is computed when Prometheus scrapes
        equity, realized = fetch_account()
        telemetry.record_account(equity=equity, realized_pnl=realized)
        with cycle.phase("trade"):
            trade(marks)
    time.sleep(5)
