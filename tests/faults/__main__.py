"""``python -m tests.faults``: run the fault-injection suite and print its summary table.

Extra arguments go to pytest (``python -m tests.faults -k otlp``). The exit status is
pytest's: 0 when every case passed or failed only where a known library bug is marked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def main(argv: list[str]) -> int:
    """Run ``tests/faults`` with pytest; the summary table is its last report section."""
    here = Path(__file__).resolve().parent
    return int(pytest.main(["-q", "-p", "no:cacheprovider", str(here), *argv]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
