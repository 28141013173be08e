"""Griffe extension for the API page: read our ``Example:`` sections as examples.

Our docstrings follow the Google style and title their doctests ``Example:`` (the spelling
Google's guide and Sphinx napoleon use). Griffe knows only ``Examples:`` and would render the
singular as an admonition of plain Markdown, where ``>>> snapshot["equity"]`` reads as a link.
Renaming the title in the docstring as griffe loads it renders each doctest as a Python block.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SINGULAR = re.compile(r"^(\s*)Example:\s*$", re.M)


def plural_examples(text: str) -> str:
    """``text`` with each ``Example:`` section title spelled ``Examples:``.

    Example:
        >>> plural_examples("Summary.\\n\\nExample:\\n    >>> 1\\n    1")
        'Summary.\\n\\nExamples:\\n    >>> 1\\n    1'
    """
    return _SINGULAR.sub(r"\1Examples:", text)


class ExampleSections(griffe.Extension):
    """Applies :func:`plural_examples` to every docstring as it is loaded."""

    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        """Rewrite the new object's docstring before anything parses it."""
        if obj.docstring is not None:
            obj.docstring.value = plural_examples(obj.docstring.value)
