"""Read a ``metrics.json`` (ours or GPT-Trader's) into our snapshot shape.

The counterpart of :mod:`.reader` for the snapshot file: the report takes the closing equity
from it and the file exporter serves it. Like the events reader it never raises on bad input.
"""

from __future__ import annotations

import os
from typing import Any, Final

from .field_values import as_float, to_number
from .reader import NUMERIC_FIELDS, loads_json

__all__ = ["load_metrics_snapshot", "positions_by_symbol"]


_PNL_KEYS: Final = (
    ("total", "total_pnl"),
    ("realized", "realized_pnl"),
    ("unrealized", "unrealized_pnl"),
    ("funding", "funding_pnl"),
)


def load_metrics_snapshot(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Read a ``metrics.json`` and normalise the legacy shapes into ours.

    Our ``/metrics.json`` document passes through unchanged in substance. From GPT-Trader's
    files: top-level ``equity`` and ``account.equity`` fill ``account_snapshot.equity`` when it
    is absent; a ``pnl`` block (``total``, ``realized``, ``unrealized``, ``funding``) fills
    ``account_snapshot``'s ``total_pnl``, ``realized_pnl``, ``unrealized_pnl`` and
    ``funding_pnl`` when absent; ``positions`` as a list of ``{symbol, quantity, mark_price,
    ...}`` or as a dict keyed by symbol both become a dict keyed by symbol, each entry with its
    ``symbol`` and ``exposure_usd`` (quantity * mark_price, negative for a positive quantity
    with side short/sell, when absent). Numeric strings in :data:`NUMERIC_FIELDS` become floats.
    Symbols are kept exactly as written. Other keys are kept as they are.

    Args:
        path: The ``metrics.json`` file.

    Returns:
        The normalised document, or None when the file is missing, unreadable, not JSON or not
        a JSON object (the caller reports it; nothing is raised).

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pathlib.Path(tmp, "metrics.json")
        ...     _ = path.write_text(
        ...         '{"equity": 1000.0, "positions": '
        ...         '[{"symbol": "BTC-PERP", "quantity": "0.5", "mark_price": "100"}]}'
        ...     )
        ...     snapshot = load_metrics_snapshot(path)
        >>> snapshot["account_snapshot"]["equity"]
        1000.0
        >>> snapshot["positions"]["BTC-PERP"]["exposure_usd"]
        50.0
        >>> load_metrics_snapshot(pathlib.Path(tmp, "missing.json")) is None
        True
    """
    try:
        with open(path, "rb") as file:
            document = loads_json(file.read())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    snapshot: dict[str, Any] = dict(document)
    snapshot["account_snapshot"] = _account(snapshot)
    snapshot["positions"] = _positions(snapshot.get("positions"))
    return snapshot


def _account(snapshot: dict[str, Any]) -> dict[str, Any]:
    found = snapshot.get("account_snapshot")
    account: dict[str, Any] = dict(found) if isinstance(found, dict) else {}
    for key in NUMERIC_FIELDS.intersection(account):
        account[key] = to_number(account[key])
    if account.get("equity") is None:
        legacy = snapshot.get("account")
        candidates = (legacy.get("equity") if isinstance(legacy, dict) else None,)
        for value in (*candidates, snapshot.get("equity")):
            equity = as_float(value)
            if equity is not None:
                account["equity"] = equity
                break
    pnl = snapshot.get("pnl")
    if isinstance(pnl, dict):
        for legacy_key, key in _PNL_KEYS:
            if account.get(key) is None:
                amount = as_float(pnl.get(legacy_key))
                if amount is not None:
                    account[key] = amount
    return account


def positions_by_symbol(found: object) -> dict[str, dict[str, Any]]:
    """GPT-Trader's positions (a list of ``{symbol, quantity, side, mark_price...}`` or a dict
    by symbol) as a dict by symbol, each with its signed ``exposure_usd`` when it can be
    computed.

    Example:
        >>> positions_by_symbol(
        ...     [{"symbol": "ETH-PERP", "quantity": 2, "side": "short", "mark_price": 10}]
        ... )["ETH-PERP"]["exposure_usd"]
        -20.0
    """
    return _positions(found)


def _positions(found: object) -> dict[str, dict[str, Any]]:
    entries: list[tuple[str, dict[str, Any]]] = []
    if isinstance(found, list):
        entries = [
            (item["symbol"], dict(item))
            for item in found
            if isinstance(item, dict) and isinstance(item.get("symbol"), str)
        ]
    elif isinstance(found, dict):
        for symbol, item in found.items():
            if isinstance(item, dict):
                entries.append((symbol, dict(item)))
            elif as_float(item) is not None:  # {symbol: exposure} in the simplest exporters
                entries.append((symbol, {"exposure_usd": as_float(item)}))
    positions: dict[str, dict[str, Any]] = {}
    for symbol, position in entries:
        for key in NUMERIC_FIELDS.intersection(position):
            position[key] = to_number(position[key])
        position.setdefault("symbol", symbol)
        if position.get("exposure_usd") is None:
            quantity = as_float(position.get("quantity"))
            mark = as_float(position.get("mark_price"))
            if quantity is not None and mark is not None:
                side = position.get("side")
                if isinstance(side, str) and side.lower() in {"short", "sell"}:
                    quantity = -abs(quantity)
                position["exposure_usd"] = quantity * mark
        positions[symbol] = position
    return positions
