# Generated from README.md (```python block 1) by tests/test_docs_site.py: do not edit;
# regenerate with `python -m tests.test_docs_site`. Only type-checked (mypy --strict), never run.
# Doc snippets may leave a parameter unannotated for brevity; the body is still checked.
# mypy: disable-error-code="no-untyped-def"
import trader_telemetry as tt

telemetry = tt.configure(namespace="coinbase_trader")  # serves http://127.0.0.1:9000/metrics


def run_cycle(bot):
    with tt.cycle_timer() as cycle:  # duration, outcome, error type; re-raises unchanged
        with cycle.phase("fetch_marks"):
            telemetry.record_marks(bot.fetch_marks())  # {"BTC-PERP": 97000.0, ...}
        account = bot.fetch_account()
        telemetry.record_account(
            equity=account.equity,
            realized_pnl=account.realized_pnl,
            unrealized_pnl=account.unrealized_pnl,
            funding_pnl=account.funding_pnl,
        )
        telemetry.record_daily_loss(bot.daily_loss, limit=bot.daily_loss_limit)
        with cycle.phase("place_orders"):
            bot.trade()
