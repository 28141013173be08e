"""A real Jaeger v2 (``cmd/jaeger``, built by ``.ci/go-tools.sh``) on loopback.

Jaeger v2 with no ``--config`` runs its embedded all-in-one configuration, which binds fixed
ports (4317, 4318, 16686 ...) on ``localhost``. :func:`jaeger_config` writes that same
configuration (the same receivers, extensions, pipeline and in-memory store) with every address
on 127.0.0.1 and a port picked free here (Jaeger refuses port 0), so parallel runs never
collide. Two changes besides addresses, both so that
nothing leaves for a fixed port: the query service's self-tracing is off (it would export to
localhost:4318, some other run's Jaeger) and so is the collector's own metrics endpoint (8888).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .go_tools import go_tool
from .prometheus_process import stop_group

__all__ = ["Jaeger", "free_port", "jaeger_config", "running_jaeger"]

#: Every listener of the all-in-one configuration (the UDP ones are the Thrift agents).
LISTENERS = (
    "query_http", "query_grpc", "sampling_http", "sampling_grpc", "health", "expvar", "zpages",
    "otlp_grpc", "otlp_http", "jaeger_grpc", "thrift_http", "zipkin",
)  # fmt: skip
UDP_LISTENERS = ("thrift_binary", "thrift_compact")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that was free a moment ago (for a program that needs a number)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports() -> dict[str, str]:
    """A ``127.0.0.1:PORT`` address for every listener, all different."""
    taken: set[int] = set()
    addresses = {}
    for name in (*LISTENERS, *UDP_LISTENERS):
        kind = socket.SOCK_DGRAM if name in UDP_LISTENERS else socket.SOCK_STREAM
        port = free_port(kind)
        while port in taken:
            port = free_port(kind)
        taken.add(port)
        addresses[name] = f"127.0.0.1:{port}"
    return addresses


def jaeger_config(at: dict[str, str]) -> str:
    """Jaeger v2's all-in-one configuration with the listeners at ``at`` (see the module
    docstring)."""
    return f"""\
service:
  extensions: [jaeger_storage, jaeger_query, remote_sampling, healthcheckv2, expvar, zpages]
  pipelines:
    traces:
      receivers: [otlp, jaeger, zipkin]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: info
extensions:
  jaeger_query:
    storage:
      traces: some_storage
    enable_tracing: false
    http:
      endpoint: {at["query_http"]}
    grpc:
      endpoint: {at["query_grpc"]}
  jaeger_storage:
    backends:
      some_storage:
        memory:
          max_traces: 100000
  remote_sampling:
    file:
      path:
      default_sampling_probability: 1
      reload_interval: 1s
    http:
      endpoint: {at["sampling_http"]}
    grpc:
      endpoint: {at["sampling_grpc"]}
  healthcheckv2:
    use_v2: true
    http:
      endpoint: {at["health"]}
  expvar:
    endpoint: {at["expvar"]}
  zpages:
    endpoint: {at["zpages"]}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {at["otlp_grpc"]}
      http:
        endpoint: {at["otlp_http"]}
  jaeger:
    protocols:
      grpc:
        endpoint: {at["jaeger_grpc"]}
      thrift_http:
        endpoint: {at["thrift_http"]}
      thrift_binary:
        endpoint: {at["thrift_binary"]}
      thrift_compact:
        endpoint: {at["thrift_compact"]}
  zipkin:
    endpoint: {at["zipkin"]}
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: some_storage
"""


@dataclass
class Jaeger:
    """A running (or stopped, for restarts) Jaeger and its query API."""

    config: Path
    addresses: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def traces_endpoint(self) -> str:
        """The OTLP/HTTP traces URL an exporter takes."""
        return f"http://{self.addresses['otlp_http']}/v1/traces"

    @property
    def log(self) -> Path:
        return self.config.parent / "jaeger.log"

    def start(self, timeout: float = 30.0) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [go_tool("TT_JAEGER"), f"--config=file:{self.config}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                self.api("/api/services")
                if _listening(self.addresses["otlp_http"]):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"jaeger did not become ready:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, as a crash would: no flush, no goodbye."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        url = f"http://{self.addresses['query_http']}{path}" + (f"?{query}" if query else "")
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())

    def traces(self, service: str) -> list[dict[str, Any]]:
        """``/api/traces?service=...`` over the last hour (the query API's JSON ``data``)."""
        end = time.time_ns() // 1000
        data: list[dict[str, Any]] = self.api(
            "/api/traces",
            service=service,
            start=str(end - 3_600_000_000),
            end=str(end + 60_000_000),
            limit="1000",
        )["data"]
        return data

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        """``/api/traces/{id}``: the trace's ``data`` list (empty when Jaeger answers 404)."""
        try:
            data: list[dict[str, Any]] = self.api(f"/api/traces/{trace_id}")["data"]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise
        return data

    def wait_for_traces(
        self, service: str, count: int, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Poll until ``count`` traces of ``service`` are stored (and stay ``count``)."""
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            found = self.traces(service)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        pytest.fail(f"{service}: {len(found)} traces in Jaeger after {timeout} s, wanted {count}")


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


@contextmanager
def running_jaeger(workdir: Path) -> Iterator[Jaeger]:
    """Jaeger on fresh loopback ports, its config and log in ``workdir``; stopped on exit."""
    jaeger = Jaeger(workdir / "jaeger.yaml", free_ports())
    jaeger.config.write_text(jaeger_config(jaeger.addresses))
    jaeger.start()
    try:
        yield jaeger
    finally:
        jaeger.stop()
