"""``Telemetry``: wires the OTel meter provider, the Prometheus reader, the endpoint, tracing
and the files, and times the bot's cycles and phases.

The recorded state and the recording calls (marks, account and risk, orders, events) live in
:mod:`.recording`: ``Telemetry`` is a :class:`~.recording.Recorder` that builds the rest around
it. The calls that replay a bot's files (for ``trader-telemetry serve``) are
here, next to the cycle bookkeeping they share.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.metrics import MeterProvider as ApiMeterProvider

from .catalogue import Component, MetricSpec
from .config import TelemetryConfig
from .cycle import Cycle, CycleTimer, Phase, current_cycle, decorate_cycle
from .errors import ConfigurationError, NotReadyError
from .health.liveness import Liveness
from .health.model import HealthReport, HealthStatus
from .health.registry import HealthCheckRegistry
from .health.service import HealthService
from .health.sources import builtin_checks
from .instruments import Producer, register_observables
from .lifecycle.hooks import ProcessHooks
from .pipeline import METER_NAME, MetricPipeline
from .readers import Exposition
from .recording import Recorder
from .redaction import install_log_redaction
from .stale_watch import StaleMarkWatch
from .version import package_version

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    # Imported where used: files, endpoint and tracing are not part of the light import.
    from .events.metrics_file import MetricsFile
    from .exposition.server import MetricsServer
    from .exposition.webconfig import WebConfig
    from .tracing import CycleTracing, TracingConfig

__all__ = ["Telemetry"]

F = TypeVar("F", bound=Callable[..., Any])


class Telemetry(Recorder):
    """One bot's instrumentation: its own registry, reader, state and (optionally) endpoint.

    Most bots call :func:`trader_telemetry.configure` instead, which builds one of these as the
    default instance. Create your own for tests or several bots in one process.

    Args:
        config: The configuration; ``TelemetryConfig()`` when omitted.
        meter_provider: The bot's own OTel SDK ``MeterProvider``: our reader and instruments
            are added to it instead of a provider of our own.
        **overrides: Fields of :class:`TelemetryConfig` to change.

    Example:
        >>> telemetry = Telemetry(port=0)
        >>> with telemetry.cycle_timer() as cycle:
        ...     telemetry.record_account(equity=10_000.0, realized_pnl=12.5)
        >>> telemetry.metrics_url.startswith("http://127.0.0.1:")
        True
        >>> telemetry.shutdown()
    """

    #: Called before each scrape renders (see :meth:`add_refresh_hook`); replaced whole.
    _refresh_hooks: tuple[Callable[[], None], ...] = ()

    def __init__(
        self,
        config: TelemetryConfig | None = None,
        *,
        meter_provider: ApiMeterProvider | None = None,
        tracing: bool | TracingConfig = False,
        slow_cycle_seconds: float | None = None,
        **overrides: Any,
    ) -> None:
        cfg = config if config is not None else TelemetryConfig()
        if overrides:
            cfg = cfg.with_changes(**overrides)
        # The recorded state, the checks, limits and redactor the recording calls use.
        super().__init__(cfg)
        # Security first: a bad web config fails here, before any thread starts.
        web_config: WebConfig | None = None
        if cfg.serve and cfg.web_config is not None:
            from .exposition.webconfig import load_web_config  # noqa: PLC0415

            web_config = load_web_config(cfg.web_config)
        install_log_redaction(cfg.redact_keys)
        self._lifecycle_lock = threading.Lock()
        self._closed = False

        #: The health checks: built-ins are registered; add the bot's own with ``register``.
        self.health = HealthCheckRegistry(
            timeout=cfg.health_check_timeout_seconds, clock=cfg.clock.time
        )
        for check in builtin_checks(self._state, cfg.clock, cfg.thresholds):
            self.health.register(check)
        grace = cfg.health_startup_grace_seconds
        self._health = HealthService(
            self.health,
            cache_seconds=cfg.health_cache_seconds,
            startup_grace_seconds=cfg.thresholds.heartbeat_critical_seconds
            if grace is None
            else grace,
            monotonic=cfg.clock.monotonic,
        )
        self._liveness = Liveness(self._state, cfg.clock, cfg.thresholds)
        self._pipeline = MetricPipeline(
            cfg, self._state, self._monitor, meter_provider, health=self._health.gauge_values
        )
        #: The Prometheus reader (see :mod:`trader_telemetry.readers`).
        self.reader = self._pipeline.reader
        #: The OTel SDK meter provider our instruments live on (ours, or the bot's).
        self.meter_provider = self._pipeline.provider
        instruments = self._pipeline.instruments
        self._cycle_hist = instruments.cycle_duration
        self._phase_hist = instruments.phase_duration
        self._order_latency_hist = instruments.order_latency
        self._tracing = self._start_tracing(tracing, slow_cycle_seconds)
        self._stale_watch: StaleMarkWatch | None = None
        self._metrics_file: MetricsFile | None = None
        self._start_files(cfg)
        # A CycleTimer holds no per-use state, so one instance serves every call. With tracing
        # on, every cycle ending goes through _end_cycle (no histogram for the fast path).
        self._timer = CycleTimer(
            self,
            self._state,
            self._monotonic,
            # Tracing and the events log need every cycle's ending: no fast path then.
            None if self._tracing is not None or self._events is not None else self._cycle_hist,
            self._tracing,
        )

        self._server: MetricsServer | None = None
        if cfg.serve:
            try:
                from .exposition.server import MetricsServer  # noqa: PLC0415

                self._server = MetricsServer(
                    self,
                    cfg.host,
                    cfg.port,
                    web_config=web_config,
                    limits=cfg.server_limits,
                    health_without_auth=cfg.health_without_auth,
                )
            except BaseException:
                self._abort_start()
                raise
        state = self._state
        #: SIGTERM flush, at-fork hook, systemd notify (see :mod:`trader_telemetry.lifecycle`).
        self._process_hooks = ProcessHooks(
            self, handle_sigterm=cfg.handle_sigterm, progress=lambda: state.last_cycle_end
        )

    def _abort_start(self) -> None:
        """Undo a construction that failed at the last step (a port in use): stop every thread
        started so far and write nothing (another instance may own the same files)."""
        self._closed = True
        if self._tracing is not None:
            self._tracing.shutdown(0.5)
        if self._events is not None:
            self._events.close(0.5)
        if self._metrics_file is not None:
            self._metrics_file.close(0.5, write_last=False)
        self._pipeline.release(1.0)

    def _start_files(self, cfg: TelemetryConfig) -> None:
        """events.jsonl, metrics.json and the stale-mark watch, when ``data_dir`` is set."""
        if cfg.data_dir is None:
            return
        from .events.metrics_file import MetricsFile  # noqa: PLC0415
        from .events.writer import EventLog  # noqa: PLC0415

        self._pipeline.instruments.scrape_time.activate(Component.EVENTS)

        # The writer thread calls snapshot(): its import happens here, on the caller's
        # thread, never first on a background one.
        from .exposition import snapshot as _  # noqa: F401, PLC0415

        state = self._state
        # Stale-mark incidents from the marks' ages, checked on the writer thread.
        self._stale_watch = StaleMarkWatch(
            state.marks,
            warning_seconds=cfg.thresholds.staleness_warning_seconds,
            monotonic=cfg.clock.monotonic,
            wall_time=cfg.clock.time,
            emit=self._emit,
        )
        self._events = EventLog(
            cfg.data_dir,
            wall_time=cfg.clock.time,
            on_drop=lambda reason, count: state.add(state.dropped_events, reason, count),
            on_error=self._monitor.count_error,
            queue_size=cfg.events_queue_size,
            rotate_daily=cfg.events_rotate_daily,
            max_bytes=cfg.events_max_bytes,
            # Secrets are scrubbed on the writer thread: the bot's call stays an append.
            transform=self._redactor.fields if self._redactor.enabled else None,
            each_round=self._stale_watch.check,
        )
        self._metrics_file = MetricsFile(
            os.path.join(cfg.data_dir, "metrics.json"),
            self.snapshot,
            interval=cfg.metrics_file_interval_seconds,
            on_error=self._monitor.count_error,
        )
        self._health.on_change = self._health_changed

    def _start_tracing(
        self, tracing: bool | TracingConfig, slow_cycle_seconds: float | None
    ) -> CycleTracing | None:
        if tracing is False or tracing is None:
            if slow_cycle_seconds is not None:
                raise ConfigurationError("slow_cycle_seconds needs tracing=True")
            return None
        # Imported here: tracing (and the OTel trace SDK) is optional, not in the light import.
        from .tracing import CycleTracing, TracingConfig  # noqa: PLC0415

        config = tracing if isinstance(tracing, TracingConfig) else TracingConfig()
        if slow_cycle_seconds is not None:
            config = replace(config, slow_cycle_seconds=slow_cycle_seconds)
        state = self._state
        self._pipeline.instruments.scrape_time.activate(Component.TRACING)
        return CycleTracing(
            config,
            namespace=self.config.namespace,
            profile=self.config.profile,
            default_slow_seconds=self.config.thresholds.cycle_duration_warning_seconds,
            on_drop=lambda reason, count: state.add(state.dropped_spans, reason, count),
            on_keep=lambda reason: state.add(state.kept_traces, reason, 1),
            # The native reader keeps exemplars across scrapes: withdraw those of lost traces.
            on_failed_traces=getattr(getattr(self.reader, "exemplars", None), "withdraw", None),
        )

    # ------------------------------------------------------------------ endpoint and lifecycle
    @property
    def metrics_url(self) -> str | None:
        """``http://host:port/metrics`` with the real port (useful with ``port=0``), or None when
        not serving."""
        return None if self._server is None else self._server.url + "/metrics"

    @property
    def tracer_provider(self) -> TracerProvider | None:
        """The OTel SDK tracer provider cycles are traced with (ours, or the one given in
        ``TracingConfig``), or None without tracing. Spans the bot makes from it, or through the
        global API after ``opentelemetry.trace.set_tracer_provider(telemetry.tracer_provider)``,
        join the running cycle's trace and are kept or dropped with it (docs/tracing.md)."""
        return None if self._tracing is None else self._tracing.provider

    @property
    def server_address(self) -> tuple[str, int] | None:
        """The ``(host, port)`` the endpoint is bound to, or None when not serving."""
        return None if self._server is None else self._server.address

    def render_metrics(self, accept: str | None = None) -> Exposition:
        """Collect and render ``/metrics`` now (text, or OpenMetrics when ``accept`` asks)."""
        self._run_refresh_hooks()
        return self.reader.render(accept)

    def snapshot(self) -> dict[str, Any]:
        """The ``/metrics.json`` document (docs/events.md) as a dict."""
        self._run_refresh_hooks()
        from .exposition.snapshot import build_snapshot  # noqa: PLC0415 - cached after once

        document = build_snapshot(
            self._state,
            self.config,
            self._monitor,
            self.clock,
            self._pipeline.instruments.json_readings,
        )
        report = self._health.report()[0]
        document["health"] = {
            "status": report.status.value,
            "checks": {result.name: result.status.value for result in report.results},
        }
        return self._finite_json(document)

    def _finite_json(self, document: dict[str, Any]) -> dict[str, Any]:
        """Strict JSON whatever was recorded: a NaN or infinity still in ``document`` (a sum of
        finite values that overflowed, a check's details) becomes null and is counted."""
        from .exposition.snapshot import finite_json  # noqa: PLC0415 - cached after once

        clean, replaced = finite_json(document)
        if replaced:
            self._monitor.reject(
                "non_finite_json",
                "%d non-finite value(s) in a JSON document were written as null",
                replaced,
            )
        return clean  # type: ignore[no-any-return]

    def health_report(self) -> HealthReport:
        """Run the health checks (or reuse a report younger than ``health_cache_seconds``).

        Example:
            >>> telemetry = Telemetry(serve=False)
            >>> with telemetry.cycle_timer():
            ...     pass
            >>> telemetry.health_report().status
            <HealthStatus.HEALTHY: 'healthy'>
            >>> telemetry.shutdown()
        """
        return self._health.report()[0]

    def health_response(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON document) of ``GET /health``: 200 for healthy and degraded, 503
        for unhealthy, and for unknown once the start-up grace is over."""
        with contextlib.suppress(NotReadyError):  # health answers while data catches up
            self._run_refresh_hooks()
        code, document = self._health.http_response(self.config.namespace, self.config.profile)
        # Check messages may quote a secret; their details may hold an overflowed figure.
        return code, self._finite_json(self._redactor.fields(document))

    def liveness_response(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON document) of ``GET /livez``: the loop heartbeat and the running
        cycle's age only; 503 when the loop is dead or hung, never for a trading halt."""
        with contextlib.suppress(NotReadyError):  # liveness answers while data catches up
            self._run_refresh_hooks()
        return self._liveness.http_response(self.config.namespace, self.config.profile)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the endpoint and release the reader; idempotent, returns within ``timeout``
        seconds. Recording calls made afterwards are ignored."""
        with self._lifecycle_lock:
            if self._closed:
                return
            self._closed = True
        self._health.close()
        self._process_hooks.close()
        if self._server is not None:
            self._server.close(timeout=timeout / 3)
        if self._tracing is not None:
            self._tracing.shutdown(timeout / 4)
        if self._events is not None:
            self._events.close(timeout / 8)
        if self._metrics_file is not None:
            self._metrics_file.close(timeout / 8)
        self._pipeline.release(timeout / 4)

    def _forget_after_fork(self) -> None:
        """In a child made by ``os.fork()``: let the parent's port and files go, write nothing,
        and count the child's events as dropped (``reason="forked"``); see docs/reliability.md."""
        self._closed = True
        self._lifecycle_lock = threading.Lock()
        self._state.lock = threading.RLock()  # another parent thread may have held it
        self._process_hooks.forget()
        if self._server is not None:
            self._server.abandon()
        if self._events is not None:
            self._events.abandon("forked")
        if self._metrics_file is not None:
            self._metrics_file.close(0.0, write_last=False)

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` has run."""
        return self._closed

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        where = self.metrics_url or "not serving"
        return f"<Telemetry namespace={self.config.namespace!r} {where}>"

    # ------------------------------------------------------------------ cycles and phases
    def cycle_timer(self) -> CycleTimer:
        """A timer for one control-loop cycle: ``with``, ``async with`` or decorator.

        Example:
            >>> t = Telemetry(serve=False)
            >>> with t.cycle_timer() as cycle:
            ...     with cycle.phase("fetch_marks"):
            ...         pass
            >>> cycle.outcome
            'ok'
        """
        return self._timer

    def timed_cycle(self, func: F) -> F:
        """Decorator: each call of ``func`` (sync or async) is one cycle."""
        return decorate_cycle(func, self.cycle_timer)

    def phase(self, name: str) -> Phase:
        """Time a phase of the current cycle (found through contextvars; also works outside a
        cycle, recording only the phase histogram)."""
        return Phase(self, name, self._phase_attributes(name), current_cycle())

    def _cycle_fault(self, where: str, exc: BaseException) -> None:
        self._monitor.fault(where, exc)

    def _end_cycle(
        self, cycle: Cycle | None, exc: BaseException | None, end: float, duration: float
    ) -> None:
        """Every cycle ending the timer's fast path does not take: errors, interruptions, a
        clock that went backwards, and all cycles when tracing is on."""
        if cycle is None:
            self._monitor.fault("cycle_context_lost")
            return
        span = getattr(cycle, "_span", None)
        tracing = self._tracing
        if exc is not None and not isinstance(exc, Exception):
            # KeyboardInterrupt, SystemExit, CancelledError: not the bot's error and not a
            # completed cycle; they pass through untouched.
            cycle.outcome = "interrupted"
            if span is not None and tracing is not None:
                tracing.end_cycle(span, cycle._span_token, "interrupted", exc, None)
            return
        outcome = "ok" if exc is None else "error"
        cycle.outcome = outcome
        error_key = None
        if exc is not None:
            limiter = self._limiter("cycle_errors_total", "error_type")
            error_key = limiter.admit(type(exc).__name__)
        keep = None
        context = None
        if span is not None and tracing is not None:
            keep = tracing.verdict(duration if duration >= 0 else None, exc)
            # The exemplar must point at a trace that is exported: only kept cycles carry one.
            context = tracing.exemplar_context(span, keep)
        if duration < 0:
            self._monitor.reject(
                "negative_duration", "cycle duration %r s is negative (clock went back)", duration
            )
        else:
            cycle.duration = duration
            self._cycle_hist.record(duration, context=context)
        self._count_completed(end, duration, error_key)
        if span is not None and tracing is not None:
            tracing.end_cycle(span, cycle._span_token, outcome, exc, keep)
        if self._events is not None:
            self._emit("cycle", _cycle_fields(cycle, outcome, error_key))

    def _count_completed(self, end: float, duration: float, error_key: str | None) -> None:
        """A completed cycle (slow path): counts, last duration, last end."""
        state = self._state
        if error_key is None:
            state.ok_cycles.add()
        with state.lock:
            if error_key is not None:
                state.error_cycles += 1  # a slot store: atomic under the GIL, as bump()
                state.bump(state.cycle_errors, error_key)
            state.last_cycle_end = end
            if duration >= 0:
                state.last_cycle_seconds = duration

    def _health_changed(
        self, check: str, before: HealthStatus | None, after: HealthStatus, message: str
    ) -> None:
        previous = None if before is None else before.value
        self._emit(
            "health",
            {"check": check, "status": after.value, "previous": previous, "message": message},
        )

    def _phase_attributes(self, name: str) -> dict[str, str]:
        try:
            return {"phase": self._limiter("cycle_phase_duration_seconds", "phase").admit(name)}
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("phase", exc)
            return {"phase": "unknown"}

    def _begin_phase(self, phase: Phase) -> None:
        try:
            phase.start = self._monotonic()
            tracing, cycle = self._tracing, phase.cycle
            if tracing is not None and cycle is not None:
                parent = getattr(cycle, "_span", None)
                if parent is not None:
                    phase._span, phase._span_token = tracing.start_phase(phase.name, parent)
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("phase_begin", exc)

    def _end_phase(self, phase: Phase, exc: BaseException | None) -> None:
        try:
            duration = self._monotonic() - phase.start
            if duration < 0:
                self._monitor.reject(
                    "negative_duration", "phase %r duration %r s is negative", phase.name, duration
                )
                return
            phase.duration = duration
            # With tracing on, the phase's trace may yet be dropped: no exemplar for phases.
            context = None if self._tracing is None else self._tracing.NO_EXEMPLAR
            self._phase_hist.record(duration, phase.attributes, context=context)
            if phase._span is not None and self._tracing is not None:
                self._tracing.end_phase(phase._span, phase._span_token, exc)
            if phase.cycle is not None:
                phases = phase.cycle.phases
                phases[phase.name] = phases.get(phase.name, 0.0) + duration
        except Exception as fault:  # noqa: BLE001
            self._monitor.fault("phase_end", fault)

    # ------------------------------------------------------------------ sources outside the bot
    def add_refresh_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` before each ``/metrics``, ``/metrics.json`` and ``/health`` answer.

        For state brought up to date lazily, such as the file exporter reading the bot's files.
        A hook that raises is counted in ``{ns}_telemetry_errors_total``; the answer goes out.

        Example:
            >>> t = Telemetry(serve=False)
            >>> t.add_refresh_hook(lambda: t.record_account(equity=1.0))
            >>> t.snapshot()["account_snapshot"]["equity"]
            1.0
        """
        self._refresh_hooks = (*self._refresh_hooks, hook)

    def _run_refresh_hooks(self) -> None:
        for hook in self._refresh_hooks:
            try:
                hook()
            except NotReadyError:
                raise  # the endpoint answers 503 + Retry-After rather than partial data
            except Exception as exc:  # noqa: BLE001 - a scrape is answered whatever a hook does
                self._monitor.fault("refresh_hook", exc)

    def observe_component(
        self,
        component: Component,
        producers: Mapping[str, Producer],
        *,
        specs: Iterable[MetricSpec] | None = None,
    ) -> None:
        """Add the observable catalogue rows of ``component`` (e.g. the file exporter's
        ``exporter_*``), read at each collection from ``producers``: row name -> function
        returning ``[(label values, value), ...]``. Same catalogue, same OTel path as the core.
        ``specs``: rows outside the catalogue instead (the file exporter's compatibility names
        for GPT-Trader's old dashboards)."""
        meter = self.meter_provider.get_meter(METER_NAME, package_version())
        namespace, monitor = self.config.namespace, self._monitor
        register_observables(
            meter,
            component,
            namespace=namespace,
            monitor=monitor,
            producers=producers,
            specs=specs,
        )

    def record_cycle(
        self,
        duration_seconds: float | None,
        *,
        error_type: str | None = None,
        phases: Mapping[str, float] | None = None,
        at: float | None = None,
        counted: bool = True,
    ) -> None:
        """A cycle timed outside :meth:`cycle_timer` (e.g. a cycle event read from a file).

        Counted like a timed cycle: duration histogram, ``cycles_total`` (``error`` when
        ``error_type`` is given, with ``cycle_errors_total``), last duration and end, and each of
        ``phases`` (name -> seconds) in the phase histogram. ``at``: when it ended, in epoch
        seconds (default now). ``counted=False`` sets only the last duration and end (a
        snapshot's "last cycle took" figure). ``duration_seconds=None``: a cycle known to have
        completed at ``at`` whose duration is unknown (GPT-Trader's cycle rows): counted, and
        the heartbeat restarts from it, with no duration recorded.

        Example:
            >>> t = Telemetry(serve=False)
            >>> t.record_cycle(0.25, phases={"fetch_marks": 0.1})
            >>> t.snapshot()["cycle_metrics"]["count"]
            1
        """
        try:
            if duration_seconds is None:
                end = self._monotonic_at(at)
                if counted:
                    self._count_completed(end, -1.0, None)
                else:
                    with self._state.lock:
                        self._state.last_cycle_end = end
                return
            duration = self._check.number("cycle_duration_seconds", duration_seconds, minimum=0)
            if duration is None:
                return
            end = self._monotonic_at(at)
            if not counted:
                with self._state.lock:
                    self._state.last_cycle_seconds = duration
                    self._state.last_cycle_end = end
                return
            error_key = None
            if error_type is not None:
                error_key = self._limiter("cycle_errors_total", "error_type").admit(error_type)
            self._cycle_hist.record(duration)
            for name, seconds in (phases or {}).items():
                if (value := self._check.number("phase_seconds", seconds, minimum=0)) is not None:
                    self._phase_hist.record(value, self._phase_attributes(name))
            self._count_completed(end, duration, error_key)
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_cycle", exc)

    def record_mark_at(self, symbol: str, at: float, price: float | None = None) -> None:
        """A mark for ``symbol`` that arrived at ``at`` (epoch seconds), e.g. one read from
        ``metrics.json``: its staleness counts from then, not from now."""
        try:
            if symbol not in self._marks:
                symbol = self._limiter("market_data_staleness_seconds", "symbol").admit(symbol)
            self._marks[symbol] = self._monotonic_at(at)
            if price is not None:
                self._mark_prices[symbol] = price
        except Exception as exc:  # noqa: BLE001
            self._monitor.fault("record_mark_at", exc)


def _cycle_fields(cycle: Cycle, outcome: str, error_type: str | None) -> dict[str, Any]:
    """The ``cycle`` event: number, duration, outcome, error type and seconds per phase."""
    fields: dict[str, Any] = {
        "number": cycle.number,
        "duration_seconds": cycle.duration,
        "outcome": outcome,
    }
    if error_type is not None:
        fields["error_type"] = error_type
    if cycle._phases:
        fields["phases"] = dict(cycle._phases)
    return fields
