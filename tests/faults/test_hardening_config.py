"""Hardening of configuration (issue 18): names OTel would refuse or that carry a trailing
newline, and web config files that would block ``configure()`` (a bcrypt cost far too high),
fail every scrape (a header HTTP cannot carry) or lock a user out (``yes:`` read as True).
Each is tried while a bot runs on another Telemetry: a clear ``ConfigurationError`` at
configuration, nothing started, and the running bot never notices."""

from __future__ import annotations

import base64
import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import bcrypt
import pytest

import trader_telemetry as tt
from trader_telemetry.catalogue import CATALOGUE
from trader_telemetry.config import TelemetryConfig
from trader_telemetry.exposition.webconfig import load_web_config
from trader_telemetry.ops.options import OpsOptions

from .accounting import account
from .conftest import RecordRow, write_text
from .harness import BackgroundLoop, ledger_of, make_bot
from .summary import exceptions_verdict, loop_verdict, lost_verdict

MAX_CYCLE_COST = 0.25
#: OTel refuses instrument names over 255 characters; ours are ``{namespace}_{name}``.
MAX_NAMESPACE_LENGTH = 255 - 1 - max(len(spec.name) for spec in CATALOGUE)

BAD_NAMES = {
    "namespace with a trailing newline": {"namespace": "trader\n"},
    "namespace with a leading underscore": {"namespace": "_trader"},
    "namespace past OTel's 255 characters": {"namespace": "t" * (MAX_NAMESPACE_LENGTH + 1)},
    "profile with a trailing newline": {"profile": "prod\n"},
    "profile longer than a file name": {"profile": "p" * 256},
}


