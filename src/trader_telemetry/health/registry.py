"""The health registry: runs checks concurrently, each under its own timeout; a check that
raises or hangs is a finding (UNHEALTHY with the reason), never an exception."""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .model import HealthCheck, HealthCheckResult, HealthReport, HealthStatus

if TYPE_CHECKING:
    import asyncio

__all__ = ["HealthCheckRegistry"]


class HealthCheckRegistry:
    """Checks by name; :meth:`check_all` (async) or :meth:`check_all_sync` run them all.

    Example:
        >>> class Always:
        ...     name = "always"
        ...
        ...     def check(self) -> HealthCheckResult:
        ...         return HealthCheckResult(self.name, HealthStatus.HEALTHY, "fine")
        >>> registry = HealthCheckRegistry()
        >>> registry.register(Always())
        >>> registry.check_all_sync().status
        <HealthStatus.HEALTHY: 'healthy'>
    """

    def __init__(self, *, timeout: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self._checks: dict[str, HealthCheck] = {}
        self._lock = threading.Lock()
        self.timeout = timeout
        self._wall = clock

    def register(self, check: HealthCheck) -> None:
        """Add ``check`` (replacing one of the same name)."""
        if not isinstance(getattr(check, "name", None), str) or not callable(
            getattr(check, "check", None)
        ):
            raise TypeError(f"a health check needs a str name and a check() method, got {check!r}")
        with self._lock:
            self._checks[check.name] = check

    def unregister(self, name: str) -> None:
        """Remove the check called ``name`` (no error when there is none)."""
        with self._lock:
            self._checks.pop(name, None)

    @property
    def names(self) -> list[str]:
        """Registered check names."""
        with self._lock:
            return list(self._checks)

    async def check_all(self) -> HealthReport:
        """Run every applicable check concurrently; never raises."""
        import asyncio  # noqa: PLC0415 - asyncio is imported when checks run: a light import

        with self._lock:
            checks = [c for c in self._checks.values() if _applies(c)]
        started = time.perf_counter()
        results = await asyncio.gather(*(self._run(check) for check in checks))
        return HealthReport(
            status=HealthStatus.worst([r.status for r in results]),
            results=tuple(results),
            timestamp=self._wall(),
            duration=time.perf_counter() - started,
        )

    def check_all_sync(self) -> HealthReport:
        """:meth:`check_all` for code that is not async; works inside a running loop too (the
        checks then run on a loop of their own in a helper thread)."""
        import asyncio  # noqa: PLC0415 - see check_all

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.check_all())
        box: list[HealthReport] = []
        helper = threading.Thread(target=lambda: box.append(asyncio.run(self.check_all())))
        helper.start()
        helper.join()
        return box[0]

    async def _run(self, check: HealthCheck) -> HealthCheckResult:
        import asyncio  # noqa: PLC0415 - see check_all

        started = time.perf_counter()
        name = check.name
        try:
            if inspect.iscoroutinefunction(check.check):
                outcome = await asyncio.wait_for(check.check(), self.timeout)
            else:
                outcome = await asyncio.wait_for(_in_daemon_thread(check.check, name), self.timeout)
                if inspect.isawaitable(outcome):
                    outcome = await asyncio.wait_for(outcome, self.timeout)
            if not isinstance(outcome, HealthCheckResult):
                kind = type(outcome).__name__
                return self._failed(name, started, f"check() returned {kind}, not a result")
            return HealthCheckResult(
                outcome.name or name,
                outcome.status,
                outcome.message,
                outcome.details,
                outcome.timestamp or self._wall(),
                time.perf_counter() - started,
            )
        except TimeoutError:
            return self._failed(name, started, f"timed out after {self.timeout:g} s")
        except Exception as exc:  # noqa: BLE001 - a broken check is a finding, not a crash
            return self._failed(name, started, f"check raised {type(exc).__name__}: {exc}")

    def _failed(self, name: str, started: float, message: str) -> HealthCheckResult:
        return HealthCheckResult(
            name,
            HealthStatus.UNHEALTHY,
            message,
            {"error": message},
            self._wall(),
            time.perf_counter() - started,
        )


def _in_daemon_thread(call: Callable[[], object], name: str) -> asyncio.Future[object]:
    """Run a plain check on a daemon thread of its own.

    Not the loop's default executor: ``asyncio.run`` waits for that one's threads on exit, so a
    hanging check would hang the whole report. A timed-out check's thread is left to finish (or
    not) in the background; it cannot keep the process alive.
    """
    import asyncio  # noqa: PLC0415 - see HealthCheckRegistry.check_all

    loop = asyncio.get_running_loop()
    future: asyncio.Future[object] = loop.create_future()

    def settle(result: object, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        try:
            result, error = call(), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting side
            result, error = None, exc
        # The loop may be gone by now (the check timed out and the report finished).
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name=f"trader-telemetry-health-{name}", daemon=True).start()
    return future


def _applies(check: HealthCheck) -> bool:
    applies = getattr(check, "applies", None)
    if applies is None:
        return True
    try:
        return bool(applies())
    except Exception:  # noqa: BLE001 - a check that cannot say is run, and reports for itself
        return True
