"""The installed distribution's version (never a literal in the code).

Read from the package metadata on first use, not at import: :mod:`importlib.metadata` is a
noticeable share of a light ``import trader_telemetry``.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

__all__ = ["__version__", "package_version"]

if TYPE_CHECKING:
    #: The installed distribution's version, e.g. ``"0.1.0"`` (computed by ``__getattr__``).
    __version__: str


@cache
def package_version() -> str:
    """The version of the installed ``trader_telemetry`` distribution.

    Example:
        >>> package_version() == __import__("trader_telemetry").__version__
        True
    """
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415 - see above

    try:
        return version("trader_telemetry")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return package_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
