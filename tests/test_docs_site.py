"""The documentation site: ``mkdocs build --strict`` passes, the reference pages name everything
they must (public names, settings, environment variables), and every page is in the nav. (The
Python blocks of the pages are run or type-checked by tests/test_docs_run.py.)
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib.util
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import pytest

import trader_telemetry as tt
from trader_telemetry.config import ServerLimits

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TYPING = ROOT / "tests" / "typing"


# --------------------------------------------------------------------------- the build
def _mkdocs_available() -> bool:
    return importlib.util.find_spec("mkdocs") is not None and (
        importlib.util.find_spec("mkdocstrings_handlers") is not None
    )


def test_mkdocs_build_strict_passes(tmp_path: Path) -> None:
    if not _mkdocs_available():
        message = "mkdocs is not installed (pip install -e '.[docs]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml", "-d", site],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    # The API page is rendered from the docstrings, doctests as Python blocks.
    api = (site / "api" / "index.html").read_text()
    assert "record_account" in api
    assert "TelemetryProbe" in api
    assert '<span class="doc-section-title">Examples:</span>' in api
    # Sphinx roles in the docstrings render as links or code, never verbatim.
    for role in (":class:", ":func:", ":meth:", ":mod:", ":attr:"):
        assert role not in api, role
    assert 'href="#trader_telemetry.TelemetryConfig"' in api
    # The catalogue page carries the generated table; links out of docs/ point at the repo.
    assert "cycle_duration_seconds" in (site / "metrics" / "index.html").read_text()
    report = (site / "report" / "index.html").read_text()
    assert "/blob/main/tests/fixtures/report/" in report


def test_every_page_is_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s*([\w./-]+\.md)\s*$", config, re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages <= listed, f"pages missing from the nav in mkdocs.yml: {sorted(pages - listed)}"


# --------------------------------------------------------------------------- reference pages
def test_api_page_documents_every_public_name() -> None:
    page = (DOCS / "api.md").read_text()
    documented = set(re.findall(r"^::: trader_telemetry\.(\w+)\s*$", page, re.M))
    assert documented == set(tt.__all__), (
        f"missing: {sorted(set(tt.__all__) - documented)}, "
        f"not public: {sorted(documented - set(tt.__all__))}"
    )


class RecordingEnviron(Mapping[str, str]):
    """An empty environment that remembers every variable asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __getitem__(self, key: str) -> str:
        self.asked.append(key)
        raise KeyError(key)

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.append(key)
        return default

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.append(key)
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _environment_variables_read() -> set[str]:
    environ = RecordingEnviron()
    tt.TelemetryConfig.from_env(environ)
    return set(environ.asked)


def test_configuration_page_names_every_environment_variable() -> None:
    page = (DOCS / "configuration.md").read_text()
    read = _environment_variables_read()
    assert "TRADER_TELEMETRY_PORT" in read  # the recording works
    missing = sorted(var for var in read if f"`{var}`" not in page)
    assert not missing, f"configuration.md does not name: {missing}"
    # ...and names none that from_env() ignores (a stale row would mislead an operator).
    documented = set(re.findall(r"`(TRADER_TELEMETRY_[A-Z_]+)`", page))
    assert documented <= read, f"documented but never read: {sorted(documented - read)}"


def test_configuration_page_names_every_field() -> None:
    page = (DOCS / "configuration.md").read_text()
    for cls in (tt.TelemetryConfig, ServerLimits):
        for field in dataclasses.fields(cls):
            assert f"| `{field.name}` |" in page, f"{cls.__name__}.{field.name}"


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    """Variables read elsewhere than from_env() (OTLP, tracing) are named on some page."""
    source = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.py"))
    variables = set(re.findall(r"[\"']((?:TRADER_TELEMETRY|OTEL)_[A-Z][A-Z_]*[A-Z])[\"']", source))
    assert "OTEL_EXPORTER_PROMETHEUS_PORT" in variables  # the scan works
    docs = "\n".join(p.read_text() for p in DOCS.glob("*.md"))
    missing = sorted(var for var in variables if var not in docs)
    assert not missing, f"read by the code, named on no docs page: {missing}"


def test_environment_recording_sees_a_new_variable() -> None:
    """The check above can fail: a variable read but not documented is found."""
    environ = RecordingEnviron()
    environ.get("TRADER_TELEMETRY_SOMETHING_NEW")
    assert "`TRADER_TELEMETRY_SOMETHING_NEW`" not in (DOCS / "configuration.md").read_text()
    assert environ.asked == ["TRADER_TELEMETRY_SOMETHING_NEW"]


def test_every_example_is_type_checked() -> None:
    usage = (TYPING / "examples_usage.py").read_text()
    imported = re.search(r"^from examples import (.+)$", usage, re.M)
    assert imported, "tests/typing/examples_usage.py imports no example"
    names = {name.strip() for name in imported.group(1).split(",")}
    examples = {p.stem for p in (ROOT / "examples").glob("*.py")}
    assert examples == names


# --------------------------------------------------------------------------- build hooks
def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_links_out_of_docs_point_at_the_repository(caplog: pytest.LogCaptureFixture) -> None:
    hook = _load(DOCS / "hooks" / "repo_links.py")
    assert doctest.testmod(hook).failed == 0
    url = "https://github.com/o/r"
    text = (
        "[ops](ops.md) [bundle](../deploy/README.md#files) [deploy](../deploy/)\n"
        "```\n[not a link](../deploy/README.md)\n```\n[gone](../no/such/file.md)\n"
    )
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.repo_links"):
        out = hook.rewrite(text, "ops.md", ROOT, url)
    assert "[ops](ops.md)" in out
    assert f"[bundle]({url}/blob/main/deploy/README.md#files)" in out
    assert f"[deploy]({url}/tree/main/deploy)" in out
    assert "```\n[not a link](../deploy/README.md)\n```" in out  # code is left alone
    assert "[gone](../no/such/file.md)" in out
    assert [r.getMessage() for r in caplog.records] == [
        "ops.md links to no/such/file.md, which is not in the repository"
    ]


def test_griffe_extension_turns_sphinx_roles_into_links_or_code() -> None:
    if importlib.util.find_spec("griffe") is None:
        pytest.skip("griffe comes with the docs extra")
    extension = _load(DOCS / "hooks" / "griffe_roles.py")
    assert doctest.testmod(extension).failed == 0
    documented = extension.documented_names()
    assert "trader_telemetry.Telemetry" in documented
    assert "trader_telemetry.testing.TelemetryProbe" in documented
    text = extension.replace_roles(
        "A :class:`~trader_telemetry.testing.TelemetryProbe` or :class:`Telemetry`.", documented
    )
    assert text == (
        "A [TelemetryProbe][trader_telemetry.testing.TelemetryProbe] or "
        "[Telemetry][trader_telemetry.Telemetry]."
    )


def test_griffe_extension_reads_example_sections_as_examples() -> None:
    if importlib.util.find_spec("griffe") is None:
        pytest.skip("griffe comes with the docs extra")
    extension = _load(DOCS / "hooks" / "griffe_examples.py")
    assert doctest.testmod(extension).failed == 0
    text = "Summary.\n\nExample:\n    >>> 1 + 1\n    2\n\nNot an Example: here."
    assert extension.plural_examples(text) == text.replace("\nExample:\n", "\nExamples:\n")
