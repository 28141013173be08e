"""The pytest plugin (the ``pytest11`` entry point): the fixtures of the testing helpers.

Every pytest run in an environment that has the package loads this module, so it imports
nothing of the library at module level: ``trader_telemetry.testing`` (and with it the OTel SDK)
is imported when a test first asks for one of these fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .clock import ManualClock
    from .config import TelemetryConfig
    from .testing import TelemetryProbe

__all__ = ["telemetry", "telemetry_clock", "telemetry_config"]


@pytest.fixture
def telemetry_clock() -> ManualClock:
    """The fake clock of the ``telemetry`` fixture (move it with ``telemetry.advance``)."""
    from .clock import ManualClock  # noqa: PLC0415 - imported when used, see above

    return ManualClock()


@pytest.fixture
def telemetry_config() -> TelemetryConfig:
    """What the ``telemetry`` fixture is built from; override it in a ``conftest.py``,
    e.g. ``return TelemetryConfig(namespace="coinbase_trader", port=0)``. Its clock is
    replaced by ``telemetry_clock``."""
    from .config import TelemetryConfig  # noqa: PLC0415

    return TelemetryConfig(port=0)


@pytest.fixture
def telemetry(
    telemetry_config: TelemetryConfig, telemetry_clock: ManualClock
) -> Iterator[TelemetryProbe]:
    """An isolated ``TelemetryProbe``, installed as the default instance.

    Any default instance left over is shut down first; after the test the probe is shut
    down and the default reset (also one the code under test configured itself).
    """
    from .default import reset  # noqa: PLC0415
    from .testing import capture  # noqa: PLC0415

    reset()
    try:
        with capture(telemetry_config, clock=telemetry_clock) as probe:
            yield probe
    finally:
        reset()
