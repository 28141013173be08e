"""``report daily`` on bad input, as a subprocess: each case's exit code and one-line message,
and never a traceback (missing inputs exit 1, bad arguments 64, odd data is still a report)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

DATE = ["--date", "2026-11-25"]
FILL = (
    '{"timestamp":"2026-11-25T10:00:00.000Z","event_type":"fill","symbol":"BTC-PERP",'
    '"side":"sell","quantity":0.1,"price":100.0,"fee":1.0,"realized_pnl":5.0}\n'
)


def _report(
    *args: str, cwd: Path, without_orjson: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real command (optionally with orjson made unimportable, as on a plain install)."""
    main = "import sys; from trader_telemetry.cli import main; sys.exit(main())"
    if without_orjson:
        main = "import sys; sys.modules['orjson'] = None; " + main.removeprefix("import sys; ")
    command = [sys.executable, "-c", main, "report", "daily", *args]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False, env=env
    )


def _assert_one_line_error(
    result: subprocess.CompletedProcess[str], code: int, *parts: str
) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("trader-telemetry report daily: ")
    for part in parts:
        assert part in result.stderr


@pytest.fixture
def data(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / "events.jsonl").write_text(FILL)
    return directory


def test_missing_data_dir_is_exit_1_naming_it(tmp_path: Path) -> None:
    result = _report(*DATE, "--data-dir", "nope", cwd=tmp_path)
    _assert_one_line_error(result, 1, "data directory nope does not exist")


def test_data_dir_that_is_a_file_is_exit_1(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    result = _report(*DATE, "--data-dir", "plain", cwd=tmp_path)
    _assert_one_line_error(result, 1, "data directory plain is not a directory")


def test_default_data_dir_missing_is_exit_1(tmp_path: Path) -> None:
    result = _report(*DATE, "--profile", "prod", cwd=tmp_path)
    _assert_one_line_error(result, 1, str(Path("var", "data", "trader", "prod")))


def test_data_dir_without_events_files_is_exit_1(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = _report(*DATE, "--data-dir", "empty", cwd=tmp_path)
    _assert_one_line_error(result, 1, "no events file in empty", "events.jsonl")


def test_missing_events_file_is_exit_1(data: Path) -> None:
    result = _report(*DATE, "--events-file", "events.jsonl", "--events-file", "gone.jsonl",
                     "--no-save", cwd=data)  # fmt: skip
    _assert_one_line_error(result, 1, "no events file gone.jsonl")


def test_events_file_that_is_a_directory_is_exit_1(data: Path) -> None:
    (data / "dir.jsonl").mkdir()
    result = _report(*DATE, "--events-file", "dir.jsonl", cwd=data)
    _assert_one_line_error(result, 1, "dir.jsonl is a directory")


def test_metrics_file_that_is_a_directory_is_exit_1(data: Path) -> None:
    result = _report(*DATE, "--data-dir", ".", "--metrics-file", ".", cwd=data)
    _assert_one_line_error(result, 1, "--metrics-file . is a directory")


def test_output_that_cannot_be_written_is_exit_1(data: Path) -> None:
    (data / "out").mkdir()
    result = _report(*DATE, "--data-dir", ".", "--output", "out", cwd=data)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "could not save out" in result.stderr


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (["--date", "9999-12-31"], ["invalid --date", "past year 9999"]),
        (["--date", "2026-02-30"], ["invalid --date '2026-02-30'"]),
        (["--date", "20261125"], ["invalid --date"]),
        ([*DATE, "--lookback-hours", "nan"], ["invalid --lookback-hours", "nan"]),
        ([*DATE, "--lookback-hours", "inf"], ["invalid --lookback-hours"]),
        ([*DATE, "--lookback-hours", "1e400"], ["invalid --lookback-hours"]),
        ([*DATE, "--lookback-hours", "-3"], ["invalid --lookback-hours"]),
        ([*DATE, "--lookback-hours", "0"], ["invalid --lookback-hours"]),
        ([*DATE, "--lookback-hours", "lots"], ["invalid --lookback-hours 'lots'"]),
        ([*DATE, "--tz", "Mars/Olympus"], ["unknown --tz"]),
        ([*DATE, "--thresholds", "missing.toml"], ["invalid --thresholds", "missing.toml"]),
        ([*DATE, "--thresholds", "bad.toml"], ["invalid --thresholds", "unknown field(s) nope"]),
    ],
)
def test_bad_arguments_are_a_one_line_usage_error_exit_64(
    data: Path, args: list[str], parts: list[str]
) -> None:
    (data / "bad.toml").write_text("nope = 3\n")
    result = _report(*args, "--data-dir", ".", cwd=data)
    _assert_one_line_error(result, 64, *parts)


