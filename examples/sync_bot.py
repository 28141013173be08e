"""A synchronous trading bot instrumented with trader_telemetry.

The exchange is a deterministic paper exchange (prices move on a fixed pattern, every 7th account
fetch times out), so the example runs anywhere; swap ``PaperExchange`` for your client.

Run it and open the URL it prints on its first line::

    python examples/sync_bot.py                       # until Ctrl-C, http://127.0.0.1:9000/metrics
    python examples/sync_bot.py --cycles 20 --port 0  # 20 cycles on a free port, then exit

What it shows: ``tt.configure()`` once, ``with tt.cycle_timer() as cycle`` around each pass of the
loop, ``cycle.phase(...)`` around the exchange calls, and the ``record_*`` calls. A cycle that
raises is recorded (``{ns}_cycle_errors_total{error_type="ExchangeTimeoutError"}``) and the same
exception reaches the loop, which decides what to do: here, try again next cycle.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import trader_telemetry as tt

SYMBOLS = {"BTC-PERP": 97_000.0, "ETH-PERP": 3_400.0}
DAILY_LOSS_LIMIT = 1_500.0


class ExchangeTimeoutError(Exception):
    """The exchange did not answer in time."""


@dataclass(frozen=True)
class Account:
    """What the exchange says about the account."""

    equity: float
    realized_pnl: float
    unrealized_pnl: float
    funding_pnl: float


class PaperExchange:
    """A deterministic stand-in for an exchange client: one long position per symbol."""

    def __init__(self) -> None:
        self.cycle = 0
        self.position = dict.fromkeys(SYMBOLS, 0.0)
        self.realized = 0.0

    def fetch_marks(self) -> dict[str, float]:
        """Mark prices: a fixed zig-zag around the start price."""
        step = (self.cycle % 5) - 2
        return {symbol: price * (1 + step / 1_000) for symbol, price in SYMBOLS.items()}

    def fetch_account(self) -> Account:
        """The account; every 7th call times out."""
        if self.cycle % 7 == 0:
            raise ExchangeTimeoutError("GET /accounts: no answer in 2 s")
        unrealized = sum(
            qty * (mark - SYMBOLS[symbol]) for symbol, (qty, mark) in self._books().items()
        )
        return Account(
            equity=10_000.0 + self.realized + unrealized,
            realized_pnl=self.realized,
            unrealized_pnl=unrealized,
            funding_pnl=-0.25 * self.cycle,
        )

    def buy(self, symbol: str, quantity: float, price: float) -> float:
        """Fill a buy at ``price``; returns the fee."""
        self.position[symbol] += quantity
        self.realized += 0.5  # a maker rebate, so PnL moves
        return quantity * price * 0.0001

    def _books(self) -> dict[str, tuple[float, float]]:
        marks = self.fetch_marks()
        return {symbol: (self.position[symbol], marks[symbol]) for symbol in SYMBOLS}


def run_cycle(telemetry: tt.Telemetry, exchange: PaperExchange) -> None:
    """One pass of the control loop: the part the library times."""
    exchange.cycle += 1
    with tt.cycle_timer() as cycle:
        with cycle.phase("fetch_marks"):
            marks = exchange.fetch_marks()
        telemetry.record_marks(marks)
        with cycle.phase("fetch_account"):
            account = exchange.fetch_account()  # may raise: recorded, then re-raised unchanged
        telemetry.record_account(
            equity=account.equity,
            realized_pnl=account.realized_pnl,
            unrealized_pnl=account.unrealized_pnl,
            funding_pnl=account.funding_pnl,
        )
        telemetry.record_daily_loss(max(0.0, -account.realized_pnl), limit=DAILY_LOSS_LIMIT)
        with cycle.phase("place_orders"):
            symbol = "BTC-PERP" if exchange.cycle % 2 else "ETH-PERP"
            telemetry.record_order(symbol, "buy")
            fee = exchange.buy(symbol, 0.01, marks[symbol])
            telemetry.record_fill(symbol, "buy", quantity=0.01, price=marks[symbol], fee=fee)
        telemetry.record_exposures(
            {s: exchange.position[s] * marks[s] for s in SYMBOLS if exchange.position[s]}
        )


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM (``docker stop``, systemd), for a clean shutdown."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The example's options (``--cycles`` and ``--port 0`` let the test suite bound it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--cycles", type=int, default=0, help="stop after N cycles (0: never)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between cycles")
    parser.add_argument("--port", type=int, default=9000, help="metrics port (0: a free one)")
    parser.add_argument("--namespace", default="trader", help="metric prefix")
    parser.add_argument(
        "--linger",
        type=float,
        default=0.0,
        help="after the last cycle, keep serving this long so a scrape sees the final values",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Configure, loop, shut down; the exit code is 0 after a clean stop."""
    args = parse_args(argv)
    # host: loopback only; put the bot behind a web config (docs/security.md) to expose it.
    telemetry = tt.configure(namespace=args.namespace, host="127.0.0.1", port=args.port)
    print(telemetry.metrics_url, flush=True)
    stop = stop_on_signals()
    exchange = PaperExchange()
    try:
        while not stop.is_set() and (args.cycles == 0 or exchange.cycle < args.cycles):
            try:
                run_cycle(telemetry, exchange)
            except ExchangeTimeoutError as exc:
                print(f"cycle {exchange.cycle}: {exc}; retrying next cycle", flush=True)
            stop.wait(args.interval)
        print(f"done: {exchange.cycle} cycles", flush=True)
        stop.wait(args.linger)
    finally:
        tt.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
