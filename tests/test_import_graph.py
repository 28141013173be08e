"""The layering of the package, read from the source with :mod:`ast`: the configuration sits at
the bottom (it imports only the catalogue, the errors and the clock) and the import graph has no
circle, counting imports inside functions as well as at module level. And the light import:
``import trader_telemetry`` imports no library module, and the optional parts load only when
used (checked in fresh interpreters)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Container, Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "trader_telemetry"

#: What ``config.py`` may import from the project: the contract stays at the bottom.
CONFIG_MAY_IMPORT = {
    "trader_telemetry.catalogue",
    "trader_telemetry.clock",
    "trader_telemetry.errors",
    "trader_telemetry.thresholds_file",  # the one thresholds loader (stdlib and errors only)
}


def module_name(path: Path, package: Path) -> str:
    """``.../trader_telemetry/ops/alerts.py`` -> ``trader_telemetry.ops.alerts``."""
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: Container[str]
) -> Iterator[str]:
    """The project modules an import statement loads: ``import m`` loads ``m``; ``from m import
    x`` loads ``m.x`` when ``x`` is a submodule, else ``m`` (``from . import sibling`` does not
    count as importing the package itself, which Python has loaded already anyway)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    for alias in node.names:
        submodule = f"{target}.{alias.name}"
        yield submodule if submodule in modules else target


def import_graph(package: Path) -> dict[str, set[str]]:
    """{module: project modules it imports anywhere in its body (functions included)}."""
    paths = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = _imported(node, module, path.name == "__init__.py", paths)
                targets.update(n for n in names if n in paths and n != module)
        graph[module] = targets
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One circle of the graph as a path ``[a, b, ..., a]``, or None (depth-first search)."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            if (cycle := visit(target, [*path, node])) is not None:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        if (cycle := visit(start, [])) is not None:
            return cycle
    return None


def test_config_imports_only_the_bottom_of_the_package() -> None:
    graph = import_graph(PACKAGE)
    project = graph["trader_telemetry.config"]
    assert project <= CONFIG_MAY_IMPORT, sorted(project - CONFIG_MAY_IMPORT)


def test_the_import_graph_has_no_circle() -> None:
    graph = import_graph(PACKAGE)
    assert len(graph) > 50  # the scan found the package
    assert "trader_telemetry.ops.alerts" in graph["trader_telemetry.ops.alert_tests"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def _write(root: Path, files: Mapping[str, str]) -> Path:
    package = root / "pkg"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


def test_a_circle_hidden_in_a_function_is_found(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from .b import B\n",
            "sub/__init__.py": "",
            "sub/b.py": "def f():\n    from ..a import A\n",
            "b.py": "def g():\n    from .sub import b\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert graph["pkg.b"] == {"pkg.sub.b"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.sub.b", "pkg.a"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import pkg.a\n", {"pkg.a"}),
        ("from . import a\n", {"pkg.a"}),
        ("from .a import thing\n", {"pkg.a"}),
        ("import os\nfrom typing import Any\n", set()),
    ],
)
def test_every_import_form_is_an_edge(tmp_path: Path, source: str, expected: set[str]) -> None:
    package = _write(tmp_path, {"__init__.py": "", "a.py": "", "c.py": source})
    assert import_graph(package)["pkg.c"] == expected


# --------------------------------------------------------------------------- the light import
#: Loaded only when used: never by ``import trader_telemetry`` nor by the core it gives access to.
OPTIONAL = (
    "asyncio",  # health checks run on a loop of their own when asked for
    "importlib.metadata",  # __version__
    "opentelemetry.exporter",  # upstream Prometheus reader, OTLP exporters
    "opentelemetry.sdk.trace",
    "trader_telemetry.cli",  # the command line
    "trader_telemetry.compat",  # the file exporter
    "trader_telemetry.events",  # events.jsonl and metrics.json (with a data_dir)
    "trader_telemetry.exposition",  # the endpoint (when serving)
    "trader_telemetry.health.probe",  # the client of a bot's /health (the health command)
    "trader_telemetry.ops",
    "trader_telemetry.otlp_metrics",
    "trader_telemetry.readers.upstream",
    "trader_telemetry.report",
    "trader_telemetry.simulation",  # the simulated bot (demo, tests, benchmarks)
    "trader_telemetry.tail_sampling",
    "trader_telemetry.tracing",
    "wrapt",  # decorators: imported when a function is decorated
    "tomllib",  # a thresholds file, when one is read
    "pathlib",  # nothing of the core needs it (nor do the two dependencies)
    "numbers",  # a value that is neither int nor float
)

_PROBE = """
import sys
import trader_telemetry as tt
after_import = sorted(sys.modules)
{use}
print(repr((after_import, sorted(sys.modules))))
"""


def _loaded(use: str) -> tuple[list[str], list[str]]:
    """(modules after ``import trader_telemetry``, modules after ``use``) in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(use=use)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    after_import, after_use = ast.literal_eval(result.stdout.strip())
    return after_import, after_use


def _optional(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == o or m.startswith(f"{o}.") for o in OPTIONAL)]


def test_import_trader_telemetry_imports_no_library_module() -> None:
    after_import, _ = _loaded("")
    assert [m for m in after_import if m.startswith("trader_telemetry")] == ["trader_telemetry"]
    assert "opentelemetry.sdk.metrics" not in after_import


def test_public_names_and_their_modules_load_on_first_use() -> None:
    _, after_use = _loaded(
        "assert tt.health.HealthStatus is tt.HealthStatus\n"
        "assert tt.config.TelemetryConfig is tt.TelemetryConfig\n"
        "from trader_telemetry import Telemetry, __version__\n"
        "assert Telemetry is tt.Telemetry and __version__ == tt.__version__\n"
        "assert set(tt.__all__) <= set(dir(tt))\n"
        "try:\n"
        "    tt.no_such_name\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('tt.no_such_name')"
    )
    assert "trader_telemetry.health" in after_use


def test_the_core_loads_no_optional_part() -> None:
    _, after_use = _loaded("tt.Telemetry, tt.configure, tt.cycle_timer, tt.HealthStatus")
    assert "trader_telemetry.telemetry" in after_use
    assert _optional(after_use) == []


def test_an_optional_part_loads_when_used() -> None:
    """The check above can fail: tracing, decorators and a data_dir bring their modules."""
    use = (
        "import tempfile\n"
        "t = tt.Telemetry(serve=False, tracing=True, data_dir=tempfile.mkdtemp())\n"
        "tt.timed_cycle(lambda: None)\n"
        "t.shutdown()"
    )
    _, after_use = _loaded(use)
    loaded = _optional(after_use)
    for module in ("trader_telemetry.tracing", "opentelemetry.sdk.trace", "wrapt"):
        assert module in loaded
    assert "trader_telemetry.events" in loaded


# ---------------------------------------------------------------------------- unique names
def test_no_two_modules_share_a_name() -> None:
    """A name says which module it is: ``render.py`` in three folders made every traceback and
    every import need its folder read too."""
    by_name: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name not in {"__init__.py", "__main__.py"}:
            by_name.setdefault(path.name, []).append(module_name(path, PACKAGE))
    shared = {name: modules for name, modules in by_name.items() if len(modules) > 1}
    assert shared == {}
