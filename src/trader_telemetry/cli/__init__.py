"""The ``trader-telemetry`` command (argparse: the core install needs no CLI framework)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..version import __version__
from . import demo, health, ops, report, serve
from .exits import EXIT_USAGE

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The full command-line parser (subcommands register themselves)."""
    parser = argparse.ArgumentParser(
        prog="trader-telemetry",
        description="Instrumentation for trading bots: metrics, demo bot and operator tools.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo.register(commands)
    health.register(commands)
    report.register(commands)
    ops.register(commands)
    serve.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``trader-telemetry`` and ``python -m trader_telemetry``."""
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:
        # argparse's usage error is 2, which a health probe reads as "unhealthy" (and 1 and 3
        # are its other answers): every usage error exits EX_USAGE instead.
        if exc.code == 2:
            return EXIT_USAGE
        raise
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    code: int = args.handler(args)
    return code
