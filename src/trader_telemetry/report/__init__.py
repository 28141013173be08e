"""The daily report: PnL, performance, risk and operations from ``events.jsonl``.

:func:`compute_daily_report` streams the event files of one window into a JSON-ready dict;
:func:`render_text`, :func:`render_json`, :func:`render_markdown` and :func:`render_html` turn
it into a document; :func:`report_svg` is the chart the Markdown form links.
"""

from __future__ import annotations

from .charts import report_svg
from .compute import compute_daily_report
from .html import render_html
from .render import render_json, render_markdown, render_text

__all__ = [
    "compute_daily_report",
    "render_html",
    "render_json",
    "render_markdown",
    "render_text",
    "report_svg",
]
