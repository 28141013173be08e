"""A bot that already has its own OpenTelemetry ``MeterProvider`` and ``TracerProvider``.

The bot set up OTel before it heard of trader_telemetry: a ``MeterProvider`` with its own
instruments (here ``bot.signals``, a counter per strategy) and a ``TracerProvider`` that its HTTP
client and its strategy code create spans on. It hands both to ``tt.configure``:

* ``meter_provider=``: our Prometheus reader joins the bot's provider and our instruments are
  created on it, so ``/metrics`` serves the catalogue *and* the bot's own ``bot_signals_total``
  (what is recorded after ``configure()``); the bot's other readers keep working.
* ``tracing=tt.TracingConfig(tracer_provider=...)``: each cycle becomes a root span on the bot's
  provider, the bot's spans inside it join that trace, and the slow and failed cycles are
  exported over OTLP (the standard ``OTEL_EXPORTER_OTLP_*`` variables say where). Every 5th
  cycle here is slow and every 8th fails, so traces show up quickly.

Run it (traces need an OTLP endpoint: Jaeger all-in-one, Tempo, an OTel Collector)::

    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python examples/own_providers.py
    python examples/own_providers.py --cycles 20 --port 0   # without an endpoint: no traces

Needs the ``otlp`` extra for the exporters: ``pip install 'trader_telemetry[otlp]'``.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections.abc import Sequence

from opentelemetry.metrics import Counter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import trader_telemetry as tt

SLOW_CYCLE_SECONDS = 0.2
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


class RiskCheckError(Exception):
    """The bot's own risk check refused the cycle's orders."""


def build_providers() -> tuple[MeterProvider, TracerProvider]:
    """The bot's own OTel setup, as it was before trader_telemetry (one resource for both)."""
    resource = Resource.create({"service.name": "example-bot", "deployment.environment": "dev"})
    return MeterProvider(resource=resource), TracerProvider(resource=resource)


def run_cycle(
    number: int, telemetry: tt.Telemetry, tracer_provider: TracerProvider, signals: Counter
) -> None:
    """One cycle: the bot's own span and counter inside the library's cycle and phases."""
    tracer = tracer_provider.get_tracer("example_bot")
    with tt.cycle_timer() as cycle:
        with cycle.phase("evaluate"), tracer.start_as_current_span("strategy.evaluate") as span:
            direction = "long" if number % 2 else "short"
            span.set_attribute("strategy.direction", direction)
            signals.add(1, {"strategy": "momentum", "direction": direction})
            if number % 5 == 0:
                time.sleep(SLOW_CYCLE_SECONDS * 1.5)  # a slow cycle: its trace is kept
        with cycle.phase("risk_check"):
            if number % 8 == 0:
                raise RiskCheckError(f"cycle {number}: position limit reached")
        telemetry.record_account(equity=50_000.0 + number, realized_pnl=float(number))


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, for a clean shutdown."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The example's options (``--cycles`` and ``--port 0`` let the test suite bound it)."""
    parser = argparse.ArgumentParser(description="A bot with its own OTel providers.")
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
    """Build the bot's providers, hand them over, loop, shut down in the right order."""
    args = parse_args(argv)
    meter_provider, tracer_provider = build_providers()
    signals = meter_provider.get_meter("example_bot").create_counter(
        "bot.signals", unit="{signal}", description="Trading signals by strategy and direction."
    )
    tracing: bool | tt.TracingConfig = False
    if any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        tracing = tt.TracingConfig(
            tracer_provider=tracer_provider, slow_cycle_seconds=SLOW_CYCLE_SECONDS
        )
    telemetry = tt.configure(
        namespace=args.namespace,
        host="127.0.0.1",
        port=args.port,
        meter_provider=meter_provider,
        tracing=tracing,
    )
    print(telemetry.metrics_url, flush=True)
    if tracing is False:
        print("no OTEL_EXPORTER_OTLP_ENDPOINT: running without traces", flush=True)
    stop = stop_on_signals()
    number = 0
    try:
        while not stop.is_set() and (args.cycles == 0 or number < args.cycles):
            number += 1
            try:
                run_cycle(number, telemetry, tracer_provider, signals)
            except RiskCheckError as exc:
                print(f"{exc}; skipping orders", flush=True)
            stop.wait(args.interval)
        print(f"done: {number} cycles", flush=True)
        stop.wait(args.linger)
    finally:
        tt.shutdown()  # flushes the kept traces; detaches our reader from the bot's provider
        tracer_provider.shutdown()  # the bot's providers are the bot's to shut down
        meter_provider.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
