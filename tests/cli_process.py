"""The ``trader-telemetry`` command run as a user runs it: a real process, ``python -m``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping


def run_cli(
    *args: str,
    timeout: float = 60,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m trader_telemetry *args`` to its end; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "trader_telemetry", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        check=False,
    )
