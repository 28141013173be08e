"""Adding a plain gauge takes its catalogue row and its recording call, nothing else.

The test does what a maintainer would: it copies the package, adds one row to ``CATALOGUE`` and
one recording call to ``Recorder`` (two text edits, no other file touched), and runs a bot on
that copy in a subprocess: the family is served over HTTP with its HELP, TYPE and value, the
value is in ``/metrics.json`` where the row says, and the file exporter replays it from that
``metrics.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import trader_telemetry

PACKAGE = Path(trader_telemetry.__file__).resolve().parent

ROW = """\
    MetricSpec(
        "margin_ratio", _G, "1", "Margin in use over margin available.",
        source=("record_margin_ratio",), read="gauges.margin_ratio", json="risk.margin_ratio",
        no_panel="a row added by a test",
    ),
"""
CALL = '''
    def record_margin_ratio(self, ratio: float) -> None:
        """The account's margin ratio."""
        self._record_gauge("margin_ratio", ratio)
'''
BOT = textwrap.dedent(
    """\
    import json, pathlib, sys, urllib.request
    import trader_telemetry as tt
    from trader_telemetry.compat import FileExporter

    telemetry = tt.Telemetry(port=0)
    telemetry.record_margin_ratio(0.25)
    assert telemetry.metrics_url is not None
    with urllib.request.urlopen(telemetry.metrics_url, timeout=10) as response:
        metrics = response.read().decode()
    with urllib.request.urlopen(telemetry.metrics_url + ".json", timeout=10) as response:
        document = json.loads(response.read())
    telemetry.shutdown()
    path = pathlib.Path(sys.argv[1])
    path.write_text(json.dumps(document))
    with FileExporter(metrics_file=path, serve=False) as exporter:
        replayed = exporter.telemetry.render_metrics().body.decode()
    print(json.dumps({"metrics": metrics, "document": document, "replayed": replayed}))
    """
)


def add_the_gauge(root: Path) -> None:
    """The two edits: a catalogue row, a recording call."""
    catalogue = root / "catalogue.py"
    text = catalogue.read_text(encoding="utf-8")
    end = ")  # fmt: skip\n\n_BY_NAME"
    assert text.count(end) == 1
    catalogue.write_text(text.replace(end, ROW + end), encoding="utf-8")
    recording = root / "recording.py"
    text = recording.read_text(encoding="utf-8")
    assert text.rstrip().splitlines()[-1].startswith("        ")  # ends inside Recorder
    recording.write_text(text.rstrip() + "\n" + CALL, encoding="utf-8")


def copy_package(tmp_path: Path) -> Path:
    copy = tmp_path / "src" / "trader_telemetry"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def run_on_copy(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRADER_"))}
    env["PYTHONPATH"] = str(tmp_path / "src")
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_row_and_a_recording_call_are_all_a_plain_gauge_needs(tmp_path: Path) -> None:
    add_the_gauge(copy_package(tmp_path))
    done = run_on_copy(tmp_path, BOT, str(tmp_path / "metrics.json"))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    metrics = out["metrics"]
    assert "# HELP trader_margin_ratio Margin in use over margin available.\n" in metrics
    assert "# TYPE trader_margin_ratio gauge\n" in metrics
    assert "\ntrader_margin_ratio 0.25\n" in metrics
    assert out["document"]["risk"]["margin_ratio"] == 0.25
    assert "\ntrader_margin_ratio 0.25\n" in out["replayed"]


def test_a_row_that_says_nowhere_stops_the_start_with_its_name(tmp_path: Path) -> None:
    """Not a KeyError from deep inside: a ConfigurationError naming the row."""
    copy = copy_package(tmp_path)
    catalogue = copy / "catalogue.py"
    end = ")  # fmt: skip\n\n_BY_NAME"
    row = '    MetricSpec("margin_ratio", _G, "1", "Margin.", source=("record_account",)),\n'
    catalogue.write_text(catalogue.read_text(encoding="utf-8").replace(end, row + end))
    done = run_on_copy(tmp_path, "import trader_telemetry as tt; tt.Telemetry(serve=False)")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("trader_telemetry.errors.ConfigurationError: catalogue row ")
    assert "'margin_ratio': no read= " in last
