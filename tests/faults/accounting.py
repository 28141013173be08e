"""Reconciling what the bot recorded with what the library shows: the exposition's counters,
``events.jsonl`` line by line, and the ``{ns}_telemetry_*`` counters of what was dropped,
rejected or went wrong."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import trader_telemetry as tt
from tests.conftest import Samples, samples
from trader_telemetry.events import ReadStats, read_events

from .harness import Ledger

__all__ = ["Accounting", "account", "event_counts", "settle_events"]

#: ledger kind -> (counter name without namespace): what the metrics must show exactly.
_COUNTED = {
    "orders": "orders_submitted_total",
    "fills": "fills_total",
    "rejections": "orders_rejected_total",
    "stale_marks": "stale_marks_total",
    "ws_reconnects": "websocket_reconnects_total",
}


@dataclass
class Accounting:
    """The bot's ledger against what the library shows.

    ``lost``: recorded minus shown minus counted as dropped, per kind (0 everywhere when the
    guarantee holds; negative would mean invented data). ``dropped``, ``errors``, ``rejected``:
    the ``{ns}_telemetry_*`` counters, by reason.
    """

    lost: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    checked: int = 0

    @property
    def nothing_lost(self) -> bool:
        return all(v == 0 for v in self.lost.values())

    def summary(self) -> str:
        lost = sum(abs(v) for v in self.lost.values())
        parts = [f"lost {lost} of {self.checked}"]
        if bad := {k: v for k, v in self.lost.items() if v}:
            parts[0] += f" {bad}"
        for title, counts in (
            ("dropped", self.dropped),
            ("errors", self.errors),
            ("rejected", self.rejected),
        ):
            if counts:
                parts.append(f"{title} " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        return "; ".join(parts)


def _by_reason(found: Samples, name: str, prefix: str = "") -> dict[str, int]:
    """``name``'s samples summed by their ``reason`` label, keys prefixed with ``prefix``."""
    counts: dict[str, int] = {}
    for (sample, labels), value in found.items():
        if sample == name:
            reason = prefix + dict(labels).get("reason", "")
            counts[reason] = counts.get(reason, 0) + int(value)
    # Reasons known in advance are exported at 0 from the start: only what was counted matters.
    return {reason: count for reason, count in counts.items() if count}


def account(telemetry: tt.Telemetry, ledger: Ledger, *, data_dir: Path | None = None) -> Accounting:
    """Compare ``ledger`` with ``telemetry``'s exposition (and ``events.jsonl`` in
    ``data_dir``, which the caller has let the writer drain)."""
    found = samples(telemetry)
    ns = telemetry.config.namespace

    def total(name: str, **labels: str) -> int:
        wanted = set(labels.items())
        return sum(int(v) for (s, lab), v in found.items() if s == f"{ns}_{name}" and wanted <= lab)

    result = Accounting(
        dropped={
            **_by_reason(found, f"{ns}_telemetry_dropped_events_total", "events:"),
            **_by_reason(found, f"{ns}_telemetry_dropped_spans_total", "spans:"),
        },
        errors=_by_reason(found, f"{ns}_telemetry_errors_total"),
        rejected=_by_reason(found, f"{ns}_telemetry_rejected_values_total"),
    )
    calls = ledger.calls
    result.lost["cycles_ok"] = calls["cycles_ok"] - total("cycles_total", outcome="ok")
    result.lost["cycles_error"] = calls["cycles_error"] - total("cycles_total", outcome="error")
    result.lost["cycle_errors"] = calls["cycles_error"] - total("cycle_errors_total")
    for kind, metric in _COUNTED.items():
        result.lost[kind] = calls[kind] - total(metric)
    result.checked = calls["cycles_ok"] + calls["cycles_error"] + sum(calls[k] for k in _COUNTED)
    if data_dir is not None:
        written = event_counts(data_dir)
        dropped = sum(v for k, v in result.dropped.items() if k.startswith("events:"))
        expected = sum(ledger.events.values())
        result.lost["events"] = expected - sum(written.values()) - dropped
        strays = {t: n for t, n in written.items() if n > ledger.events.get(t, 0)}
        if strays:  # more lines of a type than the bot caused: invented or duplicated
            result.lost["events_unexpected"] = -sum(strays.values())
        result.checked += expected
    return result


def event_counts(data_dir: Path, stats: ReadStats | None = None) -> Counter[str]:
    """Lines of ``data_dir/events.jsonl`` by ``event_type`` (read with the tolerant reader)."""
    path = data_dir / "events.jsonl"
    if not path.exists():
        return Counter()
    return Counter(event.event_type for event in read_events(path, stats=stats))


def settle_events(
    telemetry: tt.Telemetry, ledger: Ledger, data_dir: Path, timeout: float = 5.0
) -> Accounting:
    """Wait (bounded) until the events writer has written or counted every event, then
    account; returns the last accounting if it never settles."""
    deadline = time.monotonic() + timeout
    while True:
        result = account(telemetry, ledger, data_dir=data_dir)
        if result.lost.get("events", 0) <= 0 or time.monotonic() >= deadline:
            return result
        time.sleep(0.05)
