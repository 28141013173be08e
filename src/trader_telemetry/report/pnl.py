"""The day's PnL marked to market, and its reconciliation with the equity change.

The opening state is the account state in force when the window starts: the last account event
before it (the tally reads the files from their start to find it), else the window's first
account event. A position held over midnight then counts only the change of its unrealized PnL
during the day, and the equity change can be checked against the PnL the events explain.
"""

from __future__ import annotations

import math
from typing import Any, Final

from .tally import Tally, as_number

__all__ = [
    "PNL_DEFINITION",
    "RECONCILIATION_DEFINITION",
    "UNEXPLAINED",
    "mark_to_market",
    "rounded",
]

PNL_DEFINITION: Final = (
    "total = realized - fees + funding + unrealized change (mark to market); realized is the "
    "sum of fills' realized_pnl (before fees), fees the sum of fills' fee, funding the change in "
    "cumulative funding_pnl of account events over the window plus legacy funding_payment "
    "amounts, unrealized change the last account event's unrealized_pnl (or the sum of each "
    "symbol's latest pnl_update) minus the one in force at the window's start (the last "
    "account event before it, else the window's first)"
)
RECONCILIATION_DEFINITION: Final = (
    "equity change minus total PnL; what the events do not explain: deposits, withdrawals or "
    "missing events. Flagged above the tolerance: 0.1 % of the starting equity, at least 1 USD"
)
UNEXPLAINED: Final = "unexplained (deposits, withdrawals or missing events)"
#: The reconciliation's tolerance: this share of the starting equity, and at least ``MIN_USD``.
TOLERANCE_SHARE: Final = 0.001
TOLERANCE_MIN_USD: Final = 1.0


def rounded(value: float | None, digits: int = 6) -> float | None:
    """Rounded; None for None, NaN and infinities (JSON has no such numbers).

    Example:
        >>> rounded(-1e-9), rounded(float("inf"))
        (0.0, None)
    """
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _opening(tally: Tally) -> tuple[float | None, float | None, float | None, str]:
    """(equity, unrealized, funding, source) of the account state at the window's start."""
    first_equity = tally.equity[0] if tally.equity else None
    if tally.opening is not None:
        _, equity, unrealized, funding = tally.opening
        source = "last account event before the window"
    else:
        equity = unrealized = funding = None
        source = "first account event in the window"
    # A field the opening event lacked falls back to the window's first value.
    if equity is None and first_equity is not None:
        equity = first_equity[1]
    if unrealized is None:
        # GPT-Trader's cumulative pnl_update per symbol, else the window's first account event.
        unrealized = tally.unrealized_at_start()
    if unrealized is None and tally.first_unrealized is not None:
        unrealized = tally.first_unrealized[1]
    if funding is None and tally.first_funding is not None:
        funding = tally.first_funding[1]
    if tally.opening is None and equity is None:
        source = "none"
    return equity, unrealized, funding, source


def mark_to_market(tally: Tally, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    """The ``account``, ``pnl`` and ``reconciliation`` sections of a closed tally.

    Puts ``tally.equity`` in time order and, when the opening state has an equity, adds it as
    the path's first point, at the window's start (drawdown and returns start from it).

    Args:
        tally: The tally of the window (closed).
        snapshot: A ``metrics.json`` whose equity closes the day when no event gives one.

    Returns:
        The three sections, JSON-ready.
    """
    if not tally.equity_in_order:
        tally.equity.sort(key=lambda point: point[0])  # stable: file order breaks ties
    equity_start, unrealized_start, funding_start, start_source = _opening(tally)
    if tally.opening is not None and tally.opening[1] is not None and tally.start is not None:
        tally.equity.insert(0, (tally.start, tally.opening[1]))
    equity_end = tally.equity[-1][1] if tally.equity else None
    end_source = "events" if tally.equity else None
    if equity_end is None and snapshot is not None:
        equity_end = as_number(snapshot.get("account_snapshot", {}).get("equity"))
        end_source = "metrics_file" if equity_end is not None else None
    change = _finite(
        equity_end - equity_start if equity_start is not None and equity_end is not None else None
    )
    change_pct = (
        _finite(change / equity_start * 100.0) if change is not None and equity_start else None
    )
    funding = tally.funding_payments
    if funding_start is not None and tally.last_funding is not None:
        funding += tally.last_funding[1] - funding_start
    unrealized_end: float | None = None
    if tally.symbol_pnl or tally.prior_symbol_pnl or tally.last_unrealized is not None:
        unrealized_end = tally.unrealized()  # per symbol's latest pnl_update, else the account's
    if unrealized_end is None:
        unrealized_end = unrealized_start  # no account event in the window: unchanged
    unrealized_change = (
        unrealized_end - unrealized_start
        if unrealized_end is not None and unrealized_start is not None
        else 0.0
    )
    total = _finite(tally.realized - tally.fees + funding + unrealized_change)
    unexplained = _finite(change - total) if change is not None and total is not None else None
    tolerance = TOLERANCE_MIN_USD
    if equity_start is not None and math.isfinite(share := abs(equity_start) * TOLERANCE_SHARE):
        tolerance = max(TOLERANCE_MIN_USD, share)
    return {
        "account": {
            "equity_start": rounded(equity_start),
            "equity_start_source": start_source,
            "equity_end": rounded(equity_end),
            "equity_end_source": end_source,
            "equity_change": rounded(change),
            "equity_change_pct": rounded(change_pct),
        },
        "pnl": {
            "realized": rounded(tally.realized),
            "fees": rounded(tally.fees),
            "fees_included_in_realized": False,
            "funding": rounded(funding),
            "unrealized_start": rounded(unrealized_start),
            "unrealized_end": rounded(unrealized_end),
            "unrealized_change": rounded(unrealized_change),
            "total": rounded(total),
            "definition": PNL_DEFINITION,
        },
        "reconciliation": {
            "equity_change": rounded(change),
            "total_pnl": rounded(total),
            "unexplained": rounded(unexplained),
            "label": UNEXPLAINED,
            "tolerance": rounded(tolerance),
            "flagged": unexplained is not None and abs(unexplained) > tolerance,
            "definition": RECONCILIATION_DEFINITION,
        },
    }
