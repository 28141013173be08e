"""The daily report: PnL, performance, risk and operations from ``events.jsonl``.

:func:`compute_daily_report` streams the event files of one window into a JSON-ready dict;
:func:`render_text`, :func:`render_json` and :func:`render_markdown` turn it into a document.
"""

from __future__ import annotations

from .compute import compute_daily_report
from .render import render_json, render_markdown, render_text

__all__ = ["compute_daily_report", "render_json", "render_markdown", "render_text"]
