"""promtool unit tests of the alert rules (``alerts_test.yml``), generated from the same signals.

For every rule one test group feeds input series built from the rule's :class:`~.alerts.Signal`
(so from the thresholds), with the ``job`` and ``instance`` labels the scrape config gives, plus
decoys that must not alert: the same series under another job, and for counters with a matcher,
the series the matcher excludes. The timeline is simulated here, step by step, with the same
arithmetic Prometheus does, which gives three evaluation times:

* **quiet**: the step before the condition holds (on the boundary where there is one: a gauge
  exactly at a ``>`` level, one event short of a ``>=`` count). No alert, and the expression
  itself returns nothing.
* **pending**: the condition has held for the rule's ``for`` minus one step. No firing alert, but
  the expression returns the series (so the alert is pending, not absent).
* **firing**: ``for`` has elapsed. The alert fires with its exact labels and its annotations
  expanded the way Prometheus expands them.

Counters start at 0 and evaluations fall on sample times, so the expected values are exact on
Prometheus 2 and 3 alike, although Prometheus 3 made range selectors left-open (a sample exactly
one window old is no longer in ``[window]``; ``increase()`` extrapolates over that step instead):
a counter that grows linearly extrapolates to the same value, and one whose first sample in the
window is 0 is not extrapolated at all. The cycle-duration share is the one ratio whose counters
change slope inside a window, so its scenario fires within the first window (see
:func:`_slow_share`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..catalogue import CYCLE_BUCKETS
from .alerts import (
    AlertDefinition,
    Signal,
    alert_definitions,
    format_duration,
    format_number,
)
from .options import OpsOptions

__all__ = [
    "alert_rule_tests",
    "go_humanize",
    "go_humanize_duration",
    "go_humanize_percentage",
    "rule_test_document",
]

#: The step at which the condition may first hold, so a quiet step exists before it.
_ONSET = 2
#: The daily-loss limit of the input series, USD.
_LIMIT = 1000.0
#: Label values of the series a signal groups by, and of the decoys beside them.
_SAMPLE = {"symbol": "BTC-PERP", "stream": "user"}
_DECOY = {"symbol": "ETH-PERP", "outcome": "ok"}

Labels = dict[str, str]
Condition = Callable[[int], float | None]


@dataclass(frozen=True, slots=True)
class _Timing:
    """A signal's window and its rule's ``for``, in steps of ``step_ms``."""

    window: int
    hold: int
    step_ms: int


@dataclass(frozen=True, slots=True)
class _Scenario:
    """Input series (labels with ``__name__``, one value per step) and the condition's value
    per step for the one series that should alert (None where it does not hold)."""

    series: list[tuple[Labels, list[float]]]
    condition: Condition
    result: Labels
    keeps_name: str | None


def alert_rule_tests(options: OpsOptions, rules_file: str = "alerts.yml") -> dict[str, Any]:
    """The ``alerts_test.yml`` document for ``promtool test rules``: every alert of ``options``.

    ``rules_file`` is the rules' path relative to the test file. (It lives here, not in
    :mod:`.alerts`, so the rules module does not import its own tests: no import circle.)

    Example:
        >>> alert_rule_tests(OpsOptions())["rule_files"]
        ['alerts.yml']
    """
    return rule_test_document(alert_definitions(options), options, rules_file)


def rule_test_document(
    definitions: Sequence[AlertDefinition], options: OpsOptions, rules_file: str
) -> dict[str, Any]:
    """The promtool test file for ``definitions`` rendered with ``options``."""
    step = _step_ms(definitions, options)
    return {
        "rule_files": [rules_file],
        "evaluation_interval": format_duration(step),
        "tests": [_test_group(d, options, step) for d in definitions],
    }


def _step_ms(definitions: Sequence[AlertDefinition], options: OpsOptions) -> int:
    # Every window and `for` is a whole number of steps, so evaluations fall on sample times.
    step = options.scrape_interval_seconds * 1000
    for definition in definitions:
        step = math.gcd(step, definition.hold_ms, definition.signal.window_ms)
    return step


def _test_group(definition: AlertDefinition, options: OpsOptions, step: int) -> dict[str, Any]:
    signal = definition.signal
    instance = options.static_targets[0] if options.static_targets else "127.0.0.1:9000"
    base = {"instance": instance, "job": signal.job}
    hold = definition.hold_ms // step
    window = signal.window_ms // step
    scenario = _scenario(signal, base, step, _ONSET + 2 * window + hold + 10, hold)
    onset = next(
        (k for k in range(1, len(scenario.series[0][1])) if scenario.condition(k) is not None), 0
    )
    held = [scenario.condition(k) for k in range(onset, onset + hold + 1)]
    pending_value, value = held[-2], held[-1]
    if onset < _ONSET or pending_value is None or value is None or None in held:
        raise RuntimeError(f"{definition.name}: the generated scenario does not hold its alert")
    quiet, pending, firing = onset - 1, onset + hold - 1, onset + hold
    length = firing + 2
    series = [*scenario.series, *(({**labels, "job": f"{signal.job}-other"}, values)
                                 for labels, values in scenario.series)]  # fmt: skip
    alert_labels = {**scenario.result, "severity": definition.severity,
                    "alertgroup": definition.group}  # fmt: skip
    annotations = {
        "summary": _expand(definition.summary, scenario.result, value),
        "description": _expand(definition.description, scenario.result, value),
        "runbook_url": options.runbook(definition.anchor),
    }
    at = [format_duration(k * step) for k in (quiet, pending, firing)]
    sample_labels = _label_text(scenario.result)
    return {
        "interval": format_duration(step),
        "input_series": [
            {"series": _series_text(labels), "values": _encode(values[:length])}
            for labels, values in series
        ],
        "alert_rule_test": [
            {"eval_time": at[0], "alertname": definition.name, "exp_alerts": []},
            {"eval_time": at[1], "alertname": definition.name, "exp_alerts": []},
            {
                "eval_time": at[2],
                "alertname": definition.name,
                "exp_alerts": [
                    {
                        "exp_labels": dict(sorted(alert_labels.items())),
                        "exp_annotations": annotations,
                    }
                ],
            },
        ],
        "promql_expr_test": [
            {"expr": signal.expr(), "eval_time": at[0], "exp_samples": []},
            {
                "expr": signal.expr(),
                "eval_time": at[1],
                "exp_samples": [
                    {"labels": (scenario.keeps_name or "") + sample_labels, "value": pending_value}
                ],
            },
        ],
    }


# --- scenarios ---------------------------------------------------------------------------------


def _compare(op: str, value: float, level: float) -> bool:
    if op == ">":
        return value > level
    if op == ">=":
        return value >= level
    return value == level


def _scenario(signal: Signal, base: Labels, step: int, length: int, hold: int) -> _Scenario:
    # Series of `length` steps of `step` ms.
    window = signal.window_ms // step
    if signal.kind == "gauge":
        return _gauge(signal, base, length, step / 1000)
    if signal.kind == "ratio":
        return _ratio(signal, base, length)
    if signal.kind == "increase":
        return _increase(signal, base, _Timing(window, hold, step), length)
    return _slow_share(signal, base, _Timing(window, hold, step), length)


def _levels(
    signal: Signal, candidates: Sequence[tuple[float, float]], scale: float = 1.0
) -> tuple[float, float]:
    # The first (quiet, active) pair the comparison really splits, tightest around the level
    # first: a threshold moved either way then changes the outcome. Values are compared / scale.
    for quiet, active in candidates:
        fires = _compare(signal.op, active / scale, signal.threshold)
        if fires and not _compare(signal.op, quiet / scale, signal.threshold):
            return quiet, active
    raise RuntimeError(f"no quiet and active values around {signal.expr()!r}")


def _gauge(signal: Signal, base: Labels, length: int, step_seconds: float) -> _Scenario:
    level = float(signal.threshold)
    labels = {"__name__": signal.metric, **base, **{k: _SAMPLE[k] for k in signal.by}}
    values = [level + 1.0 if signal.op == "==" else level]  # quiet: at a `>` level exactly
    if signal.op == "==" or level <= 0:  # a state (up, breaker): flips to the level or to 1
        active = level if signal.op == "==" else 1.0
        values = [values[0] if k < _ONSET else active for k in range(length)]
    else:
        # An age: a millisecond past the level at onset, then growing with time.
        quiet, active = _levels(signal, [(level, level + 0.001), (level - 0.001, level)])
        values = [quiet] * _ONSET
        values.append(active)
        while len(values) < length:
            values.append(values[-1] + step_seconds)
    series: list[tuple[Labels, list[float]]] = [(labels, values)]
    if "symbol" in signal.by:  # another symbol, at the level all along
        series.append(({**labels, "symbol": _DECOY["symbol"]}, [values[0]] * length))

    def condition(k: int) -> float | None:
        return values[k] if _compare(signal.op, values[k], level) else None

    result = {k: v for k, v in labels.items() if k != "__name__"}
    return _Scenario(series, condition, result, keeps_name=signal.metric)


def _ratio(signal: Signal, base: Labels, length: int) -> _Scenario:
    # Losses in USD against a constant limit: at the level, and one dollar either side of it.
    at = round(signal.threshold * _LIMIT, 6)
    quiet, active = _levels(signal, [(at, at + 1), (at - 1, at)], scale=_LIMIT)
    losses = [quiet if k < _ONSET else active for k in range(length)]
    numerator = {"__name__": signal.metric, **base}
    denominator = {"__name__": signal.denominator, **base}

    def condition(k: int) -> float | None:
        ratio = losses[k] / _LIMIT
        return ratio if _compare(signal.op, ratio, signal.threshold) else None

    series = [(numerator, losses), (denominator, [_LIMIT] * length)]
    return _Scenario(series, condition, base, keeps_name=None)


def _counter(increments: Callable[[int], float], length: int) -> list[float]:
    values = [0.0]
    for k in range(1, length):
        values.append(values[-1] + increments(k))
    return values


def _ramp(per_step: int, length: int) -> list[float]:
    return _counter(lambda k: per_step if k >= _ONSET else 0, length)


def _increase(signal: Signal, base: Labels, timing: _Timing, length: int) -> _Scenario:
    # A counter growing by a constant step from _ONSET: increase() of a straight line is the
    # same on Prometheus 2 and 3 (see the module docstring), but in floating point the
    # extrapolation Prometheus 3 does can land a bit off (30.000000000000004); the first step
    # size whose checked values are the same to the bit on both is taken.
    level = signal.threshold
    window = timing.window
    labels = {"__name__": signal.metric, **base, **dict(signal.matchers),
              **{k: _SAMPLE[k] for k in signal.by}}  # fmt: skip
    first = max(1, math.ceil(2 * level / window))
    for per_step in range(first, first + 64):
        values = _ramp(per_step, length)
        deltas = [
            [_extrapolated_increase(values, k, timing, left_open) for k in range(length)]
            for left_open in (False, True)
        ]
        if _same_alert(deltas, signal, timing.hold):
            break
    else:
        raise RuntimeError(f"{signal.expr()!r}: no counter holds on Prometheus 2 and 3 alike")
    series: list[tuple[Labels, list[float]]] = [(labels, values)]
    for name, _ in signal.matchers:  # what the matcher excludes counts fast and never alerts
        excluded = {**labels, name: _DECOY.get(name, "other")}
        series.append((excluded, _counter(lambda _k: math.ceil(level), length)))

    closed = deltas[0]

    def condition(k: int) -> float | None:
        delta = closed[k]
        return delta if delta is not None and _compare(signal.op, delta, level) else None

    result = {**base, **{k: _SAMPLE[k] for k in signal.by}}
    return _Scenario(series, condition, result, keeps_name=None)


def _slow_share(signal: Signal, base: Labels, timing: _Timing, length: int) -> _Scenario:
    # One cycle per step from step 1: first `edge_cycles` exactly at the edge (not slower than
    # it), then cycles in the next bucket up (slower). Unlike the other counters, the edge
    # bucket changes slope inside a window, where Prometheus 2 (closed ranges) and 3 (left-open:
    # the sample one window old is out, and increase() extrapolates over that step) give other
    # shares. So the scenario is checked against both, step by step, with Prometheus' own
    # extrapolation: the same quiet and onset steps, held on both until it fires, and the same
    # exact value where the tests read it (the onset falls in the first window, where every
    # counter's first sample is 0 and nothing is extrapolated; the pending and firing steps there
    # too, or past the slope change, where the share is 1).
    edge = signal.bucket
    above = [e for e in CYCLE_BUCKETS if e > edge]
    slow = above[0] if above else edge + 1
    window, hold = timing.window, timing.hold
    count = _counter(lambda _k: 1, length)
    for edge_cycles in range(window - 1, 0, -1):  # the most edge cycles: the tightest test
        durations = [0.0] + [edge if k <= edge_cycles else slow for k in range(1, length)]
        buckets: dict[float, list[float]] = {}
        for bound in (*CYCLE_BUCKETS, math.inf):
            at_most = [1.0 if d <= bound else 0.0 for d in durations]
            buckets[bound] = _counter(at_most.__getitem__, length)
        shares = [
            [_share(count, buckets[edge], k, timing, left_open) for k in range(length)]
            for left_open in (False, True)
        ]
        if _same_alert(shares, signal, hold):
            break
    else:
        raise RuntimeError(
            f"{signal.expr()!r}: no scenario holds on Prometheus 2 and 3 alike "
            f"(window {window} steps, for {hold} steps)"
        )
    series: list[tuple[Labels, list[float]]] = []
    for bound, values in buckets.items():
        le = "+Inf" if bound == math.inf else repr(float(bound))
        series.append(({"__name__": f"{signal.metric}_bucket", **base, "le": le}, values))
    series.append(({"__name__": f"{signal.metric}_count", **base}, count))
    closed = shares[0]

    def condition(k: int) -> float | None:
        share = closed[k]
        return share if share is not None and _compare(signal.op, share, signal.threshold) else None

    return _Scenario(series, condition, dict(base), keeps_name=None)


def _same_alert(shares: list[list[float | None]], signal: Signal, hold: int) -> bool:
    # Both semantics: the same first step where the condition holds (after one where it holds on
    # neither), held through `for`, and equal values at the pending and firing steps.
    def holds(share: float | None) -> bool:
        return share is not None and _compare(signal.op, share, signal.threshold)

    closed, left_open = shares
    onsets = {next((k for k, v in enumerate(values) if holds(v)), -1) for values in shares}
    if len(onsets) != 1:
        return False
    [onset] = onsets
    firing = onset + hold
    if onset < _ONSET or firing >= len(closed):
        return False
    if not all(holds(closed[k]) and holds(left_open[k]) for k in range(onset, firing + 1)):
        return False
    return all(closed[k] == left_open[k] for k in (firing - 1, firing))


def _share(
    count: list[float], bucket: list[float], k: int, timing: _Timing, left_open: bool
) -> float | None:
    total = _extrapolated_increase(count, k, timing, left_open)
    fast = _extrapolated_increase(bucket, k, timing, left_open)
    if total is None or fast is None or total == 0:
        return None
    return (total - fast) / total


def _extrapolated_increase(
    values: list[float], k: int, timing: _Timing, left_open: bool
) -> float | None:
    """``increase(x[window])`` at step ``k`` of a counter sampled every step, as Prometheus
    computes it (``extrapolatedRate``, in seconds and in the same floating-point order): over
    the closed range ``[k - window, k]`` (Prometheus 2) or the left-open ``(k - window, k]``
    (Prometheus 3). The counters here start at 0 at step 0, so the two versions' orders of the
    zero clamp and the extrapolation threshold agree."""
    window = timing.window
    first_step = max(0, k - window + (1 if left_open else 0))
    if k - first_step < 1:
        return None
    step = timing.step_ms
    first, last = values[first_step], values[k]
    result = last - first
    sampled = (k - first_step) * step / 1000
    average = sampled / (k - first_step)
    to_start = (first_step - (k - window)) * step / 1000
    if to_start >= average * 1.1:
        to_start = average / 2
    if result > 0 and first >= 0:
        to_start = min(to_start, sampled * (first / result))
    return result * ((sampled + to_start) / sampled)


# --- text ----------------------------------------------------------------------------------


def _label_text(labels: Labels) -> str:
    pairs = sorted((k, v) for k, v in labels.items() if k != "__name__")
    return "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in pairs) + "}"


def _series_text(labels: Labels) -> str:
    return labels["__name__"] + _label_text(labels)


def _encode(values: Sequence[float]) -> str:
    """promtool's expanding notation: ``axN`` for N repeats, ``a+bxN`` for N steps of ``b``.

    promtool builds ``a+bxN`` by adding ``b`` N times, so a run is only written that way when
    that addition gives exactly the values (the ages here are built the same way).
    """
    parts: list[str] = []
    i = 0
    while i < len(values):
        best, step = i, 0.0
        if i + 1 < len(values):
            raw = values[i + 1] - values[i]
            for diff in dict.fromkeys((round(raw, 9), raw)):
                j = i
                while j + 1 < len(values) and values[j + 1] == values[j] + diff:
                    j += 1
                if j > best:
                    best, step = j, diff
        first, runs = format_number(values[i]), best - i
        if runs == 0:
            parts.append(first)
        elif step == 0:
            parts.append(f"{first}x{runs}")
        else:
            parts.append(f"{first}{'+' if step > 0 else '-'}{format_number(abs(step))}x{runs}")
        i = best + 1
    return " ".join(parts)


_TEMPLATE = re.compile(r"\{\{ \$(labels\.(\w+)|value)(?: \| (\w+))? \}\}")


def _expand(template: str, labels: Labels, value: float) -> str:
    """Expand the template subset the rules use, as Prometheus' template engine would."""
    functions: dict[str, Callable[[float], str]] = {
        "humanize": go_humanize,
        "humanizeDuration": go_humanize_duration,
        "humanizePercentage": go_humanize_percentage,
    }

    def one(match: re.Match[str]) -> str:
        if match.group(2):
            return labels[match.group(2)]
        if match.group(3):
            return functions[match.group(3)](value)
        return _go_print(value)

    text = _TEMPLATE.sub(one, template)
    if "{{" in text:
        raise ValueError(f"template construct the test generator cannot expand: {template!r}")
    return text


