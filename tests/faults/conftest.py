"""Fixtures of the fault suite, and the report section that prints its summary table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import pytest

import trader_telemetry as tt
from tests.security.pki import Pki, make_pki

from .summary import ROWS, Row, Verdict, format_table

RecordRow = Callable[..., Row]

PASSWORD = "correct horse battery staple"  # noqa: S105 - the test password


@pytest.fixture
def fault_row(request: pytest.FixtureRequest) -> RecordRow:
    """``fault_row(case, loop=Verdict, exceptions=Verdict, lost=Verdict)``: add this case's
    row to the summary table (call it before asserting, so a failure shows its figures)."""

    def record(
        case: str,
        *,
        loop: Verdict,
        exceptions: Verdict,
        lost: Verdict,
        notes: list[str] | None = None,
    ) -> Row:
        row = Row(case, loop, exceptions, lost, nodeid=request.node.nodeid, notes=notes or [])
        ROWS.append(row)
        return row

    return record


@pytest.fixture
def make_telemetry() -> Iterator[Callable[..., tt.Telemetry]]:
    """``make_telemetry(**config)``: a Telemetry (namespace ``fault``, no endpoint unless
    ``port=`` is given), shut down after the test."""
    made: list[tt.Telemetry] = []

    def make(**overrides: object) -> tt.Telemetry:
        overrides.setdefault("namespace", "fault")
        if "port" not in overrides:
            overrides.setdefault("serve", False)
        telemetry = tt.Telemetry(**overrides)  # type: ignore[arg-type]
        made.append(telemetry)
        return telemetry

    yield make
    for telemetry in made:
        telemetry.shutdown(timeout=2.0)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("fault-pki"))


@pytest.fixture(scope="session")
def password_hash() -> str:
    """A real-cost bcrypt hash (10, the exporter-toolkit's usual): the wrong-password case
    shows that guesses paying it do not slow the bot."""
    return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------- the report
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Put each case's pytest outcome in its row (xfail = a known library bug)."""
    rows = [row for row in ROWS if row.nodeid == report.nodeid]
    if not rows:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if hasattr(report, "wasxfail"):
            outcome = "xfail (bug)" if report.skipped else "XPASS"
        else:
            outcome = report.outcome
        for row in rows:
            row.outcome = outcome
    elif report.when == "teardown" and report.failed:
        for row in rows:
            row.outcome = "error in teardown"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    terminalreporter.write_sep("=", "fault injection summary")
    terminalreporter.write_line(format_table(ROWS))
