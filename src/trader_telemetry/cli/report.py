"""``trader-telemetry report daily``: the daily report from a data directory's event files.

Only the document goes to stdout (``--format json | jq`` works); messages go to stderr. A bad
``--date`` is a one-line error and exit 2; a window without events is still a report (exit 0)
that says so and names the paths it looked at.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..report import compute_daily_report, render_json, render_markdown, render_text

__all__ = ["default_events_files", "register"]

RENDERERS: Final[dict[str, tuple[Callable[[dict[str, Any]], str], str]]] = {
    "text": (render_text, "txt"),
    "json": (render_json, "json"),
    "markdown": (render_markdown, "md"),
}
_PROG: Final = "trader-telemetry report daily"
#: Event files larger than this in total get a progress bar (on a terminal, with rich installed).
PROGRESS_MIN_BYTES: Final = 8 * 1024 * 1024


def default_events_files(data_dir: Path) -> list[Path]:
    """The event files of a data directory, oldest first.

    ``events.jsonl.1`` (the size-rotated old file), then ``events-YYYY-MM-DD.jsonl`` (daily
    rotation) in name order, then ``events.jsonl``. Missing ones are left out, except that
    ``events.jsonl`` is always listed so an empty directory still names what was looked for.
    A GPT-Trader ``events.db`` in the directory is its current store and wins, as in
    GPT-Trader's own report: then only it is read.

    Args:
        data_dir: The telemetry data directory.

    Returns:
        The paths to read.
    """
    database = data_dir / "events.db"
    if database.is_file():
        return [database]
    files: list[Path] = []
    rotated = data_dir / "events.jsonl.1"
    if rotated.is_file():
        files.append(rotated)
    files += sorted(data_dir.glob("events-*.jsonl"))
    files.append(data_dir / "events.jsonl")
    return files


def _parse_date(text: str | None, tz: tzinfo) -> date:
    if text is None:
        return datetime.now(tz).date()
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).date()


def _parse_tz(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(name) from exc


def wants_progress(total_bytes: int, *, stdout_tty: bool, stderr_tty: bool) -> bool:
    """Whether to draw a progress bar: big input, a person watching, and nothing piped."""
    return total_bytes >= PROGRESS_MIN_BYTES and stdout_tty and stderr_tty


@contextmanager
def _progress_bar(files: list[Path]) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr over the files' total size, or None when not wanted."""
    total = sum(path.stat().st_size for path in files if path.is_file())
    if not wants_progress(total, stdout_tty=sys.stdout.isatty(), stderr_tty=sys.stderr.isatty()):
        yield None
        return
    try:
        # Optional (the cli extra), and only imported when a person is watching.
        from rich.console import Console  # noqa: PLC0415
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
        )
    except ImportError:
        yield None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("reading events", total=total)

        def advance(done: int) -> None:
            bar.update(task, completed=done)

        yield advance


def _command(args: argparse.Namespace) -> int:
    """Compute, print and (unless ``--no-save``) save the daily report."""
    try:
        tz = _parse_tz(args.tz)
    except ValueError:
        print(f"{_PROG}: unknown --tz {args.tz!r}: expected UTC or an IANA name", file=sys.stderr)
        return 2
    try:
        day = _parse_date(args.date, tz)
    except ValueError:
        print(f"{_PROG}: invalid --date {args.date!r}: expected YYYY-MM-DD", file=sys.stderr)
        return 2
    lookback = args.lookback_hours
    if not (lookback > 0 and lookback != float("inf")):
        print(f"{_PROG}: --lookback-hours must be positive, got {lookback}", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir or Path("var", "data", args.namespace, args.profile))
    given = [*(args.events_file or ()), *(args.events_db or ())]
    events_files = [Path(p) for p in given] if given else default_events_files(data_dir)
    metrics_file = Path(args.metrics_file) if args.metrics_file else data_dir / "metrics.json"
    with _progress_bar(events_files) as progress:
        report = compute_daily_report(
            events_files=events_files,
            metrics_file=metrics_file,
            day=day,
            lookback_hours=lookback,
            profile=args.profile,
            tz=tz,
            progress=progress,
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
    daily.add_argument(
        "--date", default=None, help="the day, YYYY-MM-DD, in --tz (default: today in --tz)"
    )
    daily.add_argument(
        "--tz",
        default="UTC",
        help="time zone whose midnight closes the day: UTC or an IANA name (default: UTC)",
    )
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
        help="an events.jsonl (or a SQLite events.db, recognised by its header) to read; "
        "repeatable (default: the data dir's event files)",
    )
    daily.add_argument(
        "--events-db",
        action="append",
        default=None,
        metavar="PATH",
        help="GPT-Trader's SQLite events.db, opened read-only; repeatable",
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
