"""The GPT-Trader sample day (tests/fixtures/gpt_trader), copied where a test may open it, and
its figures computed by hand from the raw rows with ``sqlite3`` and ``json`` (never by our
reader), so the tests compare our output with an independent reading."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "gpt_trader"


def copy_day(target: Path) -> tuple[Path, Path]:
    """(head dir, legacy dir) copied under ``target``."""
    head, legacy = target / "head", target / "legacy"
    shutil.copytree(FIXTURES / "head", head)
    shutil.copytree(FIXTURES / "legacy", legacy)
    return head, legacy


def raw_rows(db: Path) -> list[tuple[int, str, str, dict[str, Any]]]:
    """(id, timestamp column, event_type column, payload) of every row, opened read-only on a
    copy that nothing writes (immutable: no -wal/-shm are created)."""
    with sqlite3.connect(f"file:{db}?immutable=1", uri=True) as connection:
        rows = connection.execute(
            "SELECT id, timestamp, event_type, payload FROM events ORDER BY id"
        ).fetchall()
    connection.close()
    return [(i, t, k, json.loads(p)) for i, t, k, p in rows]


def _epoch(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    assert isinstance(value, str)
    return datetime.fromisoformat(value).timestamp()


def expected_figures(db: Path) -> dict[str, Any]:
    """The day's figures, from the rows as GPT-Trader's writers meant them."""
    rows = raw_rows(db)
    by_type: Counter[str] = Counter()
    cycles: list[tuple[float, float]] = []
    fills: list[dict[str, Any]] = []
    trades: list[dict[str, Any]] = []
    latest_pnl: dict[str, tuple[float, float, float]] = {}
    rejections = 0
    attempts = 0
    guards: Counter[str] = Counter()
    for _, _column_time, kind, payload in rows:
        real = kind
        if kind == "metric":
            real = payload["metrics"]["event_type"]
            metrics = payload["metrics"]
            if real == "cycle_metrics":
                cycles.append((_epoch(metrics["timestamp"]), float(metrics["equity"])))
            elif real == "order_rejected":
                rejections += 1
            elif real == "order_submission_attempt":
                attempts += 1
        elif kind == "fill":
            fills.append(payload)
        elif kind == "trade":
            trades.append(payload)
        elif kind == "pnl_update":
            at = _epoch(payload["timestamp"])
            symbol = payload["symbol"]
            if symbol not in latest_pnl or at >= latest_pnl[symbol][0]:
                latest_pnl[symbol] = (at, payload["realized_pnl"], payload["unrealized_pnl"])
        elif kind == "guard_triggered":
            guards[payload["guard"]] += 1
        by_type[real] += 1
    fill_orders = {fill["order_id"] for fill in fills}
    trade_fills = [
        t for t in trades if t["status"] == "filled" and t["order_id"] not in fill_orders
    ]
    per_symbol: dict[str, dict[str, float]] = defaultdict(lambda: {"fills": 0, "realized": 0.0})
    for fill in fills:
        per_symbol[fill["symbol"]]["fills"] += 1
        per_symbol[fill["symbol"]]["realized"] += fill["pnl"]
    cycles.sort()
    equity = [value for _, value in cycles]
    peak, drawdown = equity[0], 0.0
    for value in equity:
        peak = max(peak, value)
        drawdown = max(drawdown, peak - value)
    return {
        "types": by_type,
        "fills": len(fills) + len(trade_fills),
        "orders": attempts,
        "rejections": rejections,
        "realized": sum(fill["pnl"] for fill in fills),
        "fees": sum(fill["fee"] for fill in fills),
        "funding": sum(p["amount"] for _, _, k, p in rows if k == "funding_payment"),
        "account_realized": sum(realized for _, realized, _ in latest_pnl.values()),
        "account_unrealized": sum(unrealized for _, _, unrealized in latest_pnl.values()),
        "symbol_pnl": {s: r + u for s, (_, r, u) in latest_pnl.items()},
        "per_symbol": dict(per_symbol),
        "equity_start": equity[0],
        "equity_end": equity[-1],
        "drawdown": drawdown,
        "cycles": len(cycles),
        "last_cycle_at": cycles[-1][0],
        "reconnects": by_type["websocket_reconnect"],
        "stale_marks": by_type["stale_mark_detected"],
        "breaker_trips": by_type["circuit_breaker_triggered"],
        "unfilled_orders": by_type["unfilled_order_alert"],
        "api_errors": by_type["api_error"],
        "trades_blocked": by_type["trade_gate_blocked"],
        "guards": dict(guards),
        "trades": len(trades),
    }


def day_end() -> datetime:
    return datetime(2026, 12, 1, tzinfo=UTC)
