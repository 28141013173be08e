"""What a clumsy or hostile bot hands the recording calls (issue 18): events that cannot be
encoded, text UTF-8 cannot carry, sums that overflow, fields named like the envelope, a disk
that fails at shutdown, a data_dir with ``~`` or that is a file, and misused arguments.

Each case runs the demo bot with the fault inside its cycles and checks the three verdicts:
the loop kept cycling, the bot's exceptions came out unchanged, nothing was lost uncounted.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import trader_telemetry as tt
from tests.conftest import samples
from trader_telemetry.events import ReadStats, read_events

from .accounting import account, event_counts, settle_events
from .conftest import RecordRow
from .harness import (
    BackgroundLoop,
    http_get,
    inject,
    ledger_of,
    make_bot,
    run_loop,
    silence_health,
)
from .summary import Verdict, exceptions_verdict, loop_verdict, lost_verdict

MAX_CYCLE_COST = 0.25
SECRET = "tok-4711"  # noqa: S105 - the secret the cases hunt for


def base_url(telemetry: tt.Telemetry) -> str:
    assert telemetry.metrics_url is not None
    return telemetry.metrics_url.removesuffix("/metrics")


class RaisingStr:
    """An object whose ``str()`` raises (with a secret in the message)."""

    def __str__(self) -> str:
        raise RuntimeError(f"cannot show myself, token={SECRET}")


def writer_alive(telemetry: tt.Telemetry) -> bool:
    return any(t.name == "trader-telemetry-events" and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("redaction", [True, False], ids=["redacted", "unredacted"])
def test_unencodable_events(
    tmp_path: Path,
    make_telemetry: Callable[..., tt.Telemetry],
    fault_row: RecordRow,
    capfd: pytest.CaptureFixture[str],
    redaction: bool,
) -> None:
    """Every cycle the bot logs four events JSON cannot encode (a tuple key, a bytes key, a
    ``__str__`` that raises, a circular dict) between good ones: each bad one is dropped and
    counted as ``unencodable`` (with redaction on, the circular dict is cut at depth 8 and
    written), the good ones of the same batch are written, the writer thread lives on, and
    no traceback or secret reaches stderr."""
    config: dict[str, object] = {} if redaction else {"redact_keys": ()}
    telemetry = make_telemetry(data_dir=tmp_path, **config)
    silence_health(telemetry)
    bot = make_bot(telemetry)
    t = bot.telemetry

    def bad_events(n: int) -> None:
        circular: dict[str, object] = {"n": n}
        circular["self"] = circular
        t.event("good", n=n)
        t.event("tuple_key", positions={("BTC-PERP", "long"): 1.0})
        t.event("bytes_key", raw={b"\x00key": 1})
        t.event("raising_str", order=RaisingStr())
        t.event("circular", state=circular)
        t.event("good", n=n)

    inject(bot, bad_events)
    stats = run_loop(bot, cycles=200)
    accounting = settle_events(telemetry, ledger_of(bot), tmp_path)
    bad_per_cycle = 3 if redaction else 4
    unencodable = accounting.dropped.get("events:unencodable", 0)
    written = event_counts(tmp_path)
    alive = writer_alive(telemetry)
    stderr = capfd.readouterr().err
    row = fault_row(
        f"unencodable events ({'redaction on' if redaction else 'redaction off'})",
        loop=loop_verdict(stats, min_cycles=200, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            accounting.nothing_lost and unencodable == bad_per_cycle * stats.cycles,
            f"{accounting.summary()} (expected unencodable={bad_per_cycle * stats.cycles})",
        ),
        notes=[f"writer alive: {'yes' if alive else 'NO'}, good lines {written['good']}"],
    )
    row.check()
    assert alive
    assert written["good"] == 2 * stats.cycles
    assert written["circular"] == (stats.cycles if redaction else 0)
    assert "Traceback" not in stderr
    assert SECRET not in stderr


def test_lone_surrogates_in_labels(
    make_telemetry: Callable[..., tt.Telemetry],
    fault_row: RecordRow,
) -> None:
    """Every cycle brings a symbol, a websocket stream and a phase name with a lone surrogate
    (what undecodable bytes become under ``surrogateescape``), while ``/metrics`` and
    ``/metrics.json`` are scraped: every scrape answers 200 with valid UTF-8, and each bad
    value is recorded with U+FFFD and counted as ``invalid_utf8``."""
    telemetry = make_telemetry(port=0)
    bot = make_bot(telemetry)
    t = bot.telemetry
    base = base_url(telemetry)

    bad_values = [0]

    def surrogates(n: int) -> None:
        bad_values[0] += 3
        t.record_rejection("BTC\udcff-PERP", "post_only")
        t.record_ws_reconnect("feed\ud800")
        with t.phase("sign\udc80"):
            pass

    inject(bot, surrogates)
    answers: list[tuple[int, bytes]] = []
    with BackgroundLoop(bot, pause=0.002) as loop:
        for _ in range(20):
            assert loop.wait_cycles(3)
            answers.append(http_get(base + "/metrics"))
            answers.append(http_get(base + "/metrics.json"))
    accounting = account(telemetry, ledger_of(bot))
    failed = [status for status, _ in answers if status != 200]
    bodies_ok = all(body.decode("utf-8") for _, body in answers)
    expected = bad_values[0]
    exposition = answers[-2][1].decode()
    row = fault_row(
        "lone surrogates in label values and phase names",
        loop=loop_verdict(loop.stats, min_cycles=60, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=Verdict(
            accounting.nothing_lost and accounting.rejected == {"invalid_utf8": expected},
            f"{accounting.summary()} (expected invalid_utf8={expected})",
        ),
        notes=[f"{len(answers) - len(failed)}/{len(answers)} scrapes 200"],
    )
    row.check()
    assert not failed, failed
    assert bodies_ok
    assert 'symbol="BTC\ufffd-PERP"' in exposition
    assert 'phase="sign\ufffd"' in exposition


def test_secrets_in_headers_urls_and_cookies(
    tmp_path: Path,
    make_telemetry: Callable[..., tt.Telemetry],
    fault_row: RecordRow,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every cycle the bot passes an ``Authorization`` header, a cookie, URL credentials, a
    JSON-escaped and a URL-encoded password through reasons, stream names, event fields and a
    health check's message: none of the secrets reaches ``/metrics``, ``/metrics.json``,
    ``/health``, ``events.jsonl`` or the logs."""
    telemetry = make_telemetry(port=0, data_dir=tmp_path, max_label_values=50)
    silence_health(telemetry)

    class LeakyCheck:
        name = "venue_auth"

        def check(self) -> tt.HealthCheckResult:
            return tt.HealthCheckResult(
                self.name,
                tt.HealthStatus.DEGRADED,
                "probe sent Proxy-Authorization: Negotiate neg-4711 and got 200",
                details={"request": {"Cookie": "session=ck-4711"}},
            )

    bot = make_bot(telemetry)
    t = bot.telemetry
    secrets = ("bearer-4711", "basic-4711", "ck-4711", "pw-4711", "pp-4711", "enc-4711")

    def leak(n: int) -> None:
        t.record_rejection("BTC-PERP", "401 with Authorization: Bearer bearer-4711")
        t.record_ws_reconnect("wss://alice:pw-4711@feed.example/ws")
        t.event(
            "http_error",
            headers={"Authorization": "Basic basic-4711", "Set-Cookie": "id=ck-4711; Secure"},
            request_line="GET /login?user=bob&password%3Denc-4711 HTTP/1.1",
            body='{"payload": "{\\"passphrase\\": \\"pp-4711\\"}"}',
            note="retry with Cookie: session=ck-4711; theme=dark",
        )

    inject(bot, leak)
    with BackgroundLoop(bot, pause=0.002) as loop:
        assert loop.wait_cycles(30)
        telemetry.health.register(LeakyCheck())
        ledger_of(bot).add("health_checks", "health")  # its first report is a health event
        base = base_url(telemetry)
        answers = [http_get(base + route) for route in ("/metrics", "/metrics.json", "/health")]
        telemetry.health.unregister("venue_auth")
        assert loop.wait_cycles(20)
    accounting = settle_events(telemetry, ledger_of(bot), tmp_path)
    texts = {
        route: body.decode()
        for route, (_, body) in zip(("metrics", "json", "health"), answers, strict=True)
    }
    texts["events.jsonl"] = (tmp_path / "events.jsonl").read_text()
    texts["log"] = caplog.text
    leaked = sorted(
        {
            f"{secret} in {where}"
            for where, text in texts.items()
            for secret in secrets
            if secret in text
        }
    )
    row = fault_row(
        "secrets in Authorization, cookies and URLs",
        loop=loop_verdict(loop.stats, min_cycles=50, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(accounting),
        notes=[f"leaks: {', '.join(leaked) or 'none'}"],
    )
    row.check()
    assert not leaked, leaked
    assert "Authorization: [REDACTED]" in texts["metrics"]
    assert "wss://alice:[REDACTED]@feed.example/ws" in texts["metrics"]
    assert '"Authorization":"[REDACTED]"' in texts["events.jsonl"]


def test_sums_that_overflow(
    tmp_path: Path, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Every cycle records finite PnL parts whose sum overflows to infinity and a loss whose
    ratio to a tiny limit overflows, while ``/metrics.json`` and ``/health`` are fetched:
    each answer is strict JSON (the totals null), each overflow is counted, and the last
    ``metrics.json`` parses too."""
    telemetry = make_telemetry(
        port=0, data_dir=tmp_path, metrics_file_interval_seconds=0.02, health_cache_seconds=0
    )
    bot = make_bot(telemetry)
    t = bot.telemetry

    def overflow(n: int) -> None:
        t.record_account(realized_pnl=1.5e308, unrealized_pnl=1.5e308)
        t.record_daily_loss(1e308, limit=1e-300)

    inject(bot, overflow)
    base = base_url(telemetry)
    answers: list[tuple[int, bytes]] = []
    with BackgroundLoop(bot, pause=0.002) as loop:
        for _ in range(15):
            assert loop.wait_cycles(3)
            answers += [http_get(base + "/metrics.json"), http_get(base + "/health")]
    overflow(0)  # leave the state overflowed for the last metrics.json
    accounting = account(telemetry, ledger_of(bot))
    bad: list[str] = []
    for status, body in answers:
        try:
            json.loads(body, parse_constant=bad.append)
        except ValueError:
            bad.append(f"{status} {body[:60]!r}")
    telemetry.shutdown()
    last = (tmp_path / "metrics.json").read_text()
    json.loads(last, parse_constant=lambda name: bad.append(f"metrics.json {name}"))
    overflows = accounting.rejected.get("overflow", 0)
    row = fault_row(
        "sums of finite values that overflow",
        loop=loop_verdict(loop.stats, min_cycles=45, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=Verdict(
            accounting.nothing_lost and overflows >= 2 * loop.stats.cycles,
            f"{accounting.summary()} (expected overflow >= {2 * loop.stats.cycles})",
        ),
        notes=[f"{len(answers) - len(bad)}/{len(answers)} JSON answers strict"],
    )
    row.check()
    assert not bad, bad
    assert json.loads(last)["account_snapshot"]["total_pnl"] is None


def test_event_fields_named_like_the_envelope(
    tmp_path: Path, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Every cycle the bot logs events with fields named ``timestamp`` and ``event_type``:
    nothing raises, the envelope stays the library's, the fields are kept as ``field_*``,
    and each is counted as ``reserved_field``."""
    telemetry = make_telemetry(data_dir=tmp_path)
    silence_health(telemetry)
    bot = make_bot(telemetry)
    ledger = ledger_of(bot)
    real = telemetry

    def reserved(n: int) -> None:
        ledger.add("bot_events", "note")
        real.event("note", timestamp="yesterday", n=n)
        ledger.add("bot_events", "note")
        real.event("note", event_type="forged", n=n)

    inject(bot, reserved)
    stats = run_loop(bot, cycles=150)
    accounting = settle_events(telemetry, ledger, tmp_path)
    read = ReadStats()
    notes = [
        e for e in read_events(tmp_path / "events.jsonl", stats=read) if e.event_type == "note"
    ]
    forged = sum(1 for e in notes if e.fields.get("field_event_type") == "forged")
    renamed = sum(1 for e in notes if e.fields.get("field_timestamp") == "yesterday")
    row = fault_row(
        "event fields named timestamp / event_type",
        loop=loop_verdict(stats, min_cycles=150, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            accounting.nothing_lost
            and accounting.rejected.get("reserved_field") == 2 * stats.cycles,
            f"{accounting.summary()} (expected reserved_field={2 * stats.cycles})",
        ),
        notes=[f"{len(notes)} note lines, {forged} forged type kept as a field"],
    )
    row.check()
    assert forged == renamed == stats.cycles
    assert read.corrupt == read.bad_timestamp == read.missing_type == 0


def test_disk_fails_at_shutdown(
    tmp_path: Path, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """``events.jsonl`` is a symlink to /dev/full (every write: ENOSPC) and stays so through
    ``shutdown()``: the events kept for a retry cannot be written by the last round either,
    and are counted as dropped, not silently forgotten."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "events.jsonl").symlink_to("/dev/full")
    telemetry = make_telemetry(data_dir=data_dir, events_queue_size=300)
    silence_health(telemetry)
    bot = make_bot(telemetry)
    stats = run_loop(bot, cycles=150)
    ledger = ledger_of(bot)
    before = account(telemetry, ledger)  # the metrics, while the reader still answers
    telemetry.shutdown()
    state = telemetry._state
    dropped = sum(state.dropped_events.values())
    expected = sum(ledger.events.values())
    lost = expected - dropped  # nothing can have been written to /dev/full
    row = fault_row(
        "disk failing through shutdown (events.jsonl -> /dev/full)",
        loop=loop_verdict(stats, min_cycles=150, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            before.nothing_lost and lost == 0,
            f"lost {lost} of {expected} events; dropped "
            + ", ".join(f"{k}={v}" for k, v in sorted(state.dropped_events.items())),
        ),
    )
    row.check()


def test_events_writer_stuck_at_shutdown(
    tmp_path: Path, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """The writer hangs inside a round (its redaction step blocks, as a hung disk would)
    when ``shutdown()`` comes: ``shutdown`` returns on time, and every event the writer will
    never reach is counted as dropped (``shutdown``); the one it was holding is written once
    it is released."""
    release = threading.Event()
    entered = threading.Event()
    telemetry = make_telemetry(data_dir=tmp_path)
    silence_health(telemetry)
    bot = make_bot(telemetry)
    stats = run_loop(bot, cycles=100)
    ledger = ledger_of(bot)
    events = telemetry._events
    assert events is not None
    assert events.flush()

    def hang(fields: dict[str, object]) -> dict[str, object]:
        entered.set()
        release.wait(10)
        return fields

    events._transform = hang
    run_loop(bot, cycles=150, first=101, stats=stats)
    assert entered.wait(5)
    before = account(telemetry, ledger)
    with_timeout = threading.Thread(target=telemetry.shutdown, kwargs={"timeout": 0.8})
    with_timeout.start()
    with_timeout.join(5)
    returned = not with_timeout.is_alive()
    release.set()
    events._thread.join(5)
    written = sum(event_counts(tmp_path).values())
    dropped = sum(telemetry._state.dropped_events.values())
    expected = sum(ledger.events.values())
    row = fault_row(
        "events writer stuck at shutdown",
        loop=loop_verdict(stats, min_cycles=150, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            before.nothing_lost and written + dropped == expected,
            f"lost {expected - written - dropped} of {expected} events; written {written}, "
            f"dropped {dict(telemetry._state.dropped_events)}",
        ),
        notes=[f"shutdown returned: {'yes' if returned else 'NO'}"],
    )
    row.check()
    assert returned
    assert telemetry._state.dropped_events.get("shutdown", 0) > 0


def test_data_dir_with_tilde_or_a_regular_file(
    tmp_path: Path,
    make_telemetry: Callable[..., tt.Telemetry],
    fault_row: RecordRow,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``data_dir="~/bot-data"`` writes under the home directory (not a ``./~`` directory);
    a data_dir that is a regular file is a ``ConfigurationError`` naming the field, raised
    before any thread starts."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    telemetry = make_telemetry(data_dir="~/bot-data")
    silence_health(telemetry)
    bot = make_bot(telemetry)
    stats = run_loop(bot, cycles=100)
    accounting = settle_events(telemetry, ledger_of(bot), home / "bot-data")
    a_file = tmp_path / "events-here"
    a_file.write_text("not a directory\n")
    threads = threading.active_count()
    with pytest.raises(tt.ConfigurationError, match=r"data_dir .*regular file") as refused:
        make_telemetry(data_dir=str(a_file))
    row = fault_row(
        "data_dir with ~, and a data_dir that is a file",
        loop=loop_verdict(stats, min_cycles=100, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=lost_verdict(accounting),
        notes=[f"refused: {str(refused.value)[:60]}..."],
    )
    row.check()
    assert not (tmp_path / "~").exists()
    assert threading.active_count() == threads
    assert a_file.read_text() == "not a directory\n"


def test_misused_recording_calls(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Every cycle the bot passes ``marks.items()`` to ``record_marks``, the string ``"no"``
    to ``set_circuit_breaker`` and its signed PnL (negative) as the daily loss: the pairs are
    recorded as marks, the string is rejected (``not_a_bool``) and the breaker keeps the
    bot's real state, the negative loss is recorded as 0 and counted
    (``negative_daily_loss``)."""
    telemetry = make_telemetry()
    bot = make_bot(telemetry)
    t = bot.telemetry
    ledger = ledger_of(bot)
    wrong_state: list[int] = []

    def misuse(n: int) -> None:
        t.record_marks(bot.marks.items())
        telemetry.set_circuit_breaker("no")  # type: ignore[arg-type]
        if telemetry._state.breaker_triggered != ledger.breaker:
            wrong_state.append(n)
        t.record_daily_loss(-50.0, limit=1_500.0)

    inject(bot, misuse)
    stats = run_loop(bot, cycles=200)
    accounting = account(telemetry, ledger)
    found = samples(telemetry)
    symbols = sorted(
        dict(labels)["symbol"]
        for (name, labels) in found
        if name == "fault_market_data_staleness_seconds"
    )
    loss = found.get(("fault_risk_daily_loss", frozenset()))
    expected = {"not_a_bool": stats.cycles, "negative_daily_loss": stats.cycles}
    got = {k: accounting.rejected.get(k, 0) for k in expected}
    row = fault_row(
        "misused calls: marks.items(), breaker 'no', signed PnL as loss",
        loop=loop_verdict(stats, min_cycles=200, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            accounting.nothing_lost and got == expected and not wrong_state,
            f"{accounting.summary()} (expected {expected}); breaker wrong in "
            f"{len(wrong_state)} cycles",
        ),
        notes=[f"symbols {symbols}"],
    )
    row.check()
    assert symbols == sorted(bot.marks), symbols
    assert loss is not None
    assert loss >= 0
    assert not math.isnan(loss)
