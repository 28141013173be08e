"""``python -m trader_telemetry`` is the ``trader-telemetry`` command."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
