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
        # The thread of each plain check's latest run, while it runs: a check that hangs is
        # joined by later reports, never run again beside itself (one thread per check).
        self._flights: dict[str, _Flight] = {}
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
                # A call still running from an earlier report is awaited again, not repeated.
                flight = self._flight(check)
                outcome = await asyncio.wait_for(flight.wait(), self.timeout)
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

    def _flight(self, check: HealthCheck) -> _Flight:
        """The running call of ``check``, or a new one on a thread of its own."""
        with self._lock:
            flight = self._flights.get(check.name)
            if flight is not None and flight.check is check and not flight.finished:
                return flight  # still running (hung?): join it, do not start another
            flight = self._flights[check.name] = _Flight(check)
        flight.start()
        return flight


class _Flight:
    """One call of a plain check on a daemon thread; any number of reports may await it.

    Not the loop's default executor: ``asyncio.run`` waits for that one's threads on exit, so a
    hanging check would hang the whole report. A timed-out call's thread is left to finish (or
    not) in the background; it cannot keep the process alive, and while it runs the registry
    starts no other call of the same check.
    """

    def __init__(self, check: HealthCheck) -> None:
        self.check = check
        self.finished = False
        self._outcome: tuple[object, BaseException | None] = (None, None)
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[object]]] = []

    def start(self) -> None:
        name = f"trader-telemetry-health-{self.check.name}"
        threading.Thread(target=self._work, name=name, daemon=True).start()

    def wait(self) -> asyncio.Future[object]:
        """A future of the running loop that gets the call's result (or its exception)."""
        import asyncio  # noqa: PLC0415 - see check_all

        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        with self._lock:
            if not self.finished:
                waiter = (loop, future)
                self._waiters.append(waiter)
                # A report that gives up (timeout) forgets its waiter: a call that never
                # returns must not collect one per report.
                future.add_done_callback(lambda _: self._forget(waiter))
                return future
        _settle(future, *self._outcome)
        return future

    def _forget(self, waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[object]]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def _work(self) -> None:
        try:
            outcome: tuple[object, BaseException | None] = (self.check.check(), None)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting side
            outcome = (None, exc)
        with self._lock:
            self._outcome, self.finished = outcome, True
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            # The loop may be gone by now (the check timed out and the report finished).
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, *outcome)


def _settle(future: asyncio.Future[object], result: object, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _applies(check: HealthCheck) -> bool:
    applies = getattr(check, "applies", None)
    if applies is None:
        return True
    try:
        return bool(applies())
    except Exception:  # noqa: BLE001 - a check that cannot say is run, and reports for itself
        return True
