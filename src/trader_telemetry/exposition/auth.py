"""HTTP basic auth against bcrypt hashes, as the Prometheus exporter-toolkit does it.

bcrypt is slow on purpose (about 60 ms at cost 10), so a verified credential is remembered:
the next scrape with the same user and password costs one HMAC instead. The memory holds an
HMAC of (user, hash, password) under a random per-process key, never the password itself, and
only successes are remembered, so a password-guessing client pays bcrypt for every guess.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from types import ModuleType

from ..errors import ConfigurationError

__all__ = ["BCRYPT_HASH", "MAX_BCRYPT_COST", "BasicAuth", "load_bcrypt"]

logger = logging.getLogger("trader_telemetry.exposition")

#: What a bcrypt hash looks like (``$2a$``, ``$2b$`` and ``$2y$`` variants, cost 04..31).
BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
#: The highest bcrypt cost accepted: at 16 one check takes seconds (each step doubles it).
MAX_BCRYPT_COST = 16
_CACHE_SIZE = 64


def load_bcrypt(field: str) -> ModuleType:
    """The ``bcrypt`` module, or a :class:`ConfigurationError` naming ``field`` and the extra."""
    try:
        import bcrypt  # noqa: PLC0415 - optional: only a web config with users needs it
    except ImportError as exc:
        raise ConfigurationError(
            f"{field} needs the bcrypt package: pip install 'trader_telemetry[auth]'"
        ) from exc
    return bcrypt


class BasicAuth:
    """Checks ``Authorization: Basic ...`` headers against ``{user: bcrypt hash}``.

    Args:
        users: User names and their bcrypt hashes (``$2a$``, ``$2b$`` or ``$2y$``).
        realm: The realm named in ``WWW-Authenticate``.

    Raises:
        ConfigurationError: bcrypt is not installed, a user name is empty or holds ``:``,
            or a hash is not a bcrypt hash (the message names the user).

    Example:
        >>> import bcrypt
        >>> auth = BasicAuth({"prometheus": bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()})
        >>> auth.verify("prometheus", "s3cret"), auth.verify("prometheus", "guess")
        (True, False)
        >>> auth.challenge
        'Basic realm="trader_telemetry", charset="UTF-8"'
    """

    def __init__(self, users: Mapping[str, str], realm: str = "trader_telemetry") -> None:
        self._bcrypt = load_bcrypt("basic_auth_users")
        hashes: dict[str, bytes] = {}
        for user, hashed in users.items():
            if not isinstance(user, str) or not user or ":" in user:
                raise ConfigurationError(
                    f"basic_auth_users: user name {user!r} must be a non-empty string without ':'"
                )
            if not isinstance(hashed, str) or not BCRYPT_HASH.fullmatch(hashed):
                raise ConfigurationError(
                    f"basic_auth_users.{user} must be a bcrypt hash ($2y$10$...), got "
                    f"{_shape(hashed)}"
                )
            if (cost := _cost(hashed)) > MAX_BCRYPT_COST:
                raise ConfigurationError(
                    f"basic_auth_users.{user}: bcrypt cost {cost} is above {MAX_BCRYPT_COST}: "
                    f"each check would take about {_seconds_at(cost)}, so scrapes would time "
                    "out; hash the password again at cost 10 to 12"
                )
            hashes[user] = hashed.encode()
        self._users = hashes
        self.challenge = f'Basic realm="{realm}", charset="UTF-8"'
        # An unknown user still pays one bcrypt at the same cost, so response times do not
        # tell which user names exist: checked against the costliest configured hash (the
        # answer is "no" whatever it says). Nothing is hashed here: configure() never waits.
        self._decoy = max(hashes.values(), key=_cost, default=b"")
        self._key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()
        # One bcrypt at a time: a flood of guesses burns at most one core, not all of them.
        self._bcrypt_lock = threading.Lock()

    @property
    def users(self) -> tuple[str, ...]:
        """The configured user names."""
        return tuple(self._users)

    def check(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header value carries valid credentials.

        Example:
            >>> import base64, bcrypt
            >>> auth = BasicAuth({"u": bcrypt.hashpw(b"p", bcrypt.gensalt(4)).decode()})
            >>> auth.check("Basic " + base64.b64encode(b"u:p").decode())
            True
            >>> auth.check(None), auth.check("Bearer abc")
            (False, False)
        """
        if not header:
            return False
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = decoded.partition(b":")
        if not sep:
            return False
        try:
            return self.verify(user.decode("utf-8"), password.decode("utf-8"))
        except UnicodeDecodeError:
            return False

    def verify(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s (bcrypt, or the cache of recent successes)."""
        hashed = self._users.get(user)
        secret = password.encode("utf-8")
        token = hmac.new(
            self._key,
            b"\0".join((user.encode("utf-8"), hashed or b"", secret)),
            hashlib.sha256,
        ).digest()
        with self._lock:
            if token in self._verified:
                self._verified.move_to_end(token)
                return hashed is not None
        with self._bcrypt_lock:
            try:
                matched = bool(self._bcrypt.checkpw(secret, hashed or self._decoy))
            except ValueError:  # bcrypt refuses passwords over 72 bytes
                matched = False
        if not matched or hashed is None:
            return False
        with self._lock:
            self._verified[token] = None
            while len(self._verified) > _CACHE_SIZE:
                self._verified.popitem(last=False)
        return True


def _cost(hashed: str | bytes) -> int:
    """The cost of a bcrypt hash (the two digits after the variant)."""
    return int(hashed[4:6])


def _seconds_at(cost: int) -> str:
    """Roughly how long one bcrypt check takes at ``cost`` (about 60 ms at 10, doubling)."""
    seconds = 0.06 * 2 ** (cost - 10)
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 3600:.1f} hours"


def _shape(value: object) -> str:
    """Describe a bad hash without echoing it whole (it may be a plain-text password)."""
    if isinstance(value, str):
        return f"a string of {len(value)} characters starting {value[:4]!r}"
    return type(value).__name__
