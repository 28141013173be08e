"""The installed distribution's version (never a literal in the code)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("trader_telemetry")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
