"""What a scrape returns, and content negotiation."""

from __future__ import annotations

__all__ = ["OPENMETRICS_CONTENT_TYPE", "TEXT_CONTENT_TYPE", "Exposition", "wants_openmetrics"]

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


class Exposition:
    """One rendered scrape.

    A plain slotted class, not a dataclass: built on every scrape and created at import, where a
    dataclass's generated methods cost more than the class (docs/performance.md).
    """

    __slots__ = ("body", "content_type")

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type


def wants_openmetrics(accept: str | None) -> bool:
    """True when the ``Accept`` header asks for OpenMetrics (as Prometheus does by itself).

    Example:
        >>> wants_openmetrics("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
        True
        >>> wants_openmetrics("text/plain")
        False
    """
    if not accept:
        return False
    for part in accept.split(","):
        media, _, params = part.partition(";")
        if media.strip().lower() != "application/openmetrics-text":
            continue
        q = "1"
        for param in params.split(";"):
            key, _, val = param.strip().partition("=")
            if key == "q":
                q = val
        try:
            if float(q) > 0:
                return True
        except ValueError:
            return True
    return False
