"""``trader-telemetry serve``: being built (placeholder owned by the serve work)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser: argparse.ArgumentParser = commands.add_parser("serve", help="(being built)")
    parser.set_defaults(handler=lambda args: 2)
