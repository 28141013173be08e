"""GPT-Trader's event shapes, read as the types the report and ``serve`` understand.

GPT-Trader (the bot the playbook comes from) writes the same events in two stores: ``events.db``
(SQLite, current) and ``events.jsonl`` (bot_v2, older). Both nest some payloads:

* metric rows: ``event_type = 'metric'`` with ``{"metrics": {"event_type": <real type>, ...}}``
  (bot_v2's lines carry the real type in ``type`` already);
* position rows: ``{"position": {symbol, mark_price, size, entry}}`` (``size`` unsigned);
* error rows: ``{"error": <message>, "details": {...}}``, or bot_v2's ``{"message": ...}``; the
  circuit breaker written through ``append_error`` is such an error with message
  ``circuit_breaker_triggered`` / ``circuit_breaker_cleared``.

:func:`unnest` turns them into flat ``(type, fields)``. :data:`UNDERSTOOD_TYPES` lists every type
the report and ``serve`` map (ours and GPT-Trader's); the reader counts the others by type.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["BREAKER_MESSAGES", "EXECUTED_STATUSES", "UNDERSTOOD_TYPES", "is_executed", "unnest"]

BREAKER_MESSAGES: Final = frozenset({"circuit_breaker_triggered", "circuit_breaker_cleared"})

#: ``trade`` statuses that mean the order executed; any other status (open, rejected,
#: cancelled, pending...) makes the trade an order only, never a fill.
EXECUTED_STATUSES: Final = frozenset({"filled", "executed", "done"})

UNDERSTOOD_TYPES: Final[frozenset[str]] = frozenset(
    {
        # ours (the library's writer)
        "cycle", "order", "fill", "rejection", "account", "daily_loss", "circuit_breaker",
        "ws_reconnect", "stale_mark", "health", "guard_triggered",
        # GPT-Trader's
        "cycle_metrics", "order_submission_attempt", "order_submitted", "order_preview",
        "order_rejected", "trade", "position", "position_metrics", "pnl_update",
        "funding_payment", "websocket_reconnect", "stale_mark_detected", "trade_gate_blocked",
        "unfilled_order_alert", "api_error", "error", "circuit_breaker_triggered",
        "circuit_breaker_cleared", "circuit_breaker_reset", "preview_reject",
    }
)  # fmt: skip


def is_executed(status: object) -> bool:
    """Whether a ``trade``'s status means it executed (``filled``, any case).

    Example:
        >>> is_executed("FILLED"), is_executed("open"), is_executed(None)
        (True, False, False)
    """
    return isinstance(status, str) and status.lower() in EXECUTED_STATUSES


def unnest(kind: str, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The flat ``(type, fields)`` of a nested GPT-Trader row; others come back unchanged.

    ``fields`` may be changed in place. The nested payload's keys win over the envelope's
    (``bot_id`` stays when the payload has none).

    Example:
        >>> unnest("metric", {"bot_id": "b", "metrics": {"event_type": "cycle_metrics", "x": 1}})
        ('cycle_metrics', {'bot_id': 'b', 'x': 1})
        >>> unnest("position", {"position": {"symbol": "BTC-PERP", "size": "0.5"}})
        ('position', {'symbol': 'BTC-PERP', 'quantity': '0.5'})
        >>> unnest("error", {"message": "circuit_breaker_cleared", "reason": "reset"})
        ('circuit_breaker_cleared', {'reason': 'reset', 'message': 'circuit_breaker_cleared'})
    """
    if kind == "metric":
        inner = fields.get("metrics")
        if inner.__class__ is dict:
            real = inner.get("event_type")
            if isinstance(real, str) and real:
                del fields["metrics"]
                fields.update(inner)
                del fields["event_type"]
                return real, fields
        return kind, fields
    if kind == "position":
        inner = fields.get("position")
        if inner.__class__ is dict:
            del fields["position"]
            fields.update(inner)
        if "quantity" not in fields and "size" in fields:
            fields["quantity"] = fields.pop("size")
        return kind, fields
    if kind == "error":
        message = fields.get("message")
        if message is None and isinstance(fields.get("error"), str):
            message = fields.pop("error")
            fields["message"] = message
        if message.__class__ is str and message in BREAKER_MESSAGES:  # any JSON may be there
            del fields["message"]
            details = fields.pop("details", None)
            if details.__class__ is dict:
                for key, value in details.items():
                    fields.setdefault(key, value)
            fields["message"] = message
            return message, fields
    return kind, fields