def test_names_otel_would_refuse(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Each bad name is a ``ConfigurationError`` naming the field, from ``TelemetryConfig``
    and from ``Telemetry`` alike (never OTel's bare ``Exception`` halfway through wiring);
    the longest namespace allowed works end to end."""
    running = make_telemetry()
    bot = make_bot(running)
    outcomes: dict[str, str] = {}
    with BackgroundLoop(bot, pause=0.002) as loop:
        assert loop.wait_cycles(20)
        for case, fields in BAD_NAMES.items():
            field = next(iter(fields))
            try:
                TelemetryConfig(**fields)  # type: ignore[arg-type]
                tt.Telemetry(serve=False, **fields)  # type: ignore[arg-type]
            except tt.ConfigurationError as error:
                named = f"TelemetryConfig.{field}" in str(error)
                outcomes[case] = "refused" if named else f"unclear: {error}"
            except Exception as error:
                outcomes[case] = f"{type(error).__name__}: {str(error)[:80]}"
            else:
                outcomes[case] = "accepted"
        longest = make_telemetry(namespace="t" * MAX_NAMESPACE_LENGTH)
        longest.record_order("BTC-PERP", "buy")
        body = longest.render_metrics().body.decode()
        assert loop.wait_cycles(20)
    wrong = {case: outcome for case, outcome in outcomes.items() if outcome != "refused"}
    row = fault_row(
        "names OTel would refuse",
        loop=loop_verdict(loop.stats, min_cycles=40, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(account(running, ledger_of(bot))),
        notes=[f"{len(outcomes) - len(wrong)}/{len(outcomes)} refused at configuration"],
    )
    row.check()
    assert not wrong, wrong
    assert f"{'t' * MAX_NAMESPACE_LENGTH}_orders_submitted_total" in body


def cost_4_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def with_cost(hashed: str, cost: int) -> str:
    """A well-formed bcrypt hash claiming ``cost`` (made from a cheap one: making a real
    cost-16 hash takes seconds, checking against it would too)."""
    return f"{hashed[:4]}{cost:02d}{hashed[6:]}"


def users_file(path: Path, **users: str) -> Path:
    lines = "".join(f"  {user}: '{hashed}'\n" for user, hashed in users.items())
    return write_text(path, "basic_auth_users:\n" + lines)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def status(url: str, authorization: str | None = None) -> int:
    """The HTTP status of a GET, or 0 when no answer came at all."""
    request = urllib.request.Request(url)
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code
    except (OSError, http.client.HTTPException):
        return 0


def test_web_configs_that_would_hurt_the_bot(
    tmp_path: Path, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """A bcrypt cost of 17 is refused at load; at 16, ``configure()`` does not wait for a
    decoy hash; a header value HTTP cannot carry (U+2014) is refused at load instead of
    failing every scrape; users called ``yes`` and ``on`` (YAML 1.1 booleans) keep their
    names and log in."""
    running = make_telemetry()
    bot = make_bot(running)
    cheap = cost_4_hash("pw")
    results: dict[str, str] = {}
    with BackgroundLoop(bot, pause=0.002) as loop:
        assert loop.wait_cycles(20)

        too_costly = users_file(tmp_path / "cost17.yml", u=with_cost(cheap, 17))
        try:
            load_web_config(too_costly)
            results["cost 17"] = "accepted"
        except tt.ConfigurationError as error:
            results["cost 17"] = "refused" if "cost 17 is above 16" in str(error) else str(error)

        costly = users_file(tmp_path / "cost16.yml", u=with_cost(cheap, 16))
        began = time.perf_counter()
        secured = make_telemetry(port=0, web_config=str(costly))
        took = time.perf_counter() - began
        results["cost 16"] = f"configured in {took:.2f} s"
        secured.shutdown()

        header = write_text(
            tmp_path / "header.yml",
            "http_server_config:\n  headers:\n    X-Frame-Options: 'deny \u2014 always'\n",
        )
        try:
            telemetry = make_telemetry(port=0, web_config=str(header))
            assert telemetry.metrics_url is not None
            results["U+2014 header"] = f"accepted; a scrape got {status(telemetry.metrics_url)}"
        except tt.ConfigurationError as error:
            results["U+2014 header"] = "refused" if "X-Frame-Options" in str(error) else str(error)

        users = write_text(
            tmp_path / "users.yml",
            f"basic_auth_users:\n  yes: '{cheap}'\n  on: '{cost_4_hash('other')}'\n",
        )
        telemetry = make_telemetry(port=0, web_config=str(users))
        assert telemetry.metrics_url is not None
        logins = (
            status(telemetry.metrics_url, basic("yes", "pw")),
            status(telemetry.metrics_url, basic("on", "other")),
            status(telemetry.metrics_url, basic("True", "other")),
        )
        results["users yes and on"] = f"yes {logins[0]}, on {logins[1]}, True {logins[2]}"
        assert loop.wait_cycles(20)
    expected = {
        "cost 17": "refused",
        "U+2014 header": "refused",
        "users yes and on": "yes 200, on 200, True 401",
    }
    wrong = {k: results[k] for k, v in expected.items() if results[k] != v}
    if took >= 1.0:
        wrong["cost 16"] = results["cost 16"]
    row = fault_row(
        "web configs that would hurt the bot",
        loop=loop_verdict(loop.stats, min_cycles=40, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(account(running, ledger_of(bot))),
        notes=[f"{len(results) - len(wrong)}/{len(results)} handled at configuration"],
    )
    row.check()
    assert not wrong, wrong


@pytest.mark.parametrize(
    "user", ["yes", "no", "on", "off", "true", "null", "017", "1_000", "0x1F", "1e3", "~"]
)
def test_user_names_are_taken_as_written(tmp_path: Path, user: str) -> None:
    """Go's YAML (the exporter-toolkit's) reads these keys as the strings written; so do we."""
    hashed = cost_4_hash("pw")
    config = load_web_config(
        write_text(tmp_path / "web.yml", f"basic_auth_users:\n  {user}: '{hashed}'\n")
    )
    assert config.auth is not None
    assert config.auth.users == (user,)
    assert config.auth.verify(user, "pw")


def test_a_user_named_twice_is_refused(tmp_path: Path) -> None:
    hashed = cost_4_hash("pw")
    text = f"basic_auth_users:\n  u: '{hashed}'\n  u: '{hashed}'\n"
    path = write_text(tmp_path / "web.yml", text)
    with pytest.raises(tt.ConfigurationError, match="'u' appears twice"):
        load_web_config(path)


@pytest.mark.parametrize("value", ["tab\there", "caf\u00e9", "deny"])
def test_header_values_http_can_carry_are_kept(tmp_path: Path, value: str) -> None:
    path = write_text(
        tmp_path / "web.yml", f"http_server_config:\n  headers:\n    X-Frame-Options: '{value}'\n"
    )
    assert load_web_config(path).headers == (("X-Frame-Options", value),)


@pytest.mark.parametrize("value", ["\u2014", "\U0001f600", "bell\x07", "del\x7f"])
def test_header_values_http_cannot_carry_are_refused(tmp_path: Path, value: str) -> None:
    escaped = value.encode("unicode_escape").decode()
    path = write_text(
        tmp_path / "web.yml",
        f'http_server_config:\n  headers:\n    X-Frame-Options: "{escaped}"\n',
    )
    with pytest.raises(tt.ConfigurationError, match="X-Frame-Options"):
        load_web_config(path)


def test_the_per_client_cap_comes_from_the_environment() -> None:
    env = {"TRADER_TELEMETRY_HTTP_MAX_CONNECTIONS_PER_CLIENT": "3"}
    assert TelemetryConfig.from_env(env).server_limits.max_connections_per_client == 3
    with pytest.raises(tt.ConfigurationError, match="max_connections_per_client"):
        TelemetryConfig.from_env({"TRADER_TELEMETRY_HTTP_MAX_CONNECTIONS_PER_CLIENT": "0"})


@pytest.mark.parametrize(
    "fields",
    [{"namespace": "bot\n"}, {"namespace": "_bot"}, {"job": "bot\n"}, {"targets": ("h:9000\n",)}],
)
def test_ops_render_names_are_checked_whole(fields: dict[str, object]) -> None:
    """``ops render`` used the same ``$``-anchored patterns: a trailing newline went into the
    rendered YAML."""
    with pytest.raises(tt.ConfigurationError):
        OpsOptions(**fields)  # type: ignore[arg-type]
