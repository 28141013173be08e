"""A real Prometheus for one test or session: started on 127.0.0.1:0 with a given config and
its own data directory, ready once ``/-/ready`` answers, stopped by its process group's pid.

Every test that runs its own Prometheus goes through :func:`running_prometheus`, so the start
(the port read from its log), the readiness wait and the stop are written once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import require_tool

__all__ = ["running_prometheus", "stop_group"]

# 2.42: msg="Listening on" address=...; 3.x puts component=web between the two.
_LISTENING = re.compile(r'msg="Listening on"[^\n]*? address=(127\.0\.0\.1:\d+)')


@contextmanager
def running_prometheus(
    config: Path, *flags: str, workdir: Path | None = None, binary: str | None = None
) -> Iterator[str]:
    """Run Prometheus on ``config`` (data and log in ``workdir``, default: the config's
    folder); yields its base URL, ``http://127.0.0.1:PORT``.

    ``binary`` is another Prometheus (3.x from ``tests.go_tools``); default: Debian's 2.42 on
    PATH. Agent mode (``--agent``) keeps its WAL in ``--storage.agent.path``, also in ``workdir``.
    """
    binary = binary or require_tool("prometheus")
    where = config.parent if workdir is None else workdir
    log_path = where / "prometheus.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                (
                    f"--storage.agent.path={where / 'data'}"
                    if "--agent" in flags
                    else f"--storage.tsdb.path={where / 'data'}"
                ),
                "--web.listen-address=127.0.0.1:0",
                *flags,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield _wait_ready(log_path, process)
    finally:
        stop_group(process)


def _wait_ready(log: Path, process: subprocess.Popen[bytes], timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        match = _LISTENING.search(log.read_text())
        if match:
            url = f"http://{match.group(1)}"
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return url
            except OSError:
                pass
        time.sleep(0.05)
    pytest.fail(f"prometheus did not become ready:\n{log.read_text()[-3000:]}")


def stop_group(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """SIGTERM the process group we started, SIGKILL it if it does not go in ``timeout``."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
