"""A fleet past one machine, for real: two bots on 127.0.0.1, the Prometheus 3 agent config that
``ops render --mode agent`` writes for their host, and a Prometheus 3 receiver started with
``--web.enable-remote-write-receiver`` on the rendered ``receiver.yml``. Both bots' series must
be queryable at the receiver with the labels a central scrape would have given them."""

from __future__ import annotations

import json
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import trader_telemetry as tt
from trader_telemetry.ops.bundle import write_files
from trader_telemetry.ops.options import OpsOptions

from ..go_tools import go_tool
from ..prometheus_process import running_prometheus

NS = "fleetns"
HOST = "desk-host-1"


def query(url: str, expr: str) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=5) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_an_agent_remote_writes_two_bots_to_the_central_receiver() -> None:
    prometheus3 = go_tool("TT_PROMETHEUS3")
    bots = [tt.Telemetry(namespace=NS, port=0, clock=tt.ManualClock()) for _ in range(2)]
    workdir = Path(tempfile.mkdtemp(prefix="tt-fleet-agent-"))
    try:
        for number, bot in enumerate(bots, start=1):
            bot.record_account(equity=1_000.0 * number)
            with bot.cycle_timer():
                bot.clock.advance(0.1 * number)  # type: ignore[attr-defined]
        ports = [bot.server_address[1] for bot in bots if bot.server_address is not None]

        def options(url: str) -> OpsOptions:
            return OpsOptions(
                namespace=NS,
                targets=tuple(f"{HOST}:{port}" for port in ports),
                mode="agent",
                remote_write_url=url,
                alertmanager=None,
                scrape_interval_seconds=1,
            )

        central = workdir / "central"
        write_files(options("http://127.0.0.1:1/api/v1/write"), central)  # receiver.yml, rules
        with running_prometheus(
            central / "receiver.yml",
            "--web.enable-remote-write-receiver",
            binary=prometheus3,
        ) as receiver:
            fleet_host = workdir / "host"
            write_files(options(f"{receiver}/api/v1/write"), fleet_host)
            agent_config = fleet_host / "agents" / f"{HOST}.yml"
            with running_prometheus(
                agent_config, "--agent", workdir=fleet_host, binary=prometheus3
            ):
                # First scrape ~5.4 s after the agent starts, then a remote-write batch.
                deadline = time.monotonic() + 30
                found: list[dict[str, Any]] = []
                while time.monotonic() < deadline and len(found) < 2:
                    found = query(receiver, f'{NS}_equity{{job="{NS}"}}')
                    time.sleep(0.25)
                up = query(receiver, f'up{{job="{NS}"}}')
                cycles = query(receiver, f'{NS}_cycles_total{{outcome="ok"}}')
                rules = query(receiver, "count(ALERTS) or vector(0)")
    finally:
        for bot in bots:
            bot.shutdown()
    by_instance = {s["metric"]["instance"]: s for s in found}
    assert sorted(by_instance) == sorted(f"{HOST}:{port}" for port in ports), found
    for number, port in enumerate(ports, start=1):
        series = by_instance[f"{HOST}:{port}"]
        assert series["metric"]["job"] == NS
        assert series["metric"]["fleet_host"] == HOST
        assert float(series["value"][1]) == 1_000.0 * number
    assert sorted(float(s["value"][1]) for s in up) == [1.0, 1.0]
    assert sorted(float(s["value"][1]) for s in cycles) == [1.0, 1.0]
    assert rules  # the receiver evaluates the rendered rules (the query itself is valid)


def test_the_receiver_refuses_writes_without_its_flag() -> None:
    # The flag is what turns /api/v1/write on: without it the agent's writes are refused.
    workdir = Path(tempfile.mkdtemp(prefix="tt-fleet-receiver-"))
    (workdir / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    prometheus3 = go_tool("TT_PROMETHEUS3")
    for enabled in (False, True):
        flags = ("--web.enable-remote-write-receiver",) if enabled else ()
        with running_prometheus(workdir / "prometheus.yml", *flags, binary=prometheus3) as url:
            request = urllib.request.Request(
                f"{url}/api/v1/write",
                data=b"",
                headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
        # Disabled: 404; enabled: the (empty) body reaches the handler and gets 204 or 400.
        assert (status == 404) is not enabled, (enabled, status)
