"""``trader-telemetry ops``: being built (placeholder owned by the ops work)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the ``ops`` subcommand."""
    parser: argparse.ArgumentParser = commands.add_parser("ops", help="(being built)")
    parser.set_defaults(handler=lambda args: 2)
