"""What a child made by ``os.fork()`` does with the parent's instances: it lets them go.

A forked child inherits the listening socket (scrapes would queue on it after the parent
stopped, and a restarted bot could not bind while the child lived) and the parent's queues, but
not its threads: queued events would never be written. So, in the child, every live instance is
closed at once: the inherited listening socket is closed, the events log and the metrics file
are detached without writing (the files stay the parent's), and the SIGTERM flush is withdrawn.
Recording calls in the child keep working in memory; its events are counted as dropped
(``{ns}_telemetry_dropped_events_total{reason="forked"}`` in the child's own registry). A child
that wants telemetry of its own builds a new :class:`~trader_telemetry.Telemetry` on another
port or ``port=0`` (and another ``data_dir``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from typing import Protocol

from .exit_flush import ExitFlush
from .sigterm import SigtermFlush

__all__ = ["forget_in_child", "track"]


class _Forkable(Protocol):
    def _forget_after_fork(self) -> None: ...


_live: weakref.WeakSet[_Forkable] = weakref.WeakSet()
_lock = threading.Lock()
_registered = False


def track(instance: _Forkable) -> None:
    """Let ``instance`` go in any child forked from now on (until :func:`untrack`)."""
    global _registered  # noqa: PLW0603 - one at-fork hook per process, registered once
    with _lock:
        _live.add(instance)
        if not _registered and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=forget_in_child)
            _registered = True


def untrack(instance: _Forkable) -> None:
    with _lock:
        _live.discard(instance)


def forget_in_child() -> None:
    """The at-fork hook (child side): close every instance the parent had live."""
    global _live, _lock
    instances, _live, _lock = list(_live), weakref.WeakSet(), threading.Lock()
    SigtermFlush.forget_all()
    ExitFlush.forget_all()
    for instance in instances:
        # The child must start whatever happens here.
        with contextlib.suppress(Exception):
            instance._forget_after_fork()
