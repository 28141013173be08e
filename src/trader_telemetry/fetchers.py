"""Decorators for the bot's own fetchers: the return value is recorded, then returned as is.

A fetcher that raises is not touched (its exception propagates unchanged); a return value we
cannot read is an internal fault, logged and counted, never raised.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from .selfmonitor import SelfMonitor

__all__ = ["ACCOUNT_FIELDS", "decorate_fetcher", "extract_account"]

F = TypeVar("F", bound=Callable[..., Any])

ACCOUNT_FIELDS = ("equity", "realized_pnl", "unrealized_pnl", "funding_pnl", "total_pnl")


def extract_account(result: object) -> dict[str, Any]:
    """The account fields found in ``result``: mapping keys or attributes of the same names.

    Example:
        >>> extract_account({"equity": 100.0, "other": 1})
        {'equity': 100.0}
    """
    if isinstance(result, Mapping):
        return {k: result[k] for k in ACCOUNT_FIELDS if result.get(k) is not None}
    found = {k: getattr(result, k, None) for k in ACCOUNT_FIELDS}
    return {k: v for k, v in found.items() if v is not None}


def decorate_fetcher(func: F, record: Callable[[Any], None], monitor: SelfMonitor) -> F:
    """Wrap a sync or async fetcher so ``record(result)`` sees each result."""

    def observe(result: Any) -> Any:
        try:
            record(result)
        except Exception as exc:  # noqa: BLE001 - the fetcher's result reaches the bot regardless
            monitor.fault(f"fetcher_{getattr(func, '__name__', 'anonymous')}", exc)
        return result

    import wrapt  # noqa: PLC0415 - imported when a function is decorated: a light import

    if inspect.iscoroutinefunction(func):

        @wrapt.decorator
        async def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return observe(await wrapped(*args, **kwargs))

        return cast(F, async_wrapper(func))

    @wrapt.decorator
    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return observe(wrapped(*args, **kwargs))

    return cast(F, wrapper(func))
