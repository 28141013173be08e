"""Only type-checked (mypy --strict tests/typing in .ci/run), never run: imports every script in
examples/ so mypy checks each of them whole, and pins the entry points the test suite and the
docs rely on. tests/test_docs_site.py fails when an example is missing here."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
from pathlib import Path
from typing import assert_type

from examples import async_bot, file_bot, fleet, own_providers, sync_bot
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

import trader_telemetry as tt

# Every example: options parsed from a list, `main` returns the exit code.
assert_type(sync_bot.parse_args(["--cycles", "3", "--port", "0"]), argparse.Namespace)
assert_type(sync_bot.main(["--cycles", "3", "--port", "0"]), int)
assert_type(own_providers.main(["--cycles", "3", "--port", "0"]), int)
assert_type(file_bot.main(["--cycles", "3", "--port", "0", "--data-dir", "/tmp/bot"]), int)
assert_type(fleet.main(["--cycles", "3", "--out", "/tmp/fleet"]), int)
assert_type(asyncio.run(async_bot.amain(async_bot.parse_args(["--cycles", "3"]))), int)

# The pieces a reader copies into a bot.
exchange = sync_bot.PaperExchange()
assert_type(exchange.fetch_marks(), dict[str, float])
assert_type(exchange.fetch_account(), sync_bot.Account)
telemetry = tt.Telemetry(port=0)
sync_bot.run_cycle(telemetry, exchange)

providers = own_providers.build_providers()
assert_type(providers, tuple[MeterProvider, TracerProvider])

writer = file_bot.FileWriter(Path("/tmp/bot"))
writer.event("cycle", number=1, duration_seconds=0.2, outcome="ok")
exporter, url = file_bot.start_exporter(writer, file_bot.parse_args(["--port", "0"]))
assert_type(exporter, subprocess.Popen[str])
assert_type(url, str)

assert_type(fleet.write_targets(Path("/tmp/fleet"), ["http://127.0.0.1:9000/metrics"]), Path)
