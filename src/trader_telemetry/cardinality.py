"""Bounded label values: past ``max_label_values`` distinct values, new ones fold into
``__overflow__`` so that a symbol flood cannot exhaust the bot's memory. A value that UTF-8
cannot encode (a lone surrogate, as undecodable bytes become under ``surrogateescape``) has
those characters replaced by U+FFFD and is counted (``invalid_utf8``), so the exposition always
encodes."""

from __future__ import annotations

import threading

from .selfmonitor import SelfMonitor

__all__ = ["OVERFLOW", "REPLACEMENT", "LabelLimiter", "valid_utf8"]

#: The label value that absorbs every value past the limit.
OVERFLOW = "__overflow__"
#: What a character UTF-8 cannot encode becomes.
REPLACEMENT = "\ufffd"


def valid_utf8(text: str) -> str:
    """``text`` itself when UTF-8 can encode it, else a copy with each lone surrogate replaced
    by U+FFFD.

    Example:
        >>> valid_utf8("BTC-PERP")
        'BTC-PERP'
        >>> valid_utf8("BTC" + chr(0xDCFF)) == "BTC" + chr(0xFFFD)
        True
    """
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        return "".join(REPLACEMENT if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


class LabelLimiter:
    """Admits up to ``limit`` distinct values of one label of one metric.

    Example:
        >>> from trader_telemetry.clock import ManualClock
        >>> limiter = LabelLimiter(
        ...     "exposure_usd", "symbol", 1, SelfMonitor(ManualClock().monotonic, 60)
        ... )
        >>> limiter.admit("BTC-PERP"), limiter.admit("ETH-PERP"), limiter.admit("BTC-PERP")
        ('BTC-PERP', '__overflow__', 'BTC-PERP')
    """

    __slots__ = ("_label", "_limit", "_lock", "_metric", "_monitor", "_seen")

    def __init__(self, metric: str, label: str, limit: int, monitor: SelfMonitor) -> None:
        self._metric = metric
        self._label = label
        self._limit = limit
        self._monitor = monitor
        self._seen: set[str] = set()
        self._lock = threading.RLock()  # re-entrant: a signal handler may record mid-admit

    def admit(self, value: object) -> str:
        """Return the label value to record: ``value`` as a string, or :data:`OVERFLOW`."""
        text = value if type(value) is str else str(value)
        if text in self._seen:  # the common case: no lock, a set lookup
            return text
        clean = valid_utf8(text)
        if clean is not text:
            self._monitor.reject(
                "invalid_utf8",
                "%s{%s=%a}: not valid UTF-8; recorded with U+FFFD in place of the bad characters",
                self._metric,
                self._label,
                text,
            )
            text = clean
            if text in self._seen:
                return text
        with self._lock:
            if text in self._seen:
                return text
            if len(self._seen) < self._limit:
                self._seen.add(text)
                return text
        self._monitor.reject(
            "label_overflow",
            "%s{%s=%r}: more than %d distinct values; recording it as %r",
            self._metric,
            self._label,
            text,
            self._limit,
            OVERFLOW,
        )
        return OVERFLOW
