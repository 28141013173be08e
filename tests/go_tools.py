"""The Go-built tools of the suite: Jaeger v2 and Prometheus 3 with promtool 3.

``.ci/go-tools.sh`` builds them once into a cache directory (``TT_TOOLS_CACHE``, default
``~/.cache/trader-telemetry-tools``); here they are only found, with ``--locate``, which builds
nothing. ``TT_JAEGER``, ``TT_PROMETHEUS3`` and ``TT_PROMTOOL3`` point at other binaries. Under
``CI=true`` a missing binary FAILS the test (.ci/run builds them first); elsewhere it skips.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

__all__ = ["go_tool"]

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "go-tools.sh"
TOOLS = ("TT_JAEGER", "TT_PROMETHEUS3", "TT_PROMTOOL3")


@functools.cache
def _located() -> tuple[dict[str, str], str]:
    result = subprocess.run(
        ["bash", str(SCRIPT), "--locate"], capture_output=True, text=True, timeout=30, check=False
    )
    paths = dict(
        line.split("=", 1) for line in result.stdout.splitlines() if line.startswith("TT_")
    )
    return paths, result.stderr.strip()


def go_tool(variable: str) -> str:
    """Path of one tool by its variable: ``TT_JAEGER``, ``TT_PROMETHEUS3`` or ``TT_PROMTOOL3``."""
    assert variable in TOOLS, variable
    path = os.environ.get(variable)
    if not path:
        paths, why = _located()
        path = paths.get(variable)
        if path is None:
            message = f"{variable}: {why or 'not found'} (bash .ci/go-tools.sh builds it)"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)
            pytest.skip(message)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{variable}={path} is not an executable")
    return path
