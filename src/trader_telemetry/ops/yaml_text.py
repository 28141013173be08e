"""A small, deterministic YAML writer for the rendered artefacts.

The core install has no YAML library, and the committed ``deploy/`` files are compared byte for
byte with a fresh render, so the output must not depend on which library (or version) is
installed. This writes the subset the artefacts use: mappings in insertion order, lists, strings,
numbers, booleans and null. Multi-line strings (PromQL, descriptions) become ``|-`` blocks;
anything that a YAML reader could take for another type is quoted: single quotes when the text
has none (so ``up{job="bot"}`` reads as written), JSON-style double quotes otherwise.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dump_yaml"]

_PLAIN = re.compile(r"^[A-Za-z_/.$][A-Za-z0-9_ ./:${}()=-]*$")
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def dump_yaml(data: Mapping[str, Any], *, header: str | None = None) -> str:
    """``data`` as a YAML document ending with a newline.

    Example:
        >>> print(dump_yaml({"groups": [{"name": "bot", "interval": "5s"}]}), end="")
        groups:
          - name: bot
            interval: 5s
    """
    lines: list[str] = []
    if header:
        lines.extend(f"# {line}".rstrip() for line in header.splitlines())
    _mapping(data, 0, lines)
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:  # noqa: PLR0911 - one return per YAML type
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write non-finite number {value!r} as YAML")
        return repr(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        if _DURATION.match(value):
            return value
        if (
            _PLAIN.match(value)
            and value.lower() not in _RESERVED
            and not value.endswith((" ", ":"))
            and ": " not in value
            and " #" not in value
        ):
            return value
        if "'" not in value and value.isprintable():
            return f"'{value}'"  # single quotes: PromQL's double quotes stay unescaped
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _is_block(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple)) and len(value) > 0


def _mapping(data: Mapping[str, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, value in data.items():
        label = _scalar(str(key))
        if isinstance(value, str) and "\n" in value:
            lines.append(f"{pad}{label}: |-")
            lines.extend(f"{pad}  {line}".rstrip() for line in value.splitlines())
        elif isinstance(value, Mapping) and value:
            lines.append(f"{pad}{label}:")
            _mapping(value, indent + 2, lines)
        elif isinstance(value, (list, tuple)) and value:
            lines.append(f"{pad}{label}:")
            _sequence(value, indent + 2, lines)
        else:
            lines.append(f"{pad}{label}: {_empty_or_scalar(value)}")


def _sequence(items: Sequence[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, Mapping) and item:
            start = len(lines)
            _mapping(item, indent + 2, lines)
            lines[start] = f"{pad}- {lines[start][indent + 2 :]}"
        elif isinstance(item, (list, tuple)) and item:
            start = len(lines)
            _sequence(item, indent + 2, lines)
            lines[start] = f"{pad}- {lines[start][indent + 2 :]}"
        elif isinstance(item, str) and "\n" in item:
            lines.append(f"{pad}- |-")
            lines.extend(f"{pad}  {line}".rstrip() for line in item.splitlines())
        else:
            lines.append(f"{pad}- {_empty_or_scalar(item)}")


def _empty_or_scalar(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _scalar(value)
