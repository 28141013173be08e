"""A real Prometheus scrapes the endpoint over TLS (mTLS) with basic auth, from a scrape
config rendered by ``trader-telemetry ops render`` (``scheme: https``, ``tls_config``,
``basic_auth`` with a ``password_file``); a job with the wrong password and one without a
client certificate show the endpoint refusing them while the good job's target is up and its
metric queryable."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

import trader_telemetry as tt

from ..conftest import require_tool
from ..prometheus_process import running_prometheus
from ..security.pki import Pki, make_pki

pytestmark = pytest.mark.integration

USER, PASSWORD = "prometheus", "scrape-me-9f2c"


@pytest.fixture
def secure_bot(tmp_path: Path) -> Iterator[tuple[tt.Telemetry, Pki]]:
    pki = make_pki(tmp_path)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    web = tmp_path / "web.yml"
    # Relative paths: resolved against web.yml's directory, as the exporter-toolkit does.
    web.write_text(
        "tls_server_config:\n"
        "  cert_file: server.crt\n"
        "  key_file: server.key\n"
        "  min_version: TLS12\n"
        "  client_auth_type: RequireAndVerifyClientCert\n"
        "  client_ca_file: client-ca.crt\n"
        f"basic_auth_users:\n  {USER}: '{hashed}'\n"
    )
    telemetry = tt.Telemetry(namespace="secure_bot", port=0, web_config=str(web))
    telemetry.record_account(equity=12_345.0)
    yield telemetry, pki
    telemetry.shutdown()


def scrape_config(pki: Pki, port: int, workdir: Path) -> Path:
    """``trader-telemetry ops render`` for the secure bot; two broken copies of its job (a wrong
    password, no client certificate) are added beside it to show the refusals."""
    (workdir / "password").write_text(PASSWORD + "\n")
    (workdir / "wrong").write_text("not-the-password\n")
    subprocess.run(
        [sys.executable, "-m", "trader_telemetry", "ops", "render", "--out", str(workdir),
         "--namespace", "secure_bot", "--job", "secure", "--targets", f"127.0.0.1:{port}",
         "--no-alertmanager", "--scrape-interval", "1", "--scheme", "https",
         "--ca-file", str(pki.server_ca.cert), "--client-cert", str(pki.client.cert),
         "--client-key", str(pki.client.key), "--basic-auth-user", USER,
         "--basic-auth-password-file", str(workdir / "password")],
        check=True, capture_output=True,
    )  # fmt: skip
    path = workdir / "prometheus.yml"
    config = yaml.safe_load(path.read_text())
    (secure,) = config["scrape_configs"]
    assert secure["scheme"] == "https"
    assert secure["basic_auth"] == {"username": USER, "password_file": str(workdir / "password")}
    assert PASSWORD not in path.read_text()  # only the file's path is rendered
    wrong = copy.deepcopy(secure) | {"job_name": "wrong_password"}
    wrong["basic_auth"]["password_file"] = str(workdir / "wrong")
    no_cert = copy.deepcopy(secure) | {"job_name": "no_client_cert"}
    del no_cert["tls_config"]["cert_file"], no_cert["tls_config"]["key_file"]
    config["scrape_configs"] += [wrong, no_cert]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def api(url: str, path: str, **params: str) -> Any:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}{path}?{query}", timeout=5) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]


def test_prometheus_scrapes_over_mtls_with_basic_auth(
    secure_bot: tuple[tt.Telemetry, Pki], tmp_path: Path
) -> None:
    promtool = require_tool("promtool")
    telemetry, pki = secure_bot
    assert telemetry.server_address is not None
    workdir = tmp_path / "prom"
    workdir.mkdir()
    config = scrape_config(pki, telemetry.server_address[1], workdir)
    subprocess.run([promtool, "check", "config", str(config)], check=True, capture_output=True)
    with running_prometheus(config) as url:
        # The first scrape of a new target comes ~5.4 s after start: poll with a deadline.
        targets = wait_for_targets(url, deadline=time.monotonic() + 30)
        assert targets["secure"]["health"] == "up", targets["secure"]
        assert targets["wrong_password"]["health"] == "down"
        assert "401" in targets["wrong_password"]["lastError"]
        assert targets["no_client_cert"]["health"] == "down"
        result = api(url, "/api/v1/query", query='secure_bot_equity{job="secure"}')["result"]
        assert [float(r["value"][1]) for r in result] == [12_345.0]
        up = api(url, "/api/v1/query", query="up")["result"]
        assert {r["metric"]["job"]: r["value"][1] for r in up} == {
            "secure": "1",
            "wrong_password": "0",
            "no_client_cert": "0",
        }


def wait_for_targets(url: str, deadline: float) -> dict[str, dict[str, Any]]:
    """Targets by job once every one has been scraped at least once (and the good one is
    up, or the deadline passed)."""
    targets: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        try:
            active = api(url, "/api/v1/targets")["activeTargets"]
        except OSError:
            active = []
        targets = {t["labels"]["job"]: t for t in active}
        scraped = len(targets) == 3 and all(t["health"] != "unknown" for t in targets.values())
        if scraped and targets["secure"]["health"] == "up":
            return targets
        time.sleep(0.25)
    pytest.fail(f"targets not scraped in time: {json.dumps(targets, indent=1)[:3000]}")
