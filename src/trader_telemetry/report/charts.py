"""SVG charts of a daily report: equity and drawdown on a time axis, PnL by symbol, and the
distribution of cycle durations with the thresholds drawn.

Plain SVG 1.1 (no script, no external font or image), valid XML, sized by its ``viewBox`` so it
scales to a phone's width. The HTML page inlines them; the Markdown form links the file
:func:`report_svg` writes (GitHub renders an SVG file, not inline SVG in Markdown).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any, Final

__all__ = ["cycle_histogram_svg", "equity_drawdown_svg", "report_svg", "symbols_svg"]

_FONT: Final = 'font-family="sans-serif" font-size="12"'
_GRID: Final = "#d0d7de"
_UP: Final = "#1a7f37"
_DOWN: Final = "#cf222e"
_BLUE: Final = "#0969da"
_WIDTH: Final = 560
_LEFT: Final = 74
_RIGHT: Final = 12
# Nice tick steps of a time axis, in seconds (a minute to a year).
_STEPS: Final = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
                 2592000, 31536000)  # fmt: skip


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _money(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 1e15 else f"{value:.3g}"  # a label, not a ledger


def _scale(low: float, high: float, top: float, height: float) -> Any:
    """value -> y pixel (high at ``top``); halves keep ``high - low`` finite for huge values."""
    span = high / 2 - low / 2
    if not span > 0:
        return lambda value: top + height / 2
    return lambda value: top + (high / 2 - value / 2) / span * height


def _svg(height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
        f'width="100%" style="max-width:{_WIDTH}px" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"
    )


def _time_ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """About six ticks on whole steps between ``start`` and ``end``, labelled in UTC."""
    span = (end - start).total_seconds()
    if not span > 0:
        return []
    step = next((s for s in _STEPS if span / s <= 8), None)
    if step is None:  # longer than eight years: six even steps, labelled by date
        return [(start + (end - start) * i / 6, "") for i in range(7)]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = math.ceil((start - epoch).total_seconds() / step) * step
    ticks = []
    moment = epoch + timedelta(seconds=first)
    while moment <= end:
        ticks.append((moment, ""))
        moment += timedelta(seconds=step)
    return ticks


def _tick_label(moment: datetime, span_seconds: float) -> str:
    if span_seconds <= 2 * 86400:
        return moment.strftime("%H:%M")
    if span_seconds <= 60 * 86400:
        return (
            moment.strftime("%m-%d %H:%M")
            if moment.hour or moment.minute
            else moment.strftime("%m-%d")
        )
    return moment.date().isoformat()


def equity_drawdown_svg(report: dict[str, Any]) -> str:
    """The equity curve over the window, and its drawdown below it, on one UTC time axis.

    Example:
        >>> svg = equity_drawdown_svg(
        ...     {
        ...         "window": {"start": "2026-11-25T00:00:00Z", "end": "2026-11-26T00:00:00Z"},
        ...         "equity_curve": [["2026-11-25T01:00:00Z", 1.0]],
        ...     }
        ... )
        >>> svg.startswith("<svg")
        True
    """
    window = report["window"]
    start, end = _when(window["start"]), _when(window["end"])
    points = [(_when(stamp), float(value)) for stamp, value in report.get("equity_curve", [])]
    height, top, eq_h, gap, dd_h = 300, 14, 160, 26, 70
    dd_top = top + eq_h + gap
    plot_w = _WIDTH - _LEFT - _RIGHT
    span = (end - start).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        return _LEFT + max(0.0, min(1.0, (moment - start).total_seconds() / span)) * plot_w

    body = [
        f'<rect x="{_LEFT}" y="{top}" width="{plot_w}" height="{eq_h}" fill="none" '
        f'stroke="{_GRID}"/>',
        f'<rect x="{_LEFT}" y="{dd_top}" width="{plot_w}" height="{dd_h}" fill="none" '
        f'stroke="{_GRID}"/>',
        f'<text x="{_LEFT}" y="{top - 3}" {_FONT}>Equity (USD)</text>',
        f'<text x="{_LEFT}" y="{dd_top - 3}" {_FONT}>Drawdown from the running peak (USD)</text>',
    ]
    for moment, _ in _time_ticks(start, end):
        px = x(moment)
        body.append(
            f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{dd_top + dd_h}" '
            f'stroke="{_GRID}" stroke-dasharray="2,3"/>'
        )
        anchor = "end" if px > _WIDTH - _RIGHT - 20 else "middle"  # the last stays on the page
        body.append(
            f'<text x="{px:.1f}" y="{height - 6}" text-anchor="{anchor}" {_FONT}>'
            f"{escape(_tick_label(moment, span))}</text>"
        )
    if not points:
        body.append(
            f'<text x="{_LEFT + plot_w / 2}" y="{top + eq_h / 2}" text-anchor="middle" {_FONT}>'
            "no equity in the window</text>"
        )
        return _svg(height, "Equity and drawdown: no data", body)
    values = [value for _, value in points]
    low, high = min(values), max(values)
    y = _scale(low, high, top, eq_h)
    peak, drawdowns = values[0], []
    for value in values:
        peak = max(peak, value)
        drawdowns.append(peak / 2 - value / 2)  # halved: finite for any two floats
    worst = max(drawdowns)
    y_dd = _scale(-worst, 0.0, dd_top, dd_h)
    colour = _UP if values[-1] >= values[0] else _DOWN
    line = " ".join(f"{x(m):.1f},{y(v):.1f}" for m, v in points)
    area = " ".join(
        f"{x(m):.1f},{y_dd(-d):.1f}" for (m, _), d in zip(points, drawdowns, strict=True)
    )
    first_x, last_x = x(points[0][0]), x(points[-1][0])
    body += [
        f'<text x="{_LEFT - 4}" y="{top + 10}" text-anchor="end" {_FONT}>{_money(high)}</text>',
        f'<text x="{_LEFT - 4}" y="{top + eq_h}" text-anchor="end" {_FONT}>{_money(low)}</text>',
        f'<text x="{_LEFT - 4}" y="{dd_top + 10}" text-anchor="end" {_FONT}>0</text>',
        f'<text x="{_LEFT - 4}" y="{dd_top + dd_h}" text-anchor="end" {_FONT}>'
        f"-{_money(worst * 2)}</text>",
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{line}"/>',
        f'<polygon fill="{_DOWN}" fill-opacity="0.35" stroke="{_DOWN}" '
        f'points="{first_x:.1f},{dd_top} {area} {last_x:.1f},{dd_top}"/>',
    ]
    if len(points) == 1:
        body.append(f'<circle cx="{first_x:.1f}" cy="{y(values[0]):.1f}" r="3" fill="{colour}"/>')
    label = f"Equity {_money(values[0])} to {_money(values[-1])}, {len(values)} points"
    return _svg(height, label, body)


def symbols_svg(report: dict[str, Any]) -> str:
    """Net realized PnL (realized - fees) by symbol, as horizontal bars around zero."""
    # Halved (as every scale here): realized - fees of two huge numbers stays finite.
    rows = [
        (str(s["symbol"]), (s["realized_pnl"] or 0.0) / 2 - (s["fees"] or 0.0) / 2)
        for s in report.get("symbols", [])
    ]
    bar, top = 22, 8
    height = top + max(1, len(rows)) * bar + 8
    if not rows:
        return _svg(40, "PnL by symbol: no fills", [f'<text x="10" y="24" {_FONT}>no fills</text>'])
    label_w, value_w = 100, 80
    plot_w = _WIDTH - label_w - value_w - _RIGHT
    largest = max(abs(value) for _, value in rows) or 1.0
    has_negative = any(value < 0 for _, value in rows)
    zero = label_w + (plot_w / 2 if has_negative else 0)
    half = plot_w / 2 if has_negative else plot_w
    body = [f'<line x1="{zero}" y1="{top}" x2="{zero}" y2="{height - 8}" stroke="{_GRID}"/>']
    for i, (symbol, value) in enumerate(rows):
        length = value / largest * half
        y0 = top + i * bar
        left = zero + min(0.0, length)
        colour = _UP if value >= 0 else _DOWN
        body += [
            f'<text x="{label_w - 6}" y="{y0 + 15}" text-anchor="end" {_FONT}>'
            f"{escape(symbol)}</text>",
            f'<rect x="{left:.1f}" y="{y0 + 4}" width="{abs(length):.1f}" height="{bar - 8}" '
            f'fill="{colour}"/>',
            f'<text x="{_WIDTH - _RIGHT}" y="{y0 + 15}" text-anchor="end" {_FONT}>'
            f"{_money(value * 2)}</text>",
        ]
    return _svg(height, "Net realized PnL by symbol (realized - fees, USD)", body)


def cycle_histogram_svg(report: dict[str, Any]) -> str:
    """Cycles per duration bucket, with the warning and critical levels drawn as lines."""
    ops = report["operations"]
    buckets = ops.get("cycle_histogram", [])
    height, top, plot_h = 190, 22, 130
    if not buckets or not any(b["count"] for b in buckets):
        return _svg(
            40, "Cycle durations: no cycles", [f'<text x="10" y="24" {_FONT}>no cycles</text>']
        )
    plot_w = _WIDTH - _LEFT - _RIGHT
    width = plot_w / len(buckets)
    most = max(b["count"] for b in buckets)
    body = [
        f'<text x="{_LEFT}" y="{top - 8}" {_FONT}>Cycles by duration (s, upper bound of each '
        "bucket)</text>",
        f'<line x1="{_LEFT}" y1="{top + plot_h}" x2="{_LEFT + plot_w}" y2="{top + plot_h}" '
        f'stroke="{_GRID}"/>',
        f'<text x="{_LEFT - 4}" y="{top + 10}" text-anchor="end" {_FONT}>{most}</text>',
        f'<text x="{_LEFT - 4}" y="{top + plot_h}" text-anchor="end" {_FONT}>0</text>',
    ]
    t = report.get("thresholds") or {}
    levels = {
        "warning": t.get("cycle_duration_warning_seconds"),
        "critical": t.get("cycle_duration_critical_seconds"),
    }
    for i, bucket in enumerate(buckets):
        count = bucket["count"]
        bar_h = count / most * plot_h
        x0 = _LEFT + i * width
        upper = bucket["le"]
        slow = upper is None or (levels["warning"] is not None and upper > levels["warning"])
        body += [
            f'<rect x="{x0 + 2:.1f}" y="{top + plot_h - bar_h:.1f}" width="{width - 4:.1f}" '
            f'height="{bar_h:.1f}" fill="{_DOWN if slow else _BLUE}"/>',
            f'<text x="{x0 + width / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
            f"{_FONT}>{'+Inf' if upper is None else f'{upper:g}'}</text>",
        ]
        if count:
            body.append(
                f'<text x="{x0 + width / 2:.1f}" y="{top + plot_h - bar_h - 3:.1f}" '
                f'text-anchor="middle" {_FONT}>{count}</text>'
            )
    for name, level in levels.items():
        index = next((i for i, b in enumerate(buckets) if b["le"] == level), None)
        if index is None:
            continue
        px = _LEFT + (index + 1) * width
        colour = "#9a6700" if name == "warning" else _DOWN
        body += [
            f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + plot_h}" '
            f'stroke="{colour}" stroke-width="2" stroke-dasharray="5,3"/>',
            f'<text x="{px - 3:.1f}" y="{top + 12 + (14 if name == "critical" else 0)}" '
            f'text-anchor="end" fill="{colour}" {_FONT}>{name} {level:g} s</text>',
        ]
    return _svg(height + 8, "Cycle duration distribution with the thresholds", body)


def report_svg(report: dict[str, Any]) -> str:
    """The equity and drawdown chart as a standalone SVG file (the Markdown form links it).

    Example:
        >>> svg = report_svg(
        ...     {
        ...         "window": {"start": "2026-11-25T00:00:00Z", "end": "2026-11-26T00:00:00Z"},
        ...         "equity_curve": [],
        ...     }
        ... )
        >>> svg.startswith('<?xml version="1.0" encoding="UTF-8"?>')
        True
    """
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + equity_drawdown_svg(report) + "\n"
