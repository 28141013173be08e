"""The daily report as one self-contained HTML page: no script, no external style, font or image
(nothing is fetched), readable on a phone (one column, charts scale to the screen's width)."""

from __future__ import annotations

from html import escape
from typing import Any, Final

from .charts import cycle_histogram_svg, equity_drawdown_svg, symbols_svg
from .render import definitions, header, summary_pairs, tables, thresholds_line

__all__ = ["render_html"]

_STYLE: Final = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:12px;
color:#1f2328;background:#fff;line-height:1.4}
main{max-width:760px;margin:0 auto}
h1{font-size:1.3em;margin:.2em 0}h2{font-size:1.05em;margin:1.2em 0 .4em;
border-bottom:1px solid #d0d7de}
.meta{color:#59636e;font-size:.85em}
.flag{color:#cf222e;font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.9em;margin:.2em 0}
th,td{padding:2px 8px;border-bottom:1px solid #eaeef2;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left;white-space:normal}
.cards{display:flex;flex-wrap:wrap;gap:12px}.cards table{flex:1 1 240px}
svg{display:block;height:auto}
footer{color:#59636e;font-size:.8em;margin-top:1.5em}
"""


def _table(header_row: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header_row)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def render_html(report: dict[str, Any]) -> str:
    """The report as a single HTML page with its charts inlined as SVG.

    Args:
        report: The computed report.

    Returns:
        The HTML document, with a trailing newline.
    """
    title, subtitle = header(report)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{escape(subtitle)}<br>{escape(thresholds_line(report))}</p>',
    ]
    if report.get("no_data"):
        parts.append(f'<p class="flag">No data: {escape(str(report.get("message", "")))}</p>')
    parts += [
        f'<p class="meta">warning: {escape(warning)}</p>'
        for warning in report["sources"]["warnings"]
    ]
    recon = report["reconciliation"]
    if recon["flagged"]:
        parts.append(
            f'<p class="flag">{escape(recon["label"].capitalize())}: '
            f"{recon['unexplained']:,.2f} USD (tolerance {recon['tolerance']:,.2f})</p>"
        )
    parts += ["<h2>Equity and drawdown</h2>", equity_drawdown_svg(report)]
    pairs = summary_pairs(report)
    parts.append('<div class="cards">')
    for section in ("Account", "PnL", "Reconciliation", "Performance"):
        parts.append(_table([section, ""], [[label, value] for label, value in pairs[section]]))
    parts.append("</div>")
    parts += ["<h2>PnL by symbol</h2>", symbols_svg(report)]
    parts += ["<h2>Cycle durations</h2>", cycle_histogram_svg(report)]
    parts.append('<div class="cards">')
    for section in ("Trades", "Risk", "Operations"):
        parts.append(_table([section, ""], [[label, value] for label, value in pairs[section]]))
    parts.append("</div>")
    for name, header_row, rows in tables(report):
        parts += [f"<h2>{escape(name)}</h2>", _table(header_row, rows)]
    parts.append("<footer>")
    parts += [f"<p>{escape(line)}</p>" for line in definitions(report)]
    parts.append("</footer></main></body></html>")
    return "\n".join(parts) + "\n"
