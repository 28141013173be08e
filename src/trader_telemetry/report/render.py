"""Render a daily report (the dict from :func:`~.compute.compute_daily_report`) as a document.

Three forms here: aligned plain text with an equity sparkline, JSON, and Markdown tables (the
HTML page is :mod:`.html`, the charts :mod:`.charts`). Missing figures (null in the JSON) show as
``-``.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = [
    "definitions",
    "header",
    "render_json",
    "render_markdown",
    "render_text",
    "sparkline",
    "summary_pairs",
    "tables",
    "thresholds_line",
]

BLOCKS: Final = "▁▂▃▄▅▆▇█"
SPARK_WIDTH: Final = 60


def _money(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.2f}"
    return "-"


def _pct(value: object, *, ratio: bool = False) -> str:
    """A percentage; ``ratio`` when the value is a 0..1 fraction."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value * 100 if ratio else value:.2f}%"
    return "-"


def _plain(value: object, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def sparkline(values: list[float], width: int = SPARK_WIDTH) -> str:
    """``values`` as one line of block characters, resampled to at most ``width`` of them.

    Args:
        values: The series (e.g. equities), oldest first.
        width: Most characters to draw.

    Returns:
        The sparkline; empty for an empty series, mid-height blocks for a flat one.

    Example:
        >>> sparkline([1.0, 2.0, 3.0, 2.0])
        '▁▅█▅'
    """
    if not values:
        return ""
    if len(values) > width:
        step = (len(values) - 1) / (width - 1)
        values = [values[round(i * step)] for i in range(width)]
    low, high = min(values), max(values)
    if high == low:
        return BLOCKS[len(BLOCKS) // 2 - 1] * len(values)
    # Halved before subtracting: high - low of two huge floats would be inf.
    scale = (len(BLOCKS) - 1) / (high / 2 - low / 2)
    return "".join(BLOCKS[round((v / 2 - low / 2) * scale)] for v in values)


def render_json(report: dict[str, Any]) -> str:
    """The report as JSON, indented by 2, keys in the report's order.

    Args:
        report: The computed report.

    Returns:
        The JSON document, with a trailing newline.
    """
    return json.dumps(report, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _rows(pairs: list[tuple[str, str]]) -> list[str]:
    """``label  value`` lines, labels padded and values right-aligned."""
    if not pairs:
        return []
    label_width = max(len(label) for label, _ in pairs)
    value_width = max(len(value) for _, value in pairs)
    return [f"  {label:<{label_width}}  {value:>{value_width}}" for label, value in pairs]


def _curve_values(report: dict[str, Any]) -> list[float]:
    return [float(point[1]) for point in report.get("equity_curve", [])]


def summary_pairs(report: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """The figures shared by the text and Markdown forms, per section."""
    account, pnl, recon = report["account"], report["pnl"], report["reconciliation"]
    perf, trades = report["performance"], report["trades"]
    ops = report["operations"]
    seconds = ops["cycle_seconds"]
    daily = report["risk"]["daily_loss_max"]
    return {
        "Account": [
            ("Equity start", _money(account["equity_start"])),
            ("Equity end", _money(account["equity_end"])),
            ("Change", _money(account["equity_change"])),
            ("Change %", _pct(account["equity_change_pct"])),
        ],
        "PnL": [
            ("Realized (before fees)", _money(pnl["realized"])),
            ("Fees", _money(pnl["fees"])),
            ("Funding", _money(pnl["funding"])),
            ("Unrealized start", _money(pnl["unrealized_start"])),
            ("Unrealized end", _money(pnl["unrealized_end"])),
            ("Unrealized change", _money(pnl["unrealized_change"])),
            ("Total", _money(pnl["total"])),
        ],
        "Reconciliation": [
            ("Equity change", _money(recon["equity_change"])),
            ("Total PnL", _money(recon["total_pnl"])),
            (
                recon["label"].capitalize(),
                _money(recon["unexplained"])
                + (f"  FLAGGED (> {_money(recon['tolerance'])})" if recon["flagged"] else ""),
            ),
        ],
        "Performance": [
            ("Win rate", _pct(perf["win_rate"], ratio=True)),
            ("Profit factor", _plain(perf["profit_factor"], 2)),
            ("Max drawdown", _money(perf["max_drawdown"])),
            ("Max drawdown %", _pct(perf["max_drawdown_pct"])),
            ("Sharpe (per step)", _plain(perf["sharpe"])),
            ("Sortino (per step)", _plain(perf["sortino"])),
        ],
        "Trades": [
            ("Fills", str(trades["total"])),
            ("Closing", str(trades["closing"])),
            ("Winning", str(trades["winning"])),
            ("Losing", str(trades["losing"])),
            ("Avg win", _money(trades["avg_win"])),
            ("Avg loss", _money(trades["avg_loss"])),
            ("Largest win", _money(trades["largest_win"])),
            ("Largest loss", _money(trades["largest_loss"])),
        ],
        "Risk": [
            *[(f"Guard {name}", str(n)) for name, n in report["risk"]["guard_triggers"].items()],
            ("Circuit breaker trips", str(len(report["risk"]["circuit_breaker_trips"]))),
            (
                "Max daily loss / limit",
                f"{_money(daily['loss'])} / {_money(daily['limit'])}" if daily else "-",
            ),
        ],
        "Operations": [
            ("Cycles", str(ops["cycles"])),
            ("Errors", str(ops["errors"])),
            *[(f"Errors {kind}", str(n)) for kind, n in ops["errors_by_type"].items()],
            ("Cycle p50 (s)", _plain(seconds["p50"])),
            ("Cycle p95 (s)", _plain(seconds["p95"])),
            ("Cycle p99 (s)", _plain(seconds["p99"])),
            ("Cycle max (s)", _plain(seconds["max"])),
            ("Stale marks", str(ops["stale_marks"])),
            ("WS reconnects", str(ops["ws_reconnects"])),
            ("Orders", str(ops["orders"])),
            ("Rejections", str(ops["rejections"])),
            ("Trades blocked", str(ops["trades_blocked"])),
            ("Unfilled order alerts", str(ops["unfilled_orders"])),
            ("API errors", str(ops["api_errors"])),
            *[(f"Error events {message}", str(n)) for message, n in ops["error_events"].items()],
        ],
    }


def tables(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of the tables both the text and Markdown forms show."""
    ops, risk = report["operations"], report["risk"]
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    if report["symbols"]:
        tables.append(
            (
                "Symbols",
                ["Symbol", "Fills", "Realized", "Fees", "Win rate"],
                [
                    [
                        s["symbol"],
                        str(s["fills"]),
                        _money(s["realized_pnl"]),
                        _money(s["fees"]),
                        _pct(s["win_rate"], ratio=True),
                    ]
                    for s in report["symbols"]
                ],
            )
        )
    if risk["circuit_breaker_trips"]:
        tables.append(
            (
                "Circuit breaker trips",
                ["Time", "Reason"],
                [[t["timestamp"], t["reason"] or "-"] for t in risk["circuit_breaker_trips"]],
            )
        )
    if ops["slowest_cycles"]:
        tables.append(
            (
                "Slowest cycles",
                ["Cycle", "Seconds", "Time"],
                [
                    [_plain(c["number"]), _plain(c["duration_seconds"]), c["timestamp"]]
                    for c in ops["slowest_cycles"]
                ],
            )
        )
    if ops.get("incidents"):
        tables.append(
            (
                "Staleness and reconnect incidents",
                ["Kind", "Symbol or stream", "Times", "First", "Last"],
                [
                    [i["kind"], i["key"], str(i["count"]), i["first"], i["last"]]
                    for i in ops["incidents"]
                ],
            )
        )
    if ops.get("time_above"):
        tables.append(
            (
                "Time above thresholds",
                ["What", "Level", "Threshold", "Times", "Seconds"],
                [
                    [
                        row["what"],
                        row["level"],
                        _threshold(row["threshold"], row["unit"]),
                        str(row["count"]),
                        _plain(row["seconds"], 1),
                    ]
                    for row in ops["time_above"]
                ],
            )
        )
    return tables


def _threshold(value: object, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ratio" and isinstance(value, float):
        return f"{value * 100:g}% of limit"
    if unit == "s" and isinstance(value, int | float):
        return f"{value:g} s"
    return str(value)


def thresholds_line(report: dict[str, Any]) -> str:
    """The levels the report used, on one line (with where they came from)."""
    t = report.get("thresholds")
    if not t:
        return ""
    return (
        f"thresholds ({t['source']}): cycle {t['cycle_duration_warning_seconds']:g} / "
        f"{t['cycle_duration_critical_seconds']:g} s, heartbeat "
        f"{t['heartbeat_warning_seconds']:g} / {t['heartbeat_critical_seconds']:g} s, mark age "
        f"{t['staleness_warning_seconds']:g} / {t['staleness_critical_seconds']:g} s, account "
        f"age {t['account_age_warning_seconds']:g} / {t['account_age_critical_seconds']:g} s, "
        f"daily loss {t['daily_loss_warning_ratio'] * 100:g} / "
        f"{t['daily_loss_critical_ratio'] * 100:g} % of the limit (warning / critical)"
    )


def definitions(report: dict[str, Any]) -> list[str]:
    definitions = report["performance"]["definitions"]
    return [
        f"Total PnL: {report['pnl']['definition']}.",
        f"Reconciliation: {report['reconciliation']['definition']}.",
        f"Sharpe: {definitions['sharpe']}.",
        f"Sortino: {definitions['sortino']}.",
        f"Max drawdown: {definitions['max_drawdown']}.",
    ]


def header(report: dict[str, Any]) -> tuple[str, str]:
    window = report["window"]
    title = f"Daily report {report['date']} (profile {report['profile']})"
    zone = window.get("timezone", "UTC")
    return title, (
        f"window {window['start']} to {window['end']} (day in {zone}), "
        f"generated {report['generated_at']}"
    )


def render_text(report: dict[str, Any]) -> str:
    """The report as aligned plain text with an equity sparkline.

    Args:
        report: The computed report.

    Returns:
        The text document, with a trailing newline.
    """
    title, subtitle = header(report)
    lines = [title, "=" * len(title), subtitle, thresholds_line(report), ""]
    if report.get("no_data"):
        lines += [f"No data: {report.get('message', '')}", ""]
    for warning in report["sources"]["warnings"]:
        lines.append(f"warning: {warning}")
    if report["sources"]["warnings"]:
        lines.append("")
    for section, pairs in summary_pairs(report).items():
        lines += [section, *_rows(pairs), ""]
    for name, columns, rows in tables(report):
        table = [columns, *rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
        lines.append(name)
        for row in table:
            cells = [row[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
            ]
            lines.append(("  " + "  ".join(cells)).rstrip())
        lines.append("")
    values = _curve_values(report)
    if values:
        lines += [
            "Equity",
            f"  {sparkline(values)}",
            f"  min {_money(min(values))}  max {_money(max(values))}  points {len(values)}",
            "",
        ]
    lines += definitions(report)
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: dict[str, Any], chart: str | None = None) -> str:
    """The report as Markdown: a heading, then one two-column table per section.

    Args:
        report: The computed report.
        chart: The file name of the equity and drawdown SVG saved beside the document
            (:func:`~.charts.report_svg`), linked as an image; None (nothing saved) leaves a
            note instead. GitHub renders a linked SVG file, not SVG inline in Markdown.

    Returns:
        The Markdown document, with a trailing newline.
    """
    title, subtitle = header(report)
    lines = [f"# {title}", "", subtitle, "", _md_escape(thresholds_line(report)), ""]
    if report.get("no_data"):
        lines += [f"**No data:** {_md_escape(str(report.get('message', '')))}", ""]
    for warning in report["sources"]["warnings"]:
        lines.append(f"- warning: {_md_escape(warning)}")
    if report["sources"]["warnings"]:
        lines.append("")
    for section, pairs in summary_pairs(report).items():
        lines += [f"## {section}", "", "| Figure | Value |", "| --- | ---: |"]
        lines += [f"| {_md_escape(label)} | {_md_escape(value)} |" for label, value in pairs]
        lines.append("")
    for name, columns, rows in tables(report):
        lines += [
            f"## {name}",
            "",
            "| " + " | ".join(columns) + " |",
            "| --- |" + " ---: |" * (len(columns) - 1),
        ]
        lines += ["| " + " | ".join(_md_escape(cell) for cell in row) + " |" for row in rows]
        lines.append("")
    values = _curve_values(report)
    if values:
        image = (
            f"![Equity and drawdown over the window]({chart})"
            if chart
            else "_The equity and drawdown chart is saved as an SVG beside a saved report._"
        )
        lines += ["## Equity", "", f"`{sparkline(values)}`", "", image, ""]
    for line in definitions(report):
        lines += [f"_{_md_escape(line)}_", ""]
    lines.pop()
    return "\n".join(lines) + "\n"
