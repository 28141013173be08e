"""The hot-path benchmark still runs (a smoke run: its figures are not asserted here;
performance is read from a full run of benchmarks/hot_path.py, never from a timed test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run_quick(script: str, out: Path, timeout: float) -> str:
    """Run ``benchmarks/SCRIPT --quick --json OUT``; its stdout, once it exited 0."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_hot_path_benchmark_runs_and_reports_every_row(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    stdout = _run_quick("hot_path.py", out, timeout=120)
    assert "| cycle_timer enter+exit |" in stdout
    rows = {row["operation"]: row for row in json.loads(out.read_text())["rows"]}
    assert (
        rows["cycle_timer enter+exit"]["baseline"]
        == "perf_counter pair + raw OTel Histogram.record"
    )
    assert rows["record_mark (with price)"]["target"] == 3.0
    module_level = rows["tt.cycle_timer() enter+exit (module-level, as the README)"]
    assert module_level["baseline"] == "perf_counter pair + raw OTel Histogram.record"
    assert module_level["target"] == 1.3
    assert all(row["ns_per_op"] > 0 for row in rows.values())


def test_scrape_benchmark_runs_all_three_implementations(tmp_path: Path) -> None:
    out = tmp_path / "scrape.json"
    stdout = _run_quick("scrape.py", out, timeout=120)
    assert "summary:" in stdout
    for name in ("prometheus_client", "native", "upstream OTel"):
        assert f"| {name} |" in stdout
    assert out.exists()


def test_file_exporter_benchmark_runs_and_reads_only_new_bytes(tmp_path: Path) -> None:
    out = tmp_path / "file_exporter.json"
    stdout = _run_quick("file_exporter.py", out, timeout=120)
    assert "summary:" in stdout
    figures = json.loads(out.read_text())
    assert figures["bytes_read_per_scrape"] == figures["bytes_appended_per_scrape"]
    assert len(figures["scrape_seconds"]) == 10


def test_report_benchmark_runs_both_shapes(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    stdout = _run_quick("report.py", out, timeout=300)
    assert "summary:" in stdout
    figures = json.loads(out.read_text())
    for shape in ("ours", "gpt-trader"):
        assert figures[shape]["events_per_second"] > 0
        assert figures[shape]["cpu_seconds_one_process"] > 0
    # GPT-Trader's lines average about 165 bytes, as the day does.
    assert 150 <= figures["gpt-trader"]["bytes"] / figures["events"] <= 180
    assert figures["rss_mib"] > 0


def test_import_time_benchmark_runs_and_compares_with_the_dependencies(tmp_path: Path) -> None:
    out = tmp_path / "import_time.json"
    stdout = _run_quick("import_time.py", out, timeout=300)
    assert "| import trader_telemetry |" in stdout
    figures = json.loads(out.read_text())
    rows = {row["row"]: row for row in figures["rows"]}
    assert "import opentelemetry.sdk.metrics, prometheus_client" in rows
    assert all(len(row["cpu_seconds"]) == figures["runs"] for row in rows.values())
    assert figures["loads_dependencies"] is True
