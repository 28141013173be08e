"""Checks applied to recorded values before they touch state: numbers must be finite (and
sometimes non-negative), sides must be buy or sell. A failed check is a rejection: warned,
counted in ``{ns}_telemetry_rejected_values_total{reason}``, and the previous value stays."""

from __future__ import annotations

import math
import sys
from enum import Enum
from typing import SupportsFloat, TypeGuard

from .selfmonitor import SelfMonitor

__all__ = ["SIDES", "ValueChecker"]

SIDES = ("buy", "sell")


class ValueChecker:
    """Validates recorded values, reporting rejections to a :class:`SelfMonitor`."""

    __slots__ = ("_monitor",)

    def __init__(self, monitor: SelfMonitor) -> None:
        self._monitor = monitor

    def number(self, what: str, value: object, *, minimum: float | None = None) -> float | None:
        """``value`` as a float, or None (rejected) when it is not a finite number >= minimum."""
        kind = type(value)
        if kind is float or kind is int:  # the common case, without the ABC check (~300 ns)
            number = float(value)  # type: ignore[arg-type]
        elif isinstance(value, bool) or not (_is_real(value) or _is_decimal(value)):
            self._monitor.reject(
                "not_a_number", "%s must be a number, got %r; ignored", what, value
            )
            return None
        else:
            number = float(value)
        if not math.isfinite(number):
            self._monitor.reject(
                "non_finite", "%s must be finite, got %r; the previous value is kept", what, value
            )
            return None
        if minimum is not None and number < minimum:
            self._monitor.reject(
                "negative" if minimum == 0 else "below_minimum",
                "%s must be >= %s, got %r; ignored",
                what,
                minimum,
                value,
            )
            return None
        return number

    def side(self, value: object) -> str | None:
        """``"buy"`` or ``"sell"`` (any case, or an Enum whose value or name is one), else None."""
        raw = value.value if isinstance(value, Enum) else value
        if isinstance(raw, str):
            lowered = raw.strip().lower()
            if lowered in SIDES:
                return lowered
        if isinstance(value, Enum) and value.name.lower() in SIDES:
            return value.name.lower()
        self._monitor.reject(
            "unknown_side", "order side must be buy or sell, got %r; ignored", value
        )
        return None


def _is_decimal(value: object) -> TypeGuard[SupportsFloat]:
    """A ``decimal.Decimal`` (what exchange clients hand out), without importing :mod:`decimal`
    for bots that never use it: if the module is not loaded, no Decimal exists."""
    decimal = sys.modules.get("decimal")
    return decimal is not None and isinstance(value, decimal.Decimal)


def _is_real(value: object) -> TypeGuard[SupportsFloat]:
    """A :class:`numbers.Real` (int, float, Fraction, numpy's floats). :mod:`numbers` is imported
    here, on the rare path that reaches it, not with the package (docs/performance.md)."""
    from numbers import Real  # noqa: PLC0415 - off the import path

    return isinstance(value, Real)