def _go_print(value: float) -> str:
    # Go's fmt %v of a float64 for the values the rules print this way (small integers, 0/1).
    number = float(value)
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    return repr(number)


def _g4(value: float) -> str:
    # Go's "%.4g" and Python's agree (shortest-trailing-zero-free, exponent past 4 digits).
    return f"{value:.4g}"


def go_humanize(value: float) -> str:
    """Prometheus' ``humanize`` template function (SI prefixes, 4 significant digits).

    Example:
        >>> go_humanize(3.0), go_humanize(1234567.0), go_humanize(0.25)
        ('3', '1.235M', '250m')
    """
    if value == 0 or not math.isfinite(value):
        return _g4(value)
    prefix = ""
    if abs(value) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix, value = p, value / 1000
        return f"{_g4(value)}{prefix}"
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix, value = p, value * 1000
    return f"{_g4(value)}{prefix}"


def go_humanize_duration(value: float) -> str:
    """Prometheus' ``humanizeDuration`` template function.

    Example:
        >>> (
        ...     go_humanize_duration(15.0),
        ...     go_humanize_duration(1350.0),
        ...     go_humanize_duration(0.5),
        ... )
        ('15s', '22m 30s', '500ms')
    """
    if not math.isfinite(value):
        return _g4(value)
    if value == 0:
        return f"{_g4(value)}s"
    if abs(value) < 1:
        prefix = ""
        for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
            if abs(value) >= 1:
                break
            prefix, value = p, value * 1000
        return f"{_g4(value)}{prefix}s"
    sign = "-" if value < 0 else ""
    whole = int(abs(value))
    parts = (
        ("d", whole // 86400),
        ("h", whole // 3600 % 24),
        ("m", whole // 60 % 60),
        ("s", whole % 60),
    )
    # Seconds only: 4 significant digits. From a minute up, whole units down to seconds.
    shown = [f"{amount}{unit}" for unit, amount in parts]
    for index, (_, amount) in enumerate(parts[:3]):
        if amount:
            return sign + " ".join(shown[index:])
    return f"{sign}{_g4(abs(value))}s"


def go_humanize_percentage(value: float) -> str:
    """Prometheus' ``humanizePercentage`` template function.

    Example:
        >>> go_humanize_percentage(0.85), go_humanize_percentage(7 / 60)
        ('85%', '11.67%')
    """
    return f"{_g4(value * 100)}%"