def test_bad_thresholds_variable_is_exit_64(data: Path) -> None:
    import os

    env = {**os.environ, "TRADER_TELEMETRY_THRESHOLDS": "nowhere.json"}
    result = _report(*DATE, "--data-dir", ".", cwd=data, env=env)
    _assert_one_line_error(result, 64, "nowhere.json")


def test_huge_lookback_reads_from_year_one(data: Path) -> None:
    result = _report(*DATE, "--data-dir", ".", "--lookback-hours", "1e9", "--format", "json",
                     "--no-save", cwd=data)  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["window"]["start"] == "0001-01-01T00:00:00.000Z"
    assert document["trades"]["total"] == 1


def test_the_first_day_there_is_still_reports_no_data(data: Path) -> None:
    result = _report("--date", "0001-01-01", "--data-dir", ".", "--no-save", cwd=data)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    # 24 h back from 0001-01-02T00:00Z is 0001-01-01T00:00Z exactly: the earliest instant.
    assert "window 0001-01-01T00:00:00.000Z to 0001-01-02T00:00:00.000Z" in result.stdout
    assert "No data: no events between" in result.stdout


def _strict(text: str) -> object:
    def refuse(constant: str) -> object:
        raise AssertionError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("without_orjson", [False, True], ids=["orjson", "json"])
@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_huge_numbers_and_integers_are_a_report(
    tmp_path: Path, fmt: str, *, without_orjson: bool
) -> None:
    """Equity 1e200 (record_account accepts it), +-1e308 (whose difference overflows), 1e400
    (inf to the json module), 400-digit integers as numbers and as an epoch timestamp."""
    huge = "1" + "0" * 400
    lines = [
        '{"timestamp":"2026-11-25T01:00:00Z","event_type":"account","equity":1e200,'
        '"unrealized_pnl":1e200,"funding_pnl":-1e308}',
        '{"timestamp":"2026-11-25T02:00:00Z","event_type":"account","equity":-1e308,'
        '"unrealized_pnl":1e308,"funding_pnl":1e308}',
        '{"timestamp":"2026-11-25T03:00:00Z","event_type":"account","equity":1e308}',
        '{"timestamp":"2026-11-25T03:30:00Z","event_type":"account","equity":1e400}',
        f'{{"timestamp":"2026-11-25T04:00:00Z","event_type":"fill","symbol":"X","fee":{huge},'
        f'"realized_pnl":1e308}}',
        '{"timestamp":"2026-11-25T04:00:01Z","event_type":"fill","symbol":"X","fee":-1e308,'
        '"realized_pnl":1e308}',
        f'{{"timestamp":"2026-11-25T05:00:00Z","event_type":"cycle","number":{huge},'
        f'"duration_seconds":1e308}}',
        f'{{"time":{huge},"type":"fill","symbol":"Y","realized_pnl":"1"}}',
        f'{{"timestamp":"2026-11-25T06:00:00Z","event_type":"daily_loss","loss":{huge},'
        f'"limit":1e-308}}',
        '{"timestamp":"2026-11-25T06:00:01Z","event_type":"daily_loss","loss":1e308,'
        '"limit":1e-308}',
    ]
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    result = _report(*DATE, "--data-dir", ".", "--format", fmt, "--no-save", cwd=tmp_path,
                     without_orjson=without_orjson)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    if fmt == "json":
        document = _strict(result.stdout)
        assert isinstance(document, dict)
        assert document["account"]["equity_start"] == 1e200
        assert document["account"]["equity_change"] == 1e308  # 1e308 - 1e200; 1e400 skipped
        assert document["pnl"]["total"] is None  # realized - fees = 2e308 overflows: no number
    elif fmt == "html":  # every drawn coordinate is a number
        assert re.search(r'="[^"]*\b(nan|inf)\b', result.stdout, re.IGNORECASE) is None
