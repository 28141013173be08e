"""The pytest plugin (``trader_telemetry.pytest_plugin``) in a separate test project.

Each run is a fresh ``python -m pytest`` in a temporary directory that holds only the project's
own test files: no conftest of ours, nothing on ``sys.path`` but the installed package, so the
fixtures can only come from the ``pytest11`` entry point.
"""

from __future__ import annotations

import pytest

import trader_telemetry as tt
from trader_telemetry.default import swap_default
from trader_telemetry.testing import capture

pytest_plugins = ["pytester"]

# No cache files in the project; pytest-asyncio (installed here, not in a bot's project) off.
ISOLATED = ("-p", "no:cacheprovider", "-p", "no:asyncio")

BOT = '''
"""A bot under test: module-level helpers on the default instance, as most bots use them."""
import trader_telemetry as tt


class Exchange:
    def __init__(self, fails=False):
        self.fails = fails

    def marks(self):
        if self.fails:
            raise TimeoutError("exchange timed out")
        return {"BTC-PERP": 97_000.0}


def run_cycle(exchange):
    with tt.cycle_timer() as cycle:
        with cycle.phase("fetch_marks"):
            marks = exchange.marks()
        tt.get_telemetry().record_marks(marks)
'''

TESTS = """
import threading
import urllib.request

import pytest
import trader_telemetry as tt
from trader_telemetry.testing import TelemetryProbe

from bot import Exchange, run_cycle


def test_plugin_is_the_entry_point(request, telemetry):
    assert request.config.pluginmanager.has_plugin("trader_telemetry")
    assert isinstance(telemetry, TelemetryProbe)
    assert tt.get_telemetry() is telemetry


def test_cycles_and_values_read_back(telemetry):
    run_cycle(Exchange())
    with pytest.raises(TimeoutError):
        run_cycle(Exchange(fails=True))
    telemetry.assert_cycle(outcome="ok")
    telemetry.assert_cycle(outcome="error", error_type="TimeoutError", count=1)
    assert telemetry.value("cycle_errors_total", error_type="TimeoutError") == 1.0
    assert telemetry.value("cycle_errors_total", error_type="ValueError") is None
    assert telemetry.cycles() == 2


def test_the_clock_only_moves_when_told(telemetry, telemetry_clock):
    run_cycle(Exchange())
    assert telemetry.value("market_data_staleness_seconds", symbol="BTC-PERP") == 0.0
    telemetry.advance(12.5)
    assert telemetry_clock.monotonic() == 12.5
    assert telemetry.value("market_data_staleness_seconds", symbol="BTC-PERP") == 12.5


def test_serves_on_an_ephemeral_loopback_port(telemetry):
    host, port = telemetry.server_address
    assert host == "127.0.0.1" and port not in (0, 9000)
    telemetry.record_account(equity=10_000.0)
    with urllib.request.urlopen(telemetry.metrics_url, timeout=5) as response:
        assert b"trader_equity 10000.0" in response.read()


def test_leaks_a_configured_default(telemetry):
    telemetry.record_account(equity=1.0)
    tt.configure(port=0)  # the next test must not see this one


def test_each_test_starts_clean(telemetry):
    assert tt.get_telemetry() is telemetry
    assert telemetry.cycles() == 0
    assert telemetry.value("equity") is None


def test_a_wrong_outcome_fails_with_what_was_recorded(telemetry):
    run_cycle(Exchange())
    telemetry.assert_cycle(error_type="TimeoutError")


def test_without_the_fixtures_nothing_changes(request):
    assert tt.get_telemetry() is None
    assert threading.active_count() == 1  # no server, no reader thread
    ours = {"telemetry", "telemetry_clock", "telemetry_config"}
    assert not ours & set(request.fixturenames)  # the plugin adds no autouse fixture
"""

CUSTOM_CONFTEST = """
import pytest
import trader_telemetry as tt


@pytest.fixture
def telemetry_config():
    return tt.TelemetryConfig(namespace="coinbase_trader", port=0)
"""

