"""OTLP collector faults: down, slow, answering 4xx, with every cycle's trace kept and handed
to the exporter (``slow_cycle_seconds`` near zero), against a real OTLP/HTTP receiver."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

import trader_telemetry as tt
from tests.otlp_receiver import OtlpHttpReceiver

from .accounting import Accounting, account
from .conftest import RecordRow
from .harness import ledger_of, make_bot, measured, run_loop
from .summary import Verdict, exceptions_verdict, loop_verdict, lost_verdict

CYCLES = 300
# A blocking export costs the caller about a second (a dead endpoint's retries) or the
# collector's delay; a cycle here costs well under a millisecond of its own.
MAX_CYCLE_COST = 0.4
P99_CYCLE_COST = 0.02


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def traced(make: Callable[..., tt.Telemetry], endpoint: str) -> tt.Telemetry:
    config = tt.TracingConfig(
        endpoint=endpoint,
        protocol="http/protobuf",
        slow_cycle_seconds=1e-9,  # every cycle's trace is kept and exported
        export_timeout_seconds=1.0,
    )
    return make(tracing=config)


def trace_accounting(
    telemetry: tt.Telemetry, accounting: Accounting, received_roots: int
) -> tuple[int, int]:
    """Add the traces to ``accounting``: every kept trace (handed to the exporter) that did not
    arrive must be covered by spans counted as dropped. The counter counts spans and a trace has
    at least one (its root), so kept - received <= counted spans; the excess is lost.
    Returns (kept, received)."""
    text = telemetry.render_metrics().body.decode()
    kept = sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("fault_slow_cycle_traces_total{")
    )
    counted = sum(v for k, v in accounting.dropped.items() if k.startswith("spans:"))
    accounting.lost["traces"] = max(0, kept - received_roots - counted)
    accounting.checked += kept
    return kept, received_roots


def run_case(
    fault: str,
    make: Callable[..., tt.Telemetry],
    fault_row: RecordRow,
) -> None:
    receiver = None
    if fault == "down":
        endpoint = f"http://127.0.0.1:{free_port()}/v1/traces"  # nobody listens there
    else:
        receiver = OtlpHttpReceiver(mode="slow" if fault == "slow" else "reject", delay=0.6)
        endpoint = receiver.endpoint
    try:
        telemetry = traced(make, endpoint)
        bot = make_bot(telemetry)
        stats = run_loop(bot, cycles=CYCLES)
        assert telemetry._tracing is not None
        # Flushing waits for the exporter (on its thread, never the bot's): every kept trace
        # has then been sent, refused, or given up on.
        telemetry._tracing.processor.force_flush(10_000)
        accounting = account(telemetry, ledger_of(bot))
        roots = 0
        if receiver is not None:
            roots = sum(1 for span in receiver.spans() if span.name == "cycle")
        kept, received = trace_accounting(telemetry, accounting, roots)
        with measured() as took:
            telemetry.shutdown(timeout=2.0)
        shutdown_ok = took[0] < 3.0
        loop = loop_verdict(
            stats, min_cycles=CYCLES, max_cost=MAX_CYCLE_COST, p99_cost=P99_CYCLE_COST
        )
        if not shutdown_ok:
            loop = Verdict(False, f"{loop.text}; shutdown took {took[0]:.1f} s")
        row = fault_row(
            f"OTLP collector {'answering 4xx' if fault == 'reject' else fault}",
            loop=loop,
            exceptions=exceptions_verdict(stats),
            lost=lost_verdict(accounting),
            notes=[f"traces kept {kept}, received {received}"],
        )
        row.check()
    finally:
        if receiver is not None:
            receiver.close()


def test_collector_slow(make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow) -> None:
    """Each export waits 0.6 s: the loop does not notice, every kept trace arrives."""
    run_case("slow", make_telemetry, fault_row)


@pytest.mark.parametrize("fault", ["down", "reject"])
def test_collector_down_or_refusing(
    fault: str, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """The loop and the metrics are unaffected; the lost traces are counted as dropped spans."""
    run_case(fault, make_telemetry, fault_row)
