"""Grafana's panel vocabulary: Prometheus targets, four panel kinds, rows and the grid layout.

Everything here is plain JSON model (dicts and lists) in the shape Grafana 11 saves, so
:mod:`~trader_telemetry.ops.dashboard` only says *what* each panel shows. A panel is built with
its size; :func:`layout` places the rows on the 24-column grid and numbers every panel.

Example:
    >>> p = timeseries("Equity", [("trader_equity", "{{instance}}")], unit="currencyUSD")
    >>> p["type"], p["targets"][0]["refId"], p["targets"][0]["datasource"]["uid"]
    ('timeseries', 'A', '${datasource}')
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DATASOURCE",
    "GRID_COLUMNS",
    "Level",
    "Query",
    "Row",
    "State",
    "layout",
    "stat",
    "state_timeline",
    "table",
    "timeseries",
]

JSON = dict[str, Any]
#: A panel query: PromQL and its legend template (``{{symbol}}``).
Query = tuple[str, str]

#: Every panel and target points at the ``datasource`` template variable, so one dashboard
#: works against whichever Prometheus the operator picks.
DATASOURCE: JSON = {"type": "prometheus", "uid": "${datasource}"}
#: Width of Grafana's grid.
GRID_COLUMNS = 24

_BASE_COLOR = "green"


@dataclass(frozen=True, slots=True)
class Level:
    """A threshold step: from ``value`` upwards the field turns ``color``."""

    value: float
    color: str


@dataclass(frozen=True, slots=True)
class State:
    """A value mapping for state panels: ``value`` is shown as ``text`` in ``color``."""

    value: int
    text: str
    color: str


@dataclass(frozen=True, slots=True)
class Row:
    """A titled row of panels, laid out left to right and wrapped at 24 columns."""

    title: str
    panels: tuple[JSON, ...]


def _targets(queries: Sequence[Query], *, instant: bool = False) -> list[JSON]:
    return [
        {
            "datasource": dict(DATASOURCE),
            "editorMode": "code",
            "expr": expr,
            "legendFormat": legend,
            "range": not instant,
            "instant": instant,
            "refId": ref_id,
            **({"format": "table"} if instant else {}),
        }
        for ref_id, (expr, legend) in zip(string.ascii_uppercase, queries, strict=False)
    ]


def _thresholds(levels: Sequence[Level], base: str = _BASE_COLOR) -> JSON:
    steps: list[JSON] = [{"color": base, "value": None}]
    steps.extend({"color": level.color, "value": level.value} for level in levels)
    return {"mode": "absolute", "steps": steps}


def _mappings(states: Sequence[State]) -> list[JSON]:
    if not states:
        return []
    options = {
        str(state.value): {"color": state.color, "index": i, "text": state.text}
        for i, state in enumerate(states)
    }
    return [{"type": "value", "options": options}]


def _panel(
    kind: str,
    title: str,
    *,
    description: str,
    size: tuple[int, int],
    targets: list[JSON],
    defaults: JSON,
    options: JSON,
) -> JSON:
    width, height = size
    return {
        "type": kind,
        "title": title,
        "description": description,
        "gridPos": {"h": height, "w": width, "x": 0, "y": 0},
        "datasource": dict(DATASOURCE),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": targets,
    }


def _legend() -> JSON:
    return {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True}


def timeseries(
    title: str,
    queries: Sequence[Query],
    *,
    size: tuple[int, int] = (12, 8),
    unit: str = "short",
    description: str = "",
    levels: Sequence[Level] = (),
    stacked: bool = False,
    bars: bool = False,
    no_value: str | None = None,
    min_value: float | None = None,
) -> JSON:
    """A time series panel; ``levels`` are drawn as dashed threshold lines.

    Args:
        title: Panel title.
        queries: Its queries; ref ids A, B, C ... follow the order.
        size: Width (of 24 columns) and height (grid units).
        unit: A Grafana unit id (``s``, ``bytes``, ``currencyUSD`` ...).
        description: The panel's info tooltip.
        levels: Threshold steps drawn on the graph (warning, critical ...).
        stacked: Stack the series (normal stacking) and fill under them.
        bars: Draw bars (for counts per interval) instead of lines.
        no_value: Text shown when the queries return nothing (``"0"`` for counters that only
            appear once something happened).
        min_value: Lower bound of the axis.
    """
    custom: JSON = {
        "drawStyle": "bars" if bars else "line",
        "lineInterpolation": "linear",
        "lineWidth": 1,
        "fillOpacity": 30 if stacked or bars else 10,
        "gradientMode": "none",
        "showPoints": "never",
        "pointSize": 4,
        "spanNulls": False,
        "axisPlacement": "auto",
        "axisLabel": "",
        "stacking": {"group": "A", "mode": "normal" if stacked else "none"},
        "thresholdsStyle": {"mode": "dashed" if levels else "off"},
    }
    defaults: JSON = {
        "color": {"mode": "palette-classic"},
        "custom": custom,
        "mappings": [],
        "thresholds": _thresholds(levels),
        "unit": unit,
    }
    if no_value is not None:
        defaults["noValue"] = no_value
    if min_value is not None:
        defaults["min"] = min_value
    options: JSON = {"legend": _legend(), "tooltip": {"mode": "multi", "sort": "desc"}}
    return _panel(
        "timeseries",
        title,
        description=description,
        size=size,
        targets=_targets(queries),
        defaults=defaults,
        options=options,
    )


def stat(
    title: str,
    queries: Sequence[Query],
    *,
    size: tuple[int, int] = (4, 4),
    unit: str = "short",
    description: str = "",
    levels: Sequence[Level] = (),
    base_color: str = _BASE_COLOR,
    states: Sequence[State] = (),
) -> JSON:
    """A single-value panel, coloured by ``levels`` or by the ``states`` value mappings
    (a state panel shows no sparkline: a 0/1 history is what the state timeline is for)."""
    defaults: JSON = {
        "color": {"mode": "thresholds"},
        "mappings": _mappings(states),
        "thresholds": _thresholds(levels, base_color),
        "unit": unit,
    }
    options: JSON = {
        "colorMode": "background" if states else "value",
        "graphMode": "none" if states else "area",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "showPercentChange": False,
        "textMode": "auto",
        "wideLayout": True,
    }
    return _panel(
        "stat",
        title,
        description=description,
        size=size,
        targets=_targets(queries),
        defaults=defaults,
        options=options,
    )


def state_timeline(
    title: str,
    queries: Sequence[Query],
    states: Sequence[State],
    *,
    size: tuple[int, int] = (12, 8),
    description: str = "",
) -> JSON:
    """A state timeline: each series is a lane coloured by the ``states`` value mappings."""
    defaults: JSON = {
        "color": {"mode": "thresholds"},
        "custom": {"fillOpacity": 75, "lineWidth": 0},
        "mappings": _mappings(states),
        "thresholds": _thresholds(()),
        "unit": "short",
    }
    options: JSON = {
        "alignValue": "left",
        "legend": _legend(),
        "mergeValues": True,
        "rowHeight": 0.9,
        "showValue": "auto",
        "tooltip": {"mode": "single", "sort": "none"},
    }
    return _panel(
        "state-timeline",
        title,
        description=description,
        size=size,
        targets=_targets(queries),
        defaults=defaults,
        options=options,
    )


def table(
    title: str,
    queries: Sequence[Query],
    *,
    size: tuple[int, int] = (8, 8),
    description: str = "",
    hide: Sequence[str] = (),
) -> JSON:
    """A table of instant query results; ``hide`` lists columns to drop (``Time``, ``Value``)."""
    defaults: JSON = {
        "color": {"mode": "thresholds"},
        "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
        "mappings": [],
        "thresholds": _thresholds(()),
        "unit": "short",
    }
    options: JSON = {
        "cellHeight": "sm",
        "footer": {"countRows": False, "fields": "", "reducer": ["sum"], "show": False},
        "showHeader": True,
    }
    targets = _targets(queries, instant=True)
    panel = _panel(
        "table",
        title,
        description=description,
        size=size,
        targets=targets,
        defaults=defaults,
        options=options,
    )
    organize = {"excludeByName": dict.fromkeys(hide, True), "indexByName": {}, "renameByName": {}}
    panel["transformations"] = [{"id": "organize", "options": organize}]
    return panel


def layout(rows: Sequence[Row]) -> list[JSON]:
    """The dashboard's ``panels``: each row header, then its panels flowed left to right and
    wrapped at 24 columns; ids 1, 2, 3 ... in that order (stable across renders).

    Example:
        >>> cells = tuple(stat(t, [("up", "")], size=(10, 4)) for t in "abc")
        >>> [p["gridPos"]["x"] for p in layout([Row("r", cells)])]
        [0, 0, 10, 0]
    """
    panels: list[JSON] = []
    y = 0
    for row in rows:
        header: JSON = {"type": "row", "title": row.title, "collapsed": False, "panels": []}
        header["gridPos"] = {"h": 1, "w": GRID_COLUMNS, "x": 0, "y": y}
        panels.append(header)
        y += 1
        x = line_height = 0
        for cell in row.panels:
            grid = cell["gridPos"]
            if x + grid["w"] > GRID_COLUMNS:
                y, x, line_height = y + line_height, 0, 0
            panels.append({**cell, "gridPos": {**grid, "x": x, "y": y}})
            x += grid["w"]
            line_height = max(line_height, grid["h"])
        y += line_height
    return [{"id": number, **panel} for number, panel in enumerate(panels, start=1)]
