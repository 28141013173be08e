"""What every benchmark prints first: the interpreter and the versions of what it measures."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import trader_telemetry as tt

__all__ = ["versions"]


def _installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def versions(*distributions: str) -> dict[str, str]:
    """Python (with implementation, system and machine), each distribution, trader_telemetry."""
    info = {
        "python": f"{platform.python_version()} ({platform.python_implementation()}, "
        f"{platform.system()} {platform.machine()})"
    }
    info.update({name: _installed(name) for name in distributions})
    info["trader_telemetry"] = tt.__version__
    return info
