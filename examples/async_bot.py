"""An asyncio trading bot: a control loop and two background tasks, all instrumented.

Three tasks run at once on one event loop:

* ``market_data``: a simulated websocket feed, 100 ticks a second. Every tick is ``record_mark``
  (a timestamp store: staleness is computed when Prometheus scrapes); half a second in, and then
  every 15 s, the socket "drops" and the task counts a reconnect.
* ``order_acks``: waits for the exchange's acknowledgements and records each order's latency.
* ``trading_loop``: one cycle per interval, ``async with tt.cycle_timer()``. Inside a cycle the
  account and the open orders are fetched concurrently with ``asyncio.gather``; each fetch opens
  its own ``tt.phase(...)`` in its own task, and the phases still attach to the right cycle
  (the current cycle is a ``contextvars`` variable, copied into each task).

Run it and open the URL it prints on its first line::

    python examples/async_bot.py                       # until Ctrl-C, port 9000
    python examples/async_bot.py --cycles 20 --port 0  # 20 cycles on a free port, then exit
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

import trader_telemetry as tt

SYMBOLS = {"BTC-PERP": 97_000.0, "ETH-PERP": 3_400.0, "SOL-PERP": 180.0}
TICK_SECONDS = 0.01
RECONNECT_EVERY = 1_500  # feed messages between two simulated disconnects (15 s)


class ExchangeTimeoutError(Exception):
    """The exchange did not answer in time."""


@dataclass
class PaperExchange:
    """An asynchronous stand-in for an exchange: every call awaits a little, like the network."""

    latency: float = 0.002
    cycle: int = 0
    equity: float = 25_000.0
    acks: asyncio.Queue[tuple[str, float]] = field(default_factory=asyncio.Queue)
    order_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def fetch_equity(self) -> float:
        """Account equity; the 9th cycle's call times out."""
        async with tt.phase("fetch_account"):
            await asyncio.sleep(self.latency)
            if self.cycle % 9 == 0:
                raise ExchangeTimeoutError("GET /accounts timed out")
            return self.equity

    async def fetch_open_orders(self) -> int:
        """How many orders are still open."""
        async with tt.phase("fetch_orders"):
            await asyncio.sleep(self.latency)
            return self.cycle % 3

    async def submit(self, symbol: str, side: str, sent: float) -> None:
        """Send an order; its acknowledgement arrives later on the ``acks`` queue."""
        await asyncio.sleep(self.latency)
        order = f"{symbol}-{next(self.order_ids)}"
        asyncio.get_running_loop().call_later(self.latency * 2, self.acks.put_nowait, (order, sent))


async def market_data(telemetry: tt.Telemetry, stop: asyncio.Event) -> None:
    """The feed task: marks as fast as they come, reconnects counted."""
    prices = dict(SYMBOLS)
    for message in itertools.count(1):
        if stop.is_set():
            return
        if message % RECONNECT_EVERY == 50:
            telemetry.record_ws_reconnect("marks")  # the socket dropped; we reconnected
        symbol = list(prices)[message % len(prices)]
        prices[symbol] *= 1 + ((message % 7) - 3) / 10_000
        telemetry.record_mark(symbol, prices[symbol])
        await asyncio.sleep(TICK_SECONDS)


async def order_acks(telemetry: tt.Telemetry, exchange: PaperExchange) -> None:
    """The acknowledgement task: order latency = ack time - submit time."""
    loop = asyncio.get_running_loop()
    while True:
        _order, sent = await exchange.acks.get()
        telemetry.record_order_latency(loop.time() - sent)


async def run_cycle(telemetry: tt.Telemetry, exchange: PaperExchange) -> None:
    """One pass of the control loop."""
    exchange.cycle += 1
    async with tt.cycle_timer() as cycle:
        # Two requests in flight at once; each opens its phase in its own task.
        equity, _open_orders = await asyncio.gather(
            exchange.fetch_equity(), exchange.fetch_open_orders()
        )
        telemetry.record_account(equity=equity, realized_pnl=0.0, unrealized_pnl=0.0)
        async with cycle.phase("place_orders"):
            side = "buy" if exchange.cycle % 2 else "sell"
            sent = asyncio.get_running_loop().time()
            await asyncio.gather(
                *(exchange.submit(symbol, side, sent) for symbol in ("BTC-PERP", "ETH-PERP"))
            )
            for symbol in ("BTC-PERP", "ETH-PERP"):
                telemetry.record_order(symbol, side)


async def trading_loop(
    telemetry: tt.Telemetry, exchange: PaperExchange, args: argparse.Namespace, stop: asyncio.Event
) -> None:
    """Cycles until ``--cycles`` or a stop signal; errors are the bot's to handle."""
    while not stop.is_set() and (args.cycles == 0 or exchange.cycle < args.cycles):
        try:
            await run_cycle(telemetry, exchange)
        except ExchangeTimeoutError as exc:
            print(f"cycle {exchange.cycle}: {exc}; retrying next cycle", flush=True)
        await sleep_unless(stop, args.interval)


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def amain(args: argparse.Namespace) -> int:
    """Start the tasks, run the loop, stop the tasks, shut down."""
    telemetry = tt.configure(namespace=args.namespace, host="127.0.0.1", port=args.port)
    print(telemetry.metrics_url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    exchange = PaperExchange()
    background = [
        asyncio.create_task(market_data(telemetry, stop), name="market_data"),
        asyncio.create_task(order_acks(telemetry, exchange), name="order_acks"),
    ]
    try:
        await trading_loop(telemetry, exchange, args, stop)
        print(f"done: {exchange.cycle} cycles", flush=True)
        await sleep_unless(stop, args.linger)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        tt.shutdown()
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The example's options (``--cycles`` and ``--port 0`` let the test suite bound it)."""
    parser = argparse.ArgumentParser(description="An asyncio bot instrumented with tt.")
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


if __name__ == "__main__":
    raise SystemExit(asyncio.run(amain(parse_args())))