CUSTOM_TESTS = """
from bot import Exchange, run_cycle


def test_the_config_fixture_can_be_overridden(telemetry):
    run_cycle(Exchange())
    assert telemetry.config.namespace == "coinbase_trader"
    assert b"coinbase_trader_cycles_total" in telemetry.render_metrics().body
    assert telemetry.value("cycles_total", outcome="ok") == 1.0
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A bot project of its own: the bot module, its tests, a sub-package with a conftest."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makepyfile(bot=BOT, test_bot=TESTS)
    # Strict like ours: a warning from the plugin, or an unknown marker, fails the run.
    pytester.makeini("[pytest]\nfilterwarnings = error\naddopts = --strict-markers\n")
    custom = pytester.mkpydir("custom")
    (custom / "conftest.py").write_text(CUSTOM_CONFTEST)
    (custom / "test_custom.py").write_text(CUSTOM_TESTS)
    return pytester


def test_fixtures_work_in_a_separate_project(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*ISOLATED, "-v", timeout=120)
    result.assert_outcomes(passed=8, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_a_wrong_outcome_fails_with_what_was_recorded FAILED*",
            "*AssertionError: expected at least one cycle with outcome 'error' and error_type "
            "'TimeoutError'; "
            "recorded: ok=1, error=0",
        ]
    )


def test_without_the_entry_point_there_are_no_fixtures(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(
        *ISOLATED, "-p", "no:trader_telemetry", "test_bot.py", timeout=120
    )
    result.stdout.fnmatch_lines(["*fixture 'telemetry' not found*"])
    assert result.ret != 0


def test_the_fixtures_are_listed_with_their_docs(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*ISOLATED, "--fixtures", timeout=120)
    result.stdout.fnmatch_lines(
        [
            "*fixtures defined from trader_telemetry.pytest_plugin*",
            "telemetry -- *",
            "*isolated*TelemetryProbe*default instance*",
        ]
    )


LIGHT_TESTS = """
import sys


def test_the_plugin_alone_imports_no_library_module():
    loaded = sorted(m for m in sys.modules if m.startswith("trader_telemetry"))
    assert loaded == ["trader_telemetry", "trader_telemetry.pytest_plugin"], loaded
    assert "opentelemetry.sdk.metrics" not in sys.modules


def test_a_fixture_brings_the_library(telemetry):
    assert "trader_telemetry.telemetry" in sys.modules
    assert telemetry.value("cycles_total", outcome="ok") == 0.0
"""


def test_the_plugin_imports_the_library_only_when_a_fixture_is_used(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makepyfile(test_light=LIGHT_TESTS)
    result = pytester.runpytest_subprocess(*ISOLATED, "-p", "no:pytester", "-v", timeout=120)
    result.assert_outcomes(passed=2)


# ---------------------------------------------------------------------- the helpers in-process


def test_capture_installs_the_probe_and_restores_the_previous_default() -> None:
    outer = tt.Telemetry(serve=False)
    assert swap_default(outer) is None
    try:
        with capture(serve=False) as probe:
            assert tt.get_telemetry() is probe
            with tt.cycle_timer():
                probe.advance(0.25)
            assert probe.value("cycle_duration_seconds_sum") == 0.25
        assert probe.closed
        assert tt.get_telemetry() is outer
    finally:
        swap_default(None)
        outer.shutdown()


def test_capture_without_install_leaves_the_default_alone() -> None:
    with capture(serve=False, install=False) as probe:
        assert tt.get_telemetry() is None
        with tt.cycle_timer():  # records nowhere: not the default
            pass
        assert probe.cycles() == 0


def test_value_reads_namespaced_unprefixed_and_full_names() -> None:
    with capture(namespace="bot", install=False) as probe:
        probe.record_account(equity=3.0)
        assert probe.value("equity") == 3.0
        assert probe.value("bot_equity") == 3.0
        assert probe.value("process_cpu_seconds_total") is not None
        probe.record_cycle(2.5)
        assert probe.value("cycle_duration_seconds_bucket", le="2.0") == 0.0
        assert probe.value("cycle_duration_seconds_bucket", le="3.0") == 1.0
        assert probe.value("equity", symbol="x") is None


def test_assert_cycle_counts_exactly_and_rejects_nonsense() -> None:
    with capture(serve=False, install=False) as probe:
        probe.record_cycle(0.1)
        probe.record_cycle(0.1)
        probe.assert_cycle(count=2)
        with pytest.raises(AssertionError, match=r"exactly 3 cycle\(s\) with outcome 'ok'"):
            probe.assert_cycle(count=3)
        with pytest.raises(ValueError, match="outcome must be one of"):
            probe.assert_cycle(outcome="interrupted")
        with pytest.raises(ValueError, match="needs outcome='error'"):
            probe.assert_cycle(outcome="ok", error_type="TimeoutError")


def test_advance_needs_the_manual_clock() -> None:
    with capture(serve=False, install=False, clock=tt.SystemClock()) as probe:
        assert isinstance(probe.clock, tt.SystemClock)
        with pytest.raises(TypeError, match="ManualClock"):
            probe.advance(1.0)
