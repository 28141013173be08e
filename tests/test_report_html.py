"""The HTML report in a real headless browser (Debian ``chromium``), and the SVG charts as XML."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from trader_telemetry.report import compute_daily_report, render_html, report_svg
from trader_telemetry.report.charts import cycle_histogram_svg, equity_drawdown_svg, symbols_svg

from .png_colours import distinct_colours

FIXTURES = Path(__file__).parent / "fixtures" / "report"
SVG = "{http://www.w3.org/2000/svg}"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    message = "chromium is not installed (apt-get install --no-install-recommends chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return compute_daily_report(
        events_files=[FIXTURES / "events.jsonl"],
        metrics_file=FIXTURES / "metrics.json",
        day=date(2026, 11, 25),
        profile="test",
        now=datetime(2026, 11, 26, 1, tzinfo=UTC),
    )


def _open(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Load ``page`` in headless chromium with its console logged to stderr."""
    command = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr", "--v=0", *extra, page.as_uri(),
    ]  # fmt: skip
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path
    )


def _console(stderr: str) -> list[str]:
    """The page's console messages (chromium logs them as ``INFO:CONSOLE`` lines)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_html_page_renders_without_console_errors_on_a_phone(
    report: dict[str, Any], tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    shot = tmp_path / "phone.png"
    result = _open(page, tmp_path, "--window-size=412,1400", f"--screenshot={shot}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _console(result.stderr) == []
    assert shot.is_file()
    # A blank or error page has a handful of colours; the charts and text have many.
    assert distinct_colours(shot.read_bytes()) > 50
    dom = _open(page, tmp_path, "--dump-dom")
    assert _console(dom.stderr) == []
    assert "<h1>Daily report 2026-11-25 (profile test)</h1>" in dom.stdout
    assert dom.stdout.count("<svg") == 3  # equity and drawdown, symbols, cycle durations
    assert "Unexplained (deposits, withdrawals or missing events)" in dom.stdout


def test_the_console_check_sees_errors(tmp_path: Path) -> None:
    """The check above is not blind: a bad SVG attribute is reported on the console."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9">'
        '<rect width="nan" height="3"/></svg></body></html>'
    )
    result = _open(page, tmp_path, "--dump-dom")
    assert any("attribute width" in line for line in _console(result.stderr))


def test_html_page_fetches_nothing(report: dict[str, Any]) -> None:
    """Self-contained: no script, no link, no image or font to fetch; one page."""
    html = render_html(report)
    assert re.search(r"<(script|link|img|iframe|object)\b", html, re.IGNORECASE) is None
    assert re.search(r"\b(src|href)\s*=", html, re.IGNORECASE) is None
    assert "url(" not in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html


def test_svg_files_parse_as_xml(report: dict[str, Any]) -> None:
    root = ET.fromstring(report_svg(report))  # noqa: S314 - our own document
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title") is not None
    assert len(root.findall(f".//{SVG}polyline")) == 1  # the equity curve
    ticks = [
        t.text for t in root.iter(f"{SVG}text") if t.text and re.fullmatch(r"\d\d:\d\d", t.text)
    ]
    assert ticks[:3] == ["00:00", "03:00", "06:00"]  # a time axis
    for chart in (equity_drawdown_svg, symbols_svg, cycle_histogram_svg):
        ET.fromstring(chart(report))  # noqa: S314
    histogram = ET.fromstring(cycle_histogram_svg(report))  # noqa: S314
    labels = [t.text for t in histogram.iter(f"{SVG}text")]
    assert "warning 3 s" in labels
    assert "critical 6 s" in labels
