"""``trader-telemetry report daily``: the daily report from a data directory's event files.

Only the document goes to stdout (``--format json | jq`` works); messages go to stderr. A bad
argument (``--date``, ``--tz``, ``--lookback-hours``, ``--thresholds``) is a one-line error and
exit 2; missing inputs (no data directory, no events file, an events file that is a directory)
are a one-line error naming the paths and exit 1; a window without events is still a report
(exit 0) that says so and names the paths it looked at.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..config import Thresholds, load_thresholds
from ..errors import ConfigurationError
from ..report import (
    compute_daily_report,
    render_html,
    render_json,
    render_markdown,
    render_text,
    report_svg,
)
from ..report.compute import report_window
from .exits import EXIT_USAGE

__all__ = ["default_events_files", "register"]

RENDERERS: Final[dict[str, tuple[Callable[[dict[str, Any]], str], str]]] = {
    "text": (render_text, "txt"),
    "json": (render_json, "json"),
    "markdown": (render_markdown, "md"),
    "html": (render_html, "html"),
}
#: The environment variable naming the thresholds file (as for the bot's configuration).
THRESHOLDS_ENV: Final = "TRADER_TELEMETRY_THRESHOLDS"
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


def _fail(message: str, code: int) -> int:
    """A one-line message on stderr, and the exit code."""
    print(f"{_PROG}: {message}", file=sys.stderr)
    return code


def _thresholds(args: argparse.Namespace) -> tuple[Thresholds, str]:
    """The thresholds to use and where they came from (``--thresholds``, the variable, or the
    defaults). Raises ConfigurationError for a bad file."""
    path = args.thresholds or os.environ.get(THRESHOLDS_ENV, "").strip() or None
    if path is None:
        return Thresholds(), "defaults"
    origin = path if args.thresholds else f"{path} from {THRESHOLDS_ENV}"
    return load_thresholds(path), origin


def _check_inputs(  # noqa: PLR0911 - one answer per kind of missing input
    args: argparse.Namespace, data_dir: Path, events_files: list[Path], metrics_file: Path
) -> str | None:
    """Why the inputs cannot make a report (names the paths), or None when they can."""
    if args.events_file or args.events_db:
        for path in events_files:
            if path.is_dir():
                return f"--events-file {path} is a directory, not an events file"
            if not path.is_file():
                return f"no events file {path}"
    elif not data_dir.is_dir():
        what = "is not a directory" if data_dir.exists() else "does not exist"
        return f"data directory {data_dir} {what} (give --data-dir or --events-file)"
    elif not any(path.is_file() for path in events_files):
        return (
            f"no events file in {data_dir} (looked for events.jsonl, events-*.jsonl and "
            "events.jsonl.1)"
        )
    if args.metrics_file and not metrics_file.is_file():
        what = "is a directory" if metrics_file.is_dir() else "does not exist"
        return f"--metrics-file {metrics_file} {what}"
    for path in events_files:
        if path.is_file() and not os.access(path, os.R_OK):
            return f"cannot read {path} (permission denied)"
    return None


def _command(args: argparse.Namespace) -> int:  # noqa: PLR0911 - one exit per kind of error
    """Compute, print and (unless ``--no-save``) save the daily report."""
    try:
        tz = _parse_tz(args.tz)
    except ValueError:
        return _fail(f"unknown --tz {args.tz!r}: expected UTC or an IANA name", EXIT_USAGE)
    try:
        day = _parse_date(args.date, tz)
    except ValueError:
        return _fail(f"invalid --date {args.date!r}: expected YYYY-MM-DD", EXIT_USAGE)
    try:
        lookback = float(args.lookback_hours)
    except ValueError:
        return _fail(
            f"invalid --lookback-hours {args.lookback_hours!r}: expected a number", EXIT_USAGE
        )
    try:
        report_window(day, lookback, tz)
    except ValueError as exc:
        flag = "--lookback-hours" if "lookback" in str(exc) else "--date"
        return _fail(f"invalid {flag}: {exc}", EXIT_USAGE)
    try:
        thresholds, thresholds_source = _thresholds(args)
    except ConfigurationError as exc:
        return _fail(f"invalid --thresholds: {exc}", EXIT_USAGE)
    data_dir = Path(args.data_dir or Path("var", "data", args.namespace, args.profile))
    given = [*(args.events_file or ()), *(args.events_db or ())]
    events_files = [Path(p) for p in given] if given else default_events_files(data_dir)
    metrics_file = Path(args.metrics_file) if args.metrics_file else data_dir / "metrics.json"
    problem = _check_inputs(args, data_dir, events_files, metrics_file)
    if problem is not None:
        return _fail(problem, 1)
    with _progress_bar(events_files) as progress:
        report = compute_daily_report(
            events_files=events_files,
            metrics_file=metrics_file,
            day=day,
            lookback_hours=lookback,
            profile=args.profile,
            tz=tz,
            thresholds=thresholds,
            thresholds_source=thresholds_source,
            progress=progress,
        )
    render, suffix = RENDERERS[args.format]
    target = (
        None
        if args.no_save
        else Path(args.output)
        if args.output
        else data_dir / "reports" / f"daily_report_{day.isoformat()}.{suffix}"
    )
    chart = None if target is None else _chart_path(target)
    if args.format == "markdown":
        document = render_markdown(report, chart=None if chart is None else chart.name)
    else:
        document = render(report)
    sys.stdout.write(document)
    sys.stdout.flush()
    if report["no_data"]:
        print(f"{_PROG}: {report['message']}", file=sys.stderr)
    if target is None:
        return 0
    return _save(target, document, report_svg(report) if args.format == "markdown" else None)


def _chart_path(target: Path) -> Path:
    """The SVG saved beside a Markdown report: same name, ``.svg`` (never the report itself)."""
    chart = target.with_suffix(".svg")
    return target.with_name(f"{target.stem}.chart.svg") if chart == target else chart


def _save(target: Path, document: str, chart: str | None) -> int:
    """Write the document (and the Markdown form's chart beside it); exit 1 when it fails."""
    chart_path = _chart_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(document, encoding="utf-8")
        if chart is not None:
            chart_path.write_text(chart, encoding="utf-8")
    except OSError as exc:
        return _fail(f"could not save {target}: {exc.strerror or exc}", 1)
    saved = f"{target} and {chart_path}" if chart is not None else str(target)
    print(f"{_PROG}: saved {saved}", file=sys.stderr)
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
        default="24",  # parsed by the command: a bad value is a one-line error
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
    daily.add_argument(
        "--thresholds",
        metavar="FILE",
        default=None,
        help=(
            "TOML or JSON file of Thresholds fields, the one the bot and ops render use "
            f"(default: ${THRESHOLDS_ENV}, else the playbook's defaults)"
        ),
    )
    save = daily.add_mutually_exclusive_group()
    save.add_argument(
        "--output",
        default=None,
        help="save the report here (default: DATA_DIR/reports/daily_report_DATE.EXT)",
    )
    save.add_argument("--no-save", action="store_true", help="print only, do not save")
    daily.set_defaults(handler=_command)
