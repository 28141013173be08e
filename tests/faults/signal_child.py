"""The child process of the signal cases (``python -m tests.faults.signal_child MODE``).

A signal handler runs on the main thread between two of its bytecodes, possibly in the middle
of a recording call; if that call holds a lock the handler then needs, the process hangs for
good. So each mode runs in a child process the parent can kill at a deadline, and prints one
JSON object (the figures of the fault row) on its last line of stdout.

``record``: the bot's loop runs on the main thread (no simulated I/O: nearly all its time is
recording) while ``SIGALRM`` arrives every 200 us and its handler records orders, fills,
rejections, stale marks, reconnects, an account, a daily loss, a bad value and the breaker.

``interrupt``: the bot's loop runs on a thread; the main thread records in a tight loop while
``SIGALRM`` raises ``KeyboardInterrupt`` every 200 us (what Ctrl-C does) inside those calls,
which the main thread catches and carries on. Afterwards both threads must still record.
"""

from __future__ import annotations

import faulthandler
import json
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import trader_telemetry as tt

from .accounting import account
from .harness import BackgroundLoop, LoopStats, ledger_of, make_bot, run_loop

PERIOD = 0.0002  # seconds between signals
STORM_SECONDS = 2.0
#: The handler's calls that the accounting checks, by ledger kind.
HANDLER_KINDS = ("orders", "fills", "rejections", "stale_marks", "ws_reconnects")


def stats_of(stats: LoopStats) -> dict[str, Any]:
    return {
        "cycles": stats.cycles,
        "raised": stats.raised,
        "unchanged": stats.unchanged,
        "changed": stats.changed[:3],
        "escaped": [repr(e) for e in stats.escaped[:3]],
    }


def record_mode(telemetry: tt.Telemetry) -> dict[str, Any]:
    bot = make_bot(telemetry, sleep=lambda seconds: None)
    handled: Counter[str] = Counter()

    def handler(signum: int, frame: object) -> None:
        n = handled["signals"]
        telemetry.record_order("SIG-PERP", "buy")
        telemetry.record_fill("SIG-PERP", "sell", quantity=1.0, price=2.0)
        telemetry.record_rejection("SIG-PERP", "signal")
        telemetry.record_stale_mark("SIG-PERP")
        telemetry.record_ws_reconnect("signal")
        telemetry.record_account(equity=1000.0 + n, realized_pnl=float(n))
        telemetry.record_daily_loss(float(n % 7), 10.0)
        telemetry.record_mark("SIG-PERP", 2.0)
        telemetry.record_account(equity=float("nan"))  # rejected: the self-monitor's path
        telemetry.set_circuit_breaker(n % 2 == 0, reason="signal")
        for kind in HANDLER_KINDS:
            handled[kind] += 1
        handled["signals"] += 1

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, PERIOD, PERIOD)
    try:
        stats = run_loop(bot, seconds=STORM_SECONDS)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
    ledger = ledger_of(bot)
    for kind in HANDLER_KINDS:
        ledger.calls[kind] += handled[kind]
    accounting = account(telemetry, ledger)
    return {
        "stats": stats_of(stats),
        "signals": handled["signals"],
        "lost": accounting.lost,
        "summary": accounting.summary(),
        "nothing_lost": accounting.nothing_lost,
    }


def interrupt_mode(telemetry: tt.Telemetry) -> dict[str, Any]:
    bot = make_bot(telemetry)
    attempted: Counter[str] = Counter()
    done: Counter[str] = Counter()
    interrupts = 0
    calls: tuple[tuple[str, Callable[[], object]], ...] = (
        ("orders", lambda: telemetry.record_order("KI-PERP", "buy")),
        ("rejections", lambda: telemetry.record_rejection("KI-PERP", "interrupt")),
        ("stale_marks", lambda: telemetry.record_stale_mark("KI-PERP")),
        ("ws_reconnects", lambda: telemetry.record_ws_reconnect("interrupt")),
        ("accounts", lambda: telemetry.record_account(equity=1.0, realized_pnl=2.0)),
        ("breaker", lambda: telemetry.set_circuit_breaker(False)),
    )
    armed = [False]  # Ctrl-C only lands inside the recording calls (and is caught there)

    def interrupt(signum: int, frame: object) -> None:
        if armed[0]:
            raise KeyboardInterrupt

    with BackgroundLoop(bot, pause=0.001) as loop:
        loop.wait_cycles(20)
        signal.signal(signal.SIGALRM, interrupt)
        signal.setitimer(signal.ITIMER_REAL, PERIOD, PERIOD)
        deadline = time.monotonic() + STORM_SECONDS
        i = 0
        while time.monotonic() < deadline:
            kind, call = calls[i % len(calls)]
            i += 1
            attempted[kind] += 1
            try:
                armed[0] = True
                call()
                armed[0] = False
                done[kind] += 1
            except KeyboardInterrupt:
                armed[0] = False
                interrupts += 1
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        # Afterwards: the main thread records, a scrape thread renders, the loop cycles.
        began = time.monotonic()
        telemetry.record_order("KI-PERP", "sell")
        attempted["orders"] += 1
        done["orders"] += 1
        scraped: list[int] = []
        scraper = threading.Thread(
            target=lambda: scraped.append(len(telemetry.render_metrics().body)), daemon=True
        )
        scraper.start()
        scraper.join(10)
        cycling = loop.wait_cycles(20, timeout=10)
        after = time.monotonic() - began
    ledger = ledger_of(bot)
    accounting = account(telemetry, ledger)
    # An interrupted call may or may not have been recorded: the counts must lie between
    # the calls that returned and the calls that were made.
    # accounting.lost is the bot's ledger minus what the metrics show, so minus what the
    # main thread recorded: that must lie between the calls that returned and those made.
    recorded = {k: -accounting.lost.get(k, 0) for k in ("orders", "rejections", "stale_marks")}
    short = {k: done[k] - n for k, n in recorded.items() if n < done[k]}
    extra = {k: n - attempted[k] for k, n in recorded.items() if n > attempted[k]}
    return {
        "stats": stats_of(loop.stats),
        "interrupts": interrupts,
        "calls": sum(attempted.values()),
        "scraped": bool(scraped),
        "cycling": cycling,
        "after_seconds": after,
        "short": short,
        "extra": extra,
        "summary": accounting.summary(),
    }


def main(mode: str) -> int:
    # If the child hangs, say where before the parent kills it.
    faulthandler.dump_traceback_later(40, exit=True)
    telemetry = tt.Telemetry(namespace="fault", serve=False)
    try:
        result = record_mode(telemetry) if mode == "record" else interrupt_mode(telemetry)
    finally:
        faulthandler.cancel_dump_traceback_later()
    telemetry.shutdown(timeout=2.0)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
