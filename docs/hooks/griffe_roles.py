"""Griffe extension for the API page: Sphinx roles in docstrings become Markdown that renders.

The docstrings say :class:`TelemetryConfig` or :func:`~trader_telemetry.configure`, which
``help()`` and editors read well but mkdocstrings would print verbatim. As griffe loads each
docstring, a role whose target is documented on the API page (a ``::: name`` line of
docs/api.md) becomes an autorefs cross-reference, ``[TelemetryConfig][trader_telemetry.
TelemetryConfig]``, a link in the built site; any other target (a private module, another
library) becomes inline code. Nothing links to a page that does not exist, so the strict
build stays clean.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj):`(~?)([^`]+)`")
_API_PAGE = Path(__file__).resolve().parent.parent / "api.md"
_PACKAGE = "trader_telemetry"


def documented_names(page: Path = _API_PAGE) -> frozenset[str]:
    """The full names the API page renders (its ``::: name`` lines)."""
    text = page.read_text(encoding="utf-8")
    return frozenset(re.findall(r"^::: ([\w.]+)\s*$", text, re.M))


def replace_roles(text: str, documented: Collection[str]) -> str:
    """``text`` with each Sphinx role turned into a cross-reference or inline code.

    Example:
        >>> names = {"trader_telemetry.TelemetryConfig", "trader_telemetry.configure"}
        >>> replace_roles("Built from :class:`TelemetryConfig`.", names)
        'Built from [TelemetryConfig][trader_telemetry.TelemetryConfig].'
        >>> replace_roles("See :func:`~trader_telemetry.configure`.", names)
        'See [configure][trader_telemetry.configure].'
        >>> replace_roles(":class:`~opentelemetry.sdk.metrics.MeterProvider`", names)
        '`MeterProvider`'
        >>> replace_roles(":mod:`.alert_tests` and :meth:`Telemetry.snapshot`", names)
        '`alert_tests` and `Telemetry.snapshot`'
    """

    def one(match: re.Match[str]) -> str:
        short, target = match.group(1) == "~", match.group(2).strip()
        bare = target.lstrip(".")
        shown = bare.rsplit(".", 1)[-1] if short else bare
        for candidate in (bare, f"{_PACKAGE}.{bare}"):
            if candidate in documented:
                return f"[{shown}][{candidate}]"
        return f"`{shown}`"

    return _ROLE.sub(one, text)


class SphinxRoles(griffe.Extension):
    """Applies :func:`replace_roles` to every docstring as it is loaded."""

    def __init__(self) -> None:
        super().__init__()
        self.documented = documented_names()

    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        """Rewrite the new object's docstring before anything parses it."""
        if obj.docstring is not None:
            obj.docstring.value = replace_roles(obj.docstring.value, self.documented)
