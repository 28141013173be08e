"""Test helpers for bots that use trader_telemetry: a pytest plugin and :func:`capture`.

Installed with the package, the plugin (:mod:`trader_telemetry.pytest_plugin`) loads through the
``pytest11`` entry point and only adds fixtures (no hooks, nothing autouse): a project that does
not ask for them sees no change, and the library itself is imported only when a test uses one.

* ``telemetry``: a :class:`TelemetryProbe` (a :class:`~trader_telemetry.Telemetry` with read-back
  helpers) serving on ``127.0.0.1`` at an ephemeral port, on a
  :class:`~trader_telemetry.ManualClock`, installed as the default instance so the module-level
  helpers (``tt.cycle_timer()``, ``tt.get_telemetry()``) record into it; shut down and the
  default reset after the test.
* ``telemetry_clock``: that ManualClock.
* ``telemetry_config``: the :class:`~trader_telemetry.TelemetryConfig` it is built from
  (``TelemetryConfig(port=0)``); override it in a ``conftest.py`` to change the namespace,
  thresholds and so on.

A bot's test then reads::

    def test_a_timeout_is_counted(telemetry):
        with pytest.raises(TimeoutError):
            bot.run_cycle()  # uses tt.cycle_timer() or the telemetry it is given
        telemetry.assert_cycle(outcome="error", error_type="TimeoutError")
        assert telemetry.value("cycle_errors_total", error_type="TimeoutError") == 1

Without pytest, :func:`capture` gives the same probe as a context manager. Values are read from
the rendered ``/metrics`` exposition, so a test sees exactly what Prometheus would scrape.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from .clock import ManualClock
from .config import TelemetryConfig
from .default import swap_default
from .telemetry import Telemetry

__all__ = ["Samples", "TelemetryProbe", "capture", "samples", "value"]

#: Every exposed sample: (sample name, labels) -> value.
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

_OUTCOMES = ("ok", "error")


def samples(telemetry: Telemetry) -> Samples:
    """Every sample ``telemetry`` exposes now, keyed by (full sample name, labels).

    Example:
        >>> t = Telemetry(serve=False, namespace="bot")
        >>> t.record_account(equity=5.0)
        >>> samples(t)[("bot_equity", frozenset())]
        5.0
        >>> t.shutdown()
    """
    text = telemetry.render_metrics().body.decode()
    return {
        (sample.name, frozenset(sample.labels.items())): float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(telemetry: Telemetry, name: str, **labels: str) -> float | None:
    """One sample's value, or None when it is not exposed.

    ``name`` is the sample name without the namespace (``cycles_total``,
    ``cycle_duration_seconds_count``); a name not found that way is tried as given, for
    ``process_*`` and full names. ``labels`` must be the sample's whole label set (a histogram
    bucket's includes ``le``, as rendered: ``le="3.0"``).

    Example:
        >>> t = Telemetry(serve=False)
        >>> t.record_order("BTC-PERP", "buy")
        >>> value(t, "orders_submitted_total", symbol="BTC-PERP", side="buy")
        1.0
        >>> value(t, "orders_submitted_total", symbol="ETH-PERP", side="buy") is None
        True
        >>> t.shutdown()
    """
    exposed = samples(telemetry)
    key = frozenset(labels.items())
    found = exposed.get((f"{telemetry.config.namespace}_{name}", key))
    return exposed.get((name, key)) if found is None else found


class TelemetryProbe(Telemetry):
    """A :class:`~trader_telemetry.Telemetry` for tests: everything the bot calls, plus reading
    back what was recorded and moving the fake clock.

    Build it like a Telemetry (usually through the ``telemetry`` fixture or :func:`capture`).

    Example:
        >>> probe = TelemetryProbe(serve=False, clock=ManualClock())
        >>> with probe.cycle_timer():
        ...     probe.record_mark("BTC-PERP")
        >>> probe.advance(12.0)
        >>> probe.value("market_data_staleness_seconds", symbol="BTC-PERP")
        12.0
        >>> probe.assert_cycle(outcome="ok")
        >>> probe.shutdown()
    """

    def samples(self) -> Samples:
        """Every sample exposed now (see :func:`samples`)."""
        return samples(self)

    def value(self, name: str, **labels: str) -> float | None:
        """One sample's value, or None when not exposed (see :func:`value`).

        Example:
            >>> probe = TelemetryProbe(serve=False)
            >>> probe.record_account(equity=10_000.0)
            >>> probe.value("equity")
            10000.0
            >>> probe.shutdown()
        """
        return value(self, name, **labels)

    def advance(self, seconds: float) -> None:
        """Move the ManualClock forward: ages and staleness grow, a running cycle gets longer.

        Raises:
            TypeError: the probe runs on another clock.
        """
        if not isinstance(self.clock, ManualClock):
            raise TypeError(f"advance() needs a ManualClock, this probe runs on {self.clock!r}")
        self.clock.advance(seconds)

    def cycles(self, outcome: str | None = None) -> int:
        """Completed cycles recorded so far: all of them, or those with ``outcome``
        (``ok`` or ``error``). Interrupted cycles (KeyboardInterrupt ...) are not counted.

        Example:
            >>> probe = TelemetryProbe(serve=False)
            >>> probe.record_cycle(0.2)
            >>> probe.cycles(), probe.cycles("error")
            (1, 0)
            >>> probe.shutdown()
        """
        if outcome is not None and outcome not in _OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(_OUTCOMES)}, got {outcome!r}")
        wanted = _OUTCOMES if outcome is None else (outcome,)
        counts = self._cycle_counts(self.samples())
        return sum(counts[name] for name in wanted)

    def assert_cycle(
        self, outcome: str | None = None, *, error_type: str | None = None, count: int | None = None
    ) -> None:
        """Assert that cycles were recorded with ``outcome`` (default ``error`` when
        ``error_type`` is given, else ``ok``) and, for errors, ``error_type`` (the exception's
        class name): at least one, or exactly ``count``.

        Raises:
            AssertionError: naming what was expected and what was recorded.
            ValueError: an unknown outcome, or ``error_type`` with ``outcome="ok"``.

        Example:
            >>> probe = TelemetryProbe(serve=False)
            >>> probe.record_cycle(0.5, error_type="TimeoutError")
            >>> probe.assert_cycle(error_type="TimeoutError", count=1)
            >>> probe.assert_cycle(outcome="ok")
            Traceback (most recent call last):
            AssertionError: expected at least one cycle with outcome 'ok'; recorded: ok=0, error=1 (TimeoutError=1)
            >>> probe.shutdown()
        """  # noqa: E501 - a doctest's expected line cannot wrap
        if outcome is None:
            outcome = "ok" if error_type is None else "error"
        if outcome not in _OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(_OUTCOMES)}, got {outcome!r}")
        if error_type is not None and outcome != "error":
            raise ValueError(f"error_type={error_type!r} needs outcome='error', got {outcome!r}")
        exposed = self.samples()
        counts = self._cycle_counts(exposed)
        errors = self._error_counts(exposed)
        got = counts[outcome] if error_type is None else errors.get(error_type, 0)
        if got == count if count is not None else got >= 1:
            return
        what = f"outcome {outcome!r}"
        if error_type is not None:
            what += f" and error_type {error_type!r}"
        amount = "at least one cycle" if count is None else f"exactly {count} cycle(s)"
        recorded = f"ok={counts['ok']}, error={counts['error']}"
        if errors:
            recorded += " (" + ", ".join(f"{k}={v}" for k, v in sorted(errors.items())) + ")"
        raise AssertionError(f"expected {amount} with {what}; recorded: {recorded}")

    def _cycle_counts(self, exposed: Samples) -> dict[str, int]:
        name = f"{self.config.namespace}_cycles_total"
        return {
            outcome: int(exposed.get((name, frozenset({("outcome", outcome)})), 0))
            for outcome in _OUTCOMES
        }

    def _error_counts(self, exposed: Samples) -> dict[str, int]:
        name = f"{self.config.namespace}_cycle_errors_total"
        counts: dict[str, int] = {}
        for (sample, labels), number in exposed.items():
            if sample == name and number:
                counts[dict(labels).get("error_type", "")] = int(number)
        return counts


@contextmanager
def capture(
    config: TelemetryConfig | None = None, *, install: bool = True, **overrides: Any
) -> Iterator[TelemetryProbe]:
    """A :class:`TelemetryProbe` for the block, shut down at its end.

    Args:
        config: What to build from; default ``TelemetryConfig(port=0)`` (an ephemeral port).
        install: Make the probe the default instance, so ``tt.cycle_timer()`` and friends
            record into it; the previous default comes back afterwards.
        **overrides: Fields of the config to change. The probe runs on a ManualClock: the
            config's own if it has one, else a new one, unless ``clock=`` says otherwise.

    Example:
        >>> import trader_telemetry as tt
        >>> with capture(serve=False) as probe:
        ...     with tt.cycle_timer():
        ...         pass
        ...     probe.cycles()
        1
        >>> tt.get_telemetry() is None
        True
    """
    cfg = config if config is not None else TelemetryConfig(port=0)
    if "clock" not in overrides and not isinstance(cfg.clock, ManualClock):
        overrides["clock"] = ManualClock()
    probe = TelemetryProbe(cfg, **overrides)
    previous = swap_default(probe) if install else None
    try:
        yield probe
    finally:
        probe.shutdown()
        if install:
            current = swap_default(previous)
            if current is not probe:  # the code under test configured its own: leave it be
                swap_default(current)
