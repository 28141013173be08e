"""``trader-telemetry report daily``: the daily report from a data directory's event files.

Only the document goes to stdout (``--format json | jq`` works); messages go to stderr. A bad
``--date`` is a one-line error and exit 2; a window without events is still a report (exit 0)
that says so and names the paths it looked at.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

from ..report import compute_daily_report, render_json, render_markdown, render_text

__all__ = ["default_events_files", "register"]

RENDERERS: Final[dict[str, tuple[Callable[[dict[str, Any]], str], str]]] = {
    "text": (render_text, "txt"),
    "json": (render_json, "json"),
    "markdown": (render_markdown, "md"),
}
_PROG: Final = "trader-telemetry report daily"


def default_events_files(data_dir: Path) -> list[Path]:
    """The event files of a data directory, oldest first.

    ``events.jsonl.1`` (the size-rotated old file), then ``events-YYYY-MM-DD.jsonl`` (daily
    rotation) in name order, then ``events.jsonl``. Missing ones are left out, except that
    ``events.jsonl`` is always listed so an empty directory still names what was looked for.

    Args:
        data_dir: The telemetry data directory.

    Returns:
        The paths to read.
    """
    files: list[Path] = []
    rotated = data_dir / "events.jsonl.1"
    if rotated.is_file():
        files.append(rotated)
    files += sorted(data_dir.glob("events-*.jsonl"))
    files.append(data_dir / "events.jsonl")
    return files


def _parse_date(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).date()


def _command(args: argparse.Namespace) -> int:
    """Compute, print and (unless ``--no-save``) save the daily report."""
    try:
        day = _parse_date(args.date)
    except ValueError:
        print(f"{_PROG}: invalid --date {args.date!r}: expected YYYY-MM-DD", file=sys.stderr)
        return 2
    lookback = args.lookback_hours
    if not (lookback > 0 and lookback != float("inf")):
        print(f"{_PROG}: --lookback-hours must be positive, got {lookback}", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir or Path("var", "data", args.namespace, args.profile))
    events_files = (
        [Path(p) for p in args.events_file] if args.events_file else default_events_files(data_dir)
    )
    metrics_file = Path(args.metrics_file) if args.metrics_file else data_dir / "metrics.json"
    report = compute_daily_report(
        events_files=events_files,
        metrics_file=metrics_file,
        day=day,
        lookback_hours=lookback,
        profile=args.profile,
    )
    render, suffix = RENDERERS[args.format]
    document = render(report)
    sys.stdout.write(document)
    sys.stdout.flush()
    if report["no_data"]:
        print(f"{_PROG}: {report['message']}", file=sys.stderr)
    if args.no_save:
        return 0
    target = (
        Path(args.output)
        if args.output
        else data_dir / "reports" / f"daily_report_{day.isoformat()}.{suffix}"
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(document, encoding="utf-8")
    except OSError as exc:
        print(f"{_PROG}: could not save {target}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{_PROG}: saved {target}", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    """Add the ``report`` subcommand and its ``daily`` subcommand.

    Args:
        commands: The ``add_subparsers()`` object of the top-level parser.
    """
    parser = commands.add_parser("report", help="reports built from the event log")
    kinds = parser.add_subparsers(dest="report", metavar="REPORT", required=True)
    daily = kinds.add_parser("daily", help="PnL, performance, risk and operations of one day")
    daily.add_argument("--date", default=None, help="UTC day, YYYY-MM-DD (default: today UTC)")
    daily.add_argument(
        "--format", choices=sorted(RENDERERS), default="text", help="output format (default: text)"
    )
    daily.add_argument(
        "--lookback-hours",
        type=float,
        default=24.0,
        help="window length ending at the day's close (default: 24)",
    )
    daily.add_argument("--profile", default="default", help="deployment profile (default: default)")
    daily.add_argument("--namespace", default="trader", help="metric namespace (default: trader)")
    daily.add_argument(
        "--data-dir", default=None, help="data directory (default: var/data/NAMESPACE/PROFILE)"
    )
    daily.add_argument(
        "--events-file",
        action="append",
        default=None,
        help="an events.jsonl to read; repeatable (default: the data dir's event files)",
    )
    daily.add_argument(
        "--metrics-file", default=None, help="metrics.json (default: DATA_DIR/metrics.json)"
    )
    save = daily.add_mutually_exclusive_group()
    save.add_argument(
        "--output",
        default=None,
        help="save the report here (default: DATA_DIR/reports/daily_report_DATE.EXT)",
    )
    save.add_argument("--no-save", action="store_true", help="print only, do not save")
    daily.set_defaults(handler=_command)
