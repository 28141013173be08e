"""Secrets stay out of what the library writes: label values, event fields and its own logs.

A :class:`Redactor` knows a set of key names (``key``, ``secret``, ``token``, ``password``,
``passphrase``, ``private_key``, ``authorization``, ``cookie`` by default). It replaces:

* the value of any mapping entry whose *key* matches (``{"api_key": "abc"}``), recursively;
* ``NAME=value`` / ``NAME: value`` / ``"NAME": "value"`` pairs inside free text whose name
  matches (``"login failed: token=abc"``, a URL's ``?api_key=abc``), also JSON-escaped
  (``\\"token\\": \\"abc\\"``) and URL-encoded (``token%3Dabc``, ``%22token%22%3A%22abc%22``);
  a value that starts with an auth scheme (``token=Bearer abc``) loses scheme and credential;
* the whole rest of the line after an ``Authorization``, ``Proxy-Authorization``, ``Cookie`` or
  ``Set-Cookie`` style name (``Authorization: Basic dXNlcjpw``, ``Cookie: a=1; b=2``);
* the password of a URL's ``user:password@`` and the credential after ``Bearer`` anywhere;
* every value of a label whose *label name* matches.

A key matches a name when the name's words appear in the key's words (``api_key``, ``apiKey``,
``X-Api-Key``, ``private_keys`` all match ``key``), or when the key, with separators removed,
ends with it (``apikey``). The rule errs towards redacting: ``monkey`` matches ``key`` too.
A bare secret with no key next to it cannot be recognised and is not redacted.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .cardinality import OVERFLOW, LabelLimiter, valid_utf8
from .config import DEFAULT_REDACT_KEYS  # the default of TelemetryConfig.redact_keys
from .selfmonitor import SelfMonitor

__all__ = [
    "DEFAULT_REDACT_KEYS",
    "REDACTED",
    "RedactingLabelLimiter",
    "Redactor",
    "install_log_redaction",
]

#: What a redacted value becomes.
REDACTED = "[REDACTED]"

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^A-Za-z0-9]+")
_MEMO_LIMIT = 4096  # distinct strings remembered per redactor (label values, key names)
_MAX_DEPTH = 8  # nested event fields deeper than this are replaced whole


def _words(name: str) -> tuple[str, ...]:
    """``"X-Api-Keys"`` -> ``("x", "api", "key")``: lower-case words, one plural ``s`` off."""
    spaced = _NON_WORD.sub(" ", _CAMEL.sub(" ", name)).lower().split()
    return tuple(_singular(word) for word in spaced)


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


class Redactor:
    """Redacts values stored under the configured key names.

    Args:
        keys: Key names to redact; empty turns redaction off.

    Example:
        >>> r = Redactor()
        >>> r.fields({"symbol": "BTC-PERP", "api_key": "abc123"})
        {'symbol': 'BTC-PERP', 'api_key': '[REDACTED]'}
        >>> r.text("login failed: token=abc123 for alice")
        'login failed: token=[REDACTED] for alice'
    """

    def __init__(self, keys: Iterable[str] = DEFAULT_REDACT_KEYS) -> None:
        self.keys: tuple[str, ...] = tuple(dict.fromkeys(k for k in keys if k))
        self._names = [_words(k) for k in self.keys]
        self._compact = ["".join(words) for words in self._names]
        self._key_memo: dict[str, bool] = {}
        self._text_memo: dict[str, str] = {}
        self._lock = threading.RLock()  # re-entrant: a signal handler may record meanwhile
        # Cheap pre-check: most strings contain none of the names (nor a URL or a bearer
        # token) at all. Substring tests on the lower-cased text: a case-insensitive regex
        # alternation costs about 0.6 µs per character of text, these about 0.02.
        self._needles: tuple[str, ...] = ()
        if self.keys:
            needles = {k.lower() for k in self.keys} | set(self._compact) | {"://", "bearer"}
            self._needles = tuple(sorted(n for n in needles if n))

    @property
    def enabled(self) -> bool:
        """False when no key names are configured."""
        return bool(self._needles)

    def matches(self, key: str) -> bool:
        """Whether values stored under ``key`` are redacted.

        Example:
            >>> r = Redactor(["key", "token"])
            >>> r.matches("apiKey"), r.matches("X-Auth-Token"), r.matches("symbol")
            (True, True, False)
        """
        known = self._key_memo.get(key)
        if known is not None:
            return known
        words = _words(key)
        compact = _singular("".join(words))
        found = any(
            _contains(words, name) or (compact.endswith(flat) and flat)
            for name, flat in zip(self._names, self._compact, strict=True)
        )
        if len(self._key_memo) < _MEMO_LIMIT:
            self._key_memo[key] = bool(found)
        return bool(found)

    def text(self, value: str) -> str:
        """``value`` with every ``NAME=secret`` / ``NAME: secret`` pair's secret replaced, and
        URL passwords and bearer tokens (see the module's description)."""
        if not self._needles:
            return value
        lowered = value.lower()
        if not any(needle in lowered for needle in self._needles):
            return value
        patterns = _patterns()
        if "@" in value and "://" in value:
            value = patterns.url_userinfo.sub(rf"\g<head>{REDACTED}@", value)
        parts: list[str] = []
        done = 0
        # Keys are found on their own (values are not consumed), so a pair hidden inside
        # another pair's value (``url=https://h/?token=abc``) is still seen.
        for pair in patterns.key_sep.finditer(value):
            key = pair.group("key")
            if pair.start() < done or not self.matches(key):
                continue
            secret = _value_span(patterns, value, pair.end(), whole_line=_is_header(key))
            if secret is None:
                continue
            start, end = secret  # quotes stay where they are
            parts += (value[done:start], REDACTED)
            done = end
        if parts:
            parts.append(value[done:])
            value = "".join(parts)
        if "bearer" in lowered:  # a bearer token with no name before it (the pairs are done)
            value = patterns.bearer.sub(rf"\g<scheme>{REDACTED}", value)
        return value

    def label(self, label_name: str, value: str) -> str:
        """A label value as it may be exported: all of it when the label's name matches,
        else its ``NAME=secret`` pairs. Remembers recent answers (label values repeat)."""
        if not self._needles:
            return value
        if self.matches(label_name):
            return REDACTED
        return self.remembered_text(value)

    def remembered_text(self, value: str) -> str:
        """:meth:`text`, remembering the answer for up to 4096 distinct values."""
        cached = self._text_memo.get(value)
        if cached is not None:
            return cached
        clean = self.text(value)
        if len(self._text_memo) < _MEMO_LIMIT:
            with self._lock:
                self._text_memo[value] = clean
        return clean

    def value(self, value: Any, depth: int = 0) -> Any:
        """Redact inside one JSON-like value: strings, mappings, lists and tuples."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return self.fields(value, depth + 1)
        if isinstance(value, list | tuple):
            if depth >= _MAX_DEPTH:
                return REDACTED
            return [self.value(item, depth + 1) for item in value]
        return value

    def fields(self, fields: Mapping[Any, Any], depth: int = 0) -> dict[Any, Any]:
        """A copy of ``fields`` with matching keys' values replaced and text values scrubbed.

        Example:
            >>> Redactor().fields({"auth": {"passphrase": "p"}, "note": "password: hunter2"})
            {'auth': {'passphrase': '[REDACTED]'}, 'note': 'password: [REDACTED]'}
        """
        if not self._needles:
            return dict(fields)
        if depth >= _MAX_DEPTH:
            return {"redacted": REDACTED}
        clean: dict[Any, Any] = {}
        for key, item in fields.items():
            if isinstance(key, str) and self.matches(key):
                clean[key] = REDACTED
            else:
                clean[key] = self.value(item, depth)
        return clean


def _contains(words: tuple[str, ...], name: tuple[str, ...]) -> bool:
    """Whether ``name``'s words appear, in order and adjacent, among ``words``."""
    size = len(name)
    return size > 0 and any(words[i : i + size] == name for i in range(len(words) - size + 1))


class _TextPatterns:
    """The expressions that find secrets inside free text. Compiled on the first text that
    holds a secret's name (:func:`_patterns`), not at import: most bots never log one, and
    compiling them is a fair part of the package's import time (docs/performance.md)."""

    __slots__ = ("bare", "bearer", "key_sep", "line", "quoted", "scheme", "url_userinfo")

    def __init__(self) -> None:
        # NAME=value, NAME: value, "NAME": "value", NAME='two words', \"NAME\": \"value\" (JSON
        # inside a JSON string), NAME%3Dvalue and %22NAME%22%3A%22value%22 (URL-encoded). Any
        # word followed by a separator is a candidate; Redactor.matches decides.
        self.key_sep = re.compile(
            r"""(?P<key>[A-Za-z_][\w.\-]*)(?:\\?["']|%22|%27)?\s*(?::|=|%3[AaDd])\s*"""
        )
        self.quoted = re.compile(
            r"""(?P<q>\\"|"|'|%22|%27)"""  # the opening quote, which the redacted value keeps
            r"""(?:(?<=\\")(?:[^"\\]|\\[^"])*(?:\\")?"""  # \"...\"
            r"""|(?<=")(?:[^"\\]|\\.)*"?"""  # "..."
            r"""|(?<=')(?:[^'\\]|\\.)*'?"""  # '...'
            r"""|(?<=%22)(?:(?!%22)[^\s&])*(?:%22)?"""  # %22...%22
            r"""|(?<=%27)(?:(?!%27)[^\s&])*(?:%27)?)"""  # %27...%27
        )
        # An unquoted value ends at white space, a delimiter, or a URL-encoded delimiter.
        self.bare = re.compile(r"""(?:(?!%26|%2[Cc]|%3[Bb]|%20)[^\s"'&,;)\]}])+""")
        self.scheme = re.compile(
            r"""(?:Bearer|Basic|Digest|Token|Negotiate|NTLM|Hawk|AWS4-HMAC-SHA256)[ \t]+"""
            r"""[^\s"'&,;)\]}]+""",
            re.IGNORECASE,
        )
        self.line = re.compile(r"[^\r\n]+")
        # scheme://user:password@  ->  scheme://user:[REDACTED]@
        self.url_userinfo = re.compile(
            r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:]*:)[^\s/?#@]*@"
        )
        self.bearer = re.compile(r"(?P<scheme>\bBearer[ \t]+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)


@functools.cache
def _patterns() -> _TextPatterns:
    return _TextPatterns()


_CLOSING = {'\\"': '\\"', '"': '"', "'": "'", "%22": "%22", "%27": "%27"}
# Headers whose whole value is a credential, scheme included: Authorization, Proxy-Authorization,
# Cookie, Set-Cookie (and X-...-Authorization, Cookies ...).
_HEADER_WORDS = frozenset({"authorization", "cookie"})


def _is_header(key: str) -> bool:
    return not _HEADER_WORDS.isdisjoint(_words(key))


def _value_span(
    patterns: _TextPatterns, text: str, start: int, *, whole_line: bool
) -> tuple[int, int] | None:
    """Where the value starting at ``start`` lies, inside its quotes if it has any: (start,
    end), or None when there is no value."""
    quoted = patterns.quoted.match(text, start)
    if quoted is not None:
        opening = len(quoted.group("q"))
        end = quoted.end()
        closing = _CLOSING[quoted.group("q")]
        if end - start > opening and text.endswith(closing, start, end):
            end -= len(closing)
        return start + opening, max(end, start + opening)
    found = (patterns.line if whole_line else patterns.scheme).match(text, start)
    found = found or patterns.bare.match(text, start)
    return None if found is None else (start, found.end())


class RedactingLabelLimiter(LabelLimiter):
    """A :class:`~trader_telemetry.cardinality.LabelLimiter` that redacts before it counts, so
    a secret never takes a label slot nor reaches the exposition.

    Example:
        >>> from trader_telemetry.clock import ManualClock
        >>> monitor = SelfMonitor(ManualClock().monotonic, 60)
        >>> limiter = RedactingLabelLimiter(
        ...     "orders_rejected_total", "reason", 10, monitor, Redactor()
        ... )
        >>> limiter.admit("bad signature, secret=s3cr3t")
        'bad signature, secret=[REDACTED]'
    """

    __slots__ = ("_admitted", "_cap", "_clean", "_whole")

    def __init__(
        self, metric: str, label: str, limit: int, monitor: SelfMonitor, redactor: Redactor
    ) -> None:
        super().__init__(metric, label, limit, monitor)
        # Decided once: the label's name is fixed, only its values vary.
        self._whole = redactor.enabled and redactor.matches(label)
        self._clean = redactor.text if redactor.enabled else None
        # raw value -> admitted value: the hot path is one dict lookup, as without redaction.
        self._admitted: dict[str, str] = {}
        self._cap = 2 * limit + 64

    def admit(self, value: object) -> str:
        """The label value to record, redacted, or ``__overflow__``."""
        text = value if type(value) is str else str(value)
        admitted = self._admitted.get(text)
        if admitted is not None:
            return admitted
        clean = self._clean
        if self._whole:
            admitted = super().admit(REDACTED)
        else:
            admitted = super().admit(text if clean is None else clean(text))
        # A value replaced for bad UTF-8 is not remembered: each use of it is counted.
        if admitted != OVERFLOW and len(self._admitted) < self._cap and valid_utf8(text) is text:
            self._admitted[text] = admitted
        return admitted


class _LogRedactionFilter(logging.Filter):
    """Scrubs the library's own log records (message, arguments and traceback text)."""

    def __init__(self) -> None:
        super().__init__()
        self.redactor = Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = self.redactor
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the handler's business
            return True
        record.msg, record.args = redactor.text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redactor.text(logging.Formatter().formatException(record.exc_info))
        return True


_log_filter = _LogRedactionFilter()
_log_lock = threading.Lock()
_LOGGER_NAMES = (
    "trader_telemetry",
    "trader_telemetry.events",
    "trader_telemetry.exposition",
    "trader_telemetry.health",
    "trader_telemetry.tracing",
    "trader_telemetry.compat",
)


#: Our threads are named ``trader-telemetry-...``.
THREAD_PREFIX = "trader-telemetry"
_thread_logger = logging.getLogger("trader_telemetry")


class _ThreadHook:
    """``threading.excepthook`` for the library's own threads: an exception that ends one is
    logged through the (redacted) ``trader_telemetry`` logger instead of printed raw to
    stderr. Other threads go to the hook that was there before."""

    def __init__(self, previous: Callable[[threading.ExceptHookArgs], Any]) -> None:
        self.previous = previous

    def __call__(self, args: threading.ExceptHookArgs) -> None:
        thread = args.thread
        if thread is None or not thread.name.startswith(THREAD_PREFIX):
            self.previous(args)
            return
        if args.exc_type is SystemExit:
            return  # as the default hook: a thread calling sys.exit() ends quietly
        with contextlib.suppress(Exception):
            _thread_logger.error(
                "trader_telemetry thread %s ended with an error (the bot is unaffected)",
                thread.name,
                exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
            )


def _install_thread_hook() -> None:
    if not isinstance(threading.excepthook, _ThreadHook):
        threading.excepthook = _ThreadHook(threading.excepthook)


def install_log_redaction(keys: Iterable[str]) -> None:
    """Scrub ``keys`` from everything the library logs (process-wide), and from the traceback
    of any of the library's threads that dies (``threading.excepthook``, chained).

    Filters on a logger do not apply to its children, so the filter goes on every
    ``trader_telemetry`` logger that exists. The names only accumulate: a process with two
    instances redacts the union of their keys in the shared loggers.
    """
    with _log_lock:
        _install_thread_hook()
        merged = dict.fromkeys((*_log_filter.redactor.keys, *keys))
        if tuple(merged) != _log_filter.redactor.keys:
            _log_filter.redactor = Redactor(merged)
        names = set(_LOGGER_NAMES)
        names.update(
            name
            for name in list(logging.Logger.manager.loggerDict)
            if name.startswith("trader_telemetry.")
        )
        for name in sorted(names):
            target = logging.getLogger(name)
            if _log_filter not in target.filters:
                target.addFilter(_log_filter)
