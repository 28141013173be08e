"""The TLS side of a connection to the endpoint: peek for plain HTTP, then a handshake that
must finish within a deadline, then the ``client_allowed_sans`` check of the web config."""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import time
from typing import Any

__all__ = ["accept_tls"]

_PLAIN_ON_TLS = (
    b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
)


def accept_tls(
    plain: socket.socket,
    context: ssl.SSLContext,
    *,
    timeout: float,
    allowed_sans: tuple[str, ...] = (),
) -> ssl.SSLSocket:
    """Wrap a freshly accepted connection in TLS, or raise ``ConnectionAbortedError`` /
    ``TimeoutError`` / ``ssl.SSLError`` (the caller drops the connection).

    Plain HTTP on the TLS port gets a one-line 400 first, as Go's servers answer it.
    """
    deadline = time.monotonic() + timeout
    plain.settimeout(timeout)
    first = plain.recv(1, socket.MSG_PEEK)
    if not first:
        raise ConnectionAbortedError("client left before the TLS handshake")
    if first != b"\x16":  # not a TLS handshake record
        if first.isalpha():  # most likely "GET ..." in plain HTTP: say so
            with contextlib.suppress(OSError):
                plain.sendall(_PLAIN_ON_TLS)
        raise ConnectionAbortedError("plain HTTP (or garbage) on the TLS port")
    tls = context.wrap_socket(plain, server_side=True, do_handshake_on_connect=False)
    try:
        _handshake(tls, deadline)
        if allowed_sans:
            _check_sans(tls.getpeercert(), allowed_sans)
    except BaseException:
        tls.close()
        raise
    return tls


def _handshake(tls: ssl.SSLSocket, deadline: float) -> None:
    """Finish the server side of a TLS handshake before ``deadline`` (monotonic seconds).

    Non-blocking with a selector, so a client that trickles its handshake bytes cannot
    extend the time a per-read timeout would allow again and again."""
    tls.setblocking(False)
    with selectors.DefaultSelector() as selector:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                events = selectors.EVENT_READ
            except ssl.SSLWantWriteError:
                events = selectors.EVENT_WRITE
            remaining = deadline - time.monotonic()
            selector.register(tls, events)
            ready = selector.select(remaining) if remaining > 0 else []
            selector.unregister(tls)
            if not ready:
                raise TimeoutError("TLS handshake not complete in time")
    tls.setblocking(True)


def _check_sans(certificate: dict[str, Any] | None, allowed: tuple[str, ...]) -> None:
    """Refuse a verified client certificate that names none of ``allowed`` among its SANs
    (DNS names, IP addresses, e-mail addresses, URIs), as ``client_allowed_sans`` asks."""
    names = {value for _kind, value in (certificate or {}).get("subjectAltName", ())}
    if not any(name in names for name in allowed):
        raise ConnectionAbortedError("client certificate SAN not in client_allowed_sans")
