"""The ``serve`` command line: flags, defaults and refusals (the running command is exercised
under Prometheus in tests/integration/test_file_exporter.py)."""

from __future__ import annotations

import pytest

from trader_telemetry.cli import build_parser, main


def test_serve_defaults_to_loopback_port_9000() -> None:
    args = build_parser().parse_args(["serve", "--metrics-file", "m.json"])
    assert (args.host, args.port, args.namespace, args.interval) == (
        "127.0.0.1",
        9000,
        "trader",
        5.0,
    )
    assert args.events_file is None


def test_serve_without_any_file_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "0"]) == 64
    assert "--metrics-file" in capsys.readouterr().err


def test_serve_with_a_bad_namespace_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["serve", "--events-file", "e.jsonl", "--namespace", "bad-name", "--port", "0"]) == 2
    )
    assert "namespace" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--interval", "nan"), ("--interval", "inf"), ("--breaker-hold", "nan"),
     ("--breaker-hold", "-5")],
)  # fmt: skip
def test_serve_refuses_non_numbers_in_one_line(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    assert main(["serve", "--events-file", "e.jsonl", "--port", "0", flag, value]) == 64
    err = capsys.readouterr().err
    assert flag in err
    assert len(err.strip().splitlines()) == 1  # a usage error, not a traceback


def test_serve_takes_events_db() -> None:
    args = build_parser().parse_args(["serve", "--events-db", "events.db"])
    assert args.events_db == "events.db"
