"""A throw-away PKI for tests, made with the ``openssl`` command line: CAs, a server
certificate for 127.0.0.1 and client certificates (EC P-256 keys, valid for two days)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Pair:
    """A certificate and its private key (PEM files)."""

    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        pytest.fail("the openssl command is needed to make test certificates")
    subprocess.run([binary, *args], check=True, capture_output=True, timeout=30)


def make_ca(directory: Path, name: str) -> Pair:
    """A self-signed CA."""
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(pair.key), "-out", str(pair.cert), "-days", "2",
        "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return pair


def make_leaf(directory: Path, name: str, ca: Pair, *, sans: tuple[str, ...], usage: str) -> Pair:
    """A certificate signed by ``ca``; ``usage`` is ``serverAuth`` or ``clientAuth``."""
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    csr = directory / f"{name}.csr"
    extensions = directory / f"{name}.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage={usage}\n"
        f"subjectAltName={','.join(sans)}\n"
    )
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(pair.key), "-out", str(csr), "-subj", f"/CN={name}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAcreateserial", "-out", str(pair.cert), "-days", "2", "-extfile", str(extensions),
    )  # fmt: skip
    return pair


@dataclass(frozen=True)
class Pki:
    """Everything the TLS tests need."""

    directory: Path
    server_ca: Pair
    server: Pair
    client_ca: Pair
    client: Pair
    other_client: Pair
    rogue_ca: Pair
    rogue_client: Pair


def make_pki(directory: Path) -> Pki:
    """Server CA and server cert (SAN 127.0.0.1, localhost); client CA and two clients
    (SAN ``prometheus`` and ``other``); a rogue CA and a client it signed."""
    server_ca = make_ca(directory, "server-ca")
    client_ca = make_ca(directory, "client-ca")
    rogue_ca = make_ca(directory, "rogue-ca")
    return Pki(
        directory=directory,
        server_ca=server_ca,
        server=make_leaf(
            directory,
            "server",
            server_ca,
            sans=("IP:127.0.0.1", "DNS:localhost"),
            usage="serverAuth",
        ),
        client_ca=client_ca,
        client=make_leaf(
            directory, "client", client_ca, sans=("DNS:prometheus",), usage="clientAuth"
        ),
        other_client=make_leaf(
            directory, "other-client", client_ca, sans=("DNS:other",), usage="clientAuth"
        ),
        rogue_ca=rogue_ca,
        rogue_client=make_leaf(
            directory, "rogue-client", rogue_ca, sans=("DNS:prometheus",), usage="clientAuth"
        ),
    )
