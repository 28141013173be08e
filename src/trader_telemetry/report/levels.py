"""Time above levels, folded in one streaming pass: a step function (a daily-loss ratio, a
health status, the breaker) and an age between events (the loop's heartbeat, the account
snapshot's age). Both merge with the same of the stretch that follows, as the tally does
(:mod:`.tally`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["Gaps", "Steps"]


@dataclass
class Steps:
    """Time a step function spends at or above levels (daily-loss ratio, a health status).

    Each observation holds until the next one; the last holds until the report's close.
    """

    levels: tuple[float, ...]
    seconds: list[float] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)
    first: tuple[datetime, float] | None = None
    last: tuple[datetime, float] | None = None

    def __post_init__(self) -> None:
        self.seconds = [0.0] * len(self.levels)
        self.entries = [0] * len(self.levels)

    def observe(self, moment: datetime, value: float) -> None:
        before = self.last
        if before is not None and moment < before[0]:
            return  # out of order (interleaved files): the step function is kept as first seen
        if self.first is None:
            self.first = (moment, value)
        self._hold(moment)
        for i, level in enumerate(self.levels):
            if value >= level and (before is None or before[1] < level):
                self.entries[i] += 1
        self.last = (moment, value)

    def _hold(self, until: datetime) -> None:
        if self.last is None:
            return
        since, value = self.last
        held = max(0.0, (until - since).total_seconds())
        for i, level in enumerate(self.levels):
            if value >= level:
                self.seconds[i] += held

    def close(
        self, at: datetime, carried: float | None = None, start: datetime | None = None
    ) -> None:
        """Hold the last value until ``at``; ``carried``: the value in force at ``start`` (the
        last one seen before the window), which then counts from ``start``."""
        if carried is not None and start is not None and at > start:
            opening = Steps(self.levels)
            opening.observe(start, carried)
            opening.merge(self)
            self.seconds, self.entries = opening.seconds, opening.entries
            self.first, self.last = opening.first, opening.last
        if self.last is not None and at > self.last[0]:
            self._hold(at)
            self.last = (at, self.last[1])

    def merge(self, later: Steps) -> None:
        """Append the observations of the stretch that follows this one."""
        if later.first is None:
            return
        if self.last is None:
            self.seconds, self.entries = list(later.seconds), list(later.entries)
            self.first, self.last = later.first, later.last
            return
        self._hold(later.first[0])  # this stretch's last value holds until the next one's first
        for i, level in enumerate(self.levels):
            carried = later.first[1] >= level and self.last[1] >= level  # not a new entry
            self.entries[i] += later.entries[i] - carried
            self.seconds[i] += later.seconds[i]
        self.last = later.last


@dataclass
class Gaps:
    """Time an age (since the last cycle, since the last account snapshot) spent above levels.

    Between two events ``gap`` seconds apart the age climbs from 0 to ``gap``, so it is above a
    level ``L`` for ``gap - L`` seconds; the last event's age runs on to the report's close.
    """

    levels: tuple[float, ...]
    seconds: list[float] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None

    def __post_init__(self) -> None:
        self.seconds = [0.0] * len(self.levels)
        self.entries = [0] * len(self.levels)

    def observe(self, moment: datetime) -> None:
        last = self.last
        if last is None or moment > last:
            if last is not None:
                self._gap((moment - last).total_seconds())
            else:
                self.first = moment
            self.last = moment

    def _gap(self, gap: float) -> None:
        if gap > self.levels[0]:  # levels ascend: most gaps stop here
            for i, level in enumerate(self.levels):
                if gap > level:
                    self.seconds[i] += gap - level
                    self.entries[i] += 1

    def close(
        self, at: datetime, carried: datetime | None = None, start: datetime | None = None
    ) -> None:
        """Run the last age on to ``at``. ``carried``: the last event before the window, whose
        age counts from ``start`` until the window's first event (or ``at``)."""
        if carried is not None and start is not None:
            until = self.first if self.first is not None else at
            for i, level in enumerate(self.levels):
                above = (until - max(carried + timedelta(seconds=level), start)).total_seconds()
                if above > 0:
                    self.seconds[i] += above
                    self.entries[i] += 1
        if self.last is not None and at > self.last:
            self._gap((at - self.last).total_seconds())
            self.last = at

    def merge(self, later: Gaps) -> None:
        """Append the events of the stretch that follows this one."""
        if later.first is None or later.last is None:
            return
        if self.last is None:
            self.seconds, self.entries = list(later.seconds), list(later.entries)
            self.first, self.last = later.first, later.last
            return
        if later.first > self.last:
            self._gap((later.first - self.last).total_seconds())
        for i in range(len(self.levels)):
            self.seconds[i] += later.seconds[i]
            self.entries[i] += later.entries[i]
        self.last = max(self.last, later.last)
