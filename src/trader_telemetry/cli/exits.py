"""Exit statuses shared by the commands."""

from __future__ import annotations

__all__ = ["EXIT_USAGE"]

#: A usage error (a mistyped command, a bad or conflicting option): ``EX_USAGE`` of sysexits.h.
#: Never one of the health probe's answers (0 healthy, 1 degraded, 2 unhealthy, 3 no answer),
#: so a mistyped probe in a unit file or a Kubernetes spec is never read as a verdict.
EXIT_USAGE = 64
