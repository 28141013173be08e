"""Read a thresholds file: TOML or JSON ``field = value`` pairs (or a ``[thresholds]`` table).

The one reader of that file, behind :func:`trader_telemetry.config.load_thresholds`, which the
bot's ``TelemetryConfig.from_env`` (``TRADER_TELEMETRY_THRESHOLDS``), ``ops render
--thresholds`` and ``report daily --thresholds`` all call, so the alert rules, the dashboard,
the health checks and the report read the same numbers. Standard library only: the config layer
imports it, so ``tomllib`` (and no ``pathlib``) is imported only when a file is read, keeping it
off ``import trader_telemetry``'s path (docs/performance.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from typing import Any

from .errors import ConfigurationError

__all__ = ["read_thresholds_file"]


def read_thresholds_file(path: str | os.PathLike[str], known: Collection[str]) -> dict[str, Any]:
    """The ``field: value`` table of a thresholds file, its keys checked against ``known``.

    A ``.json`` file is JSON; anything else is TOML. The table may be the whole document or its
    ``thresholds`` table.

    Args:
        path: The file.
        known: The field names a thresholds table may hold.

    Returns:
        The table (values unchecked: the caller's constructor validates them).

    Raises:
        ConfigurationError: The file cannot be read or parsed, is not a table, or names an
            unknown field (the message names the file and the field).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp(), "thresholds.toml")
        >>> _ = path.write_text("[thresholds]\\nexpected_cycle_interval_seconds = 1.0\\n")
        >>> read_thresholds_file(path, {"expected_cycle_interval_seconds"})
        {'expected_cycle_interval_seconds': 1.0}
    """
    import tomllib  # noqa: PLC0415 - only when a file is read: off the import path

    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read thresholds file {source}: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"thresholds file {source} is not UTF-8 text") from None
    try:
        is_json = os.path.splitext(source)[1] == ".json"
        data: Any = json.loads(text) if is_json else tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError is a ValueError
        raise ConfigurationError(f"thresholds file {source} is not valid: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("thresholds"), dict):
        data = data["thresholds"]
    if not isinstance(data, dict):
        raise ConfigurationError(f"thresholds file {source} must hold a table of field = value")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigurationError(
            f"thresholds file {source}: unknown field(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return data
