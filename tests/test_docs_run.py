"""The docs run: every ```python block of README.md and docs/*.md runs as written, or is marked
as a fragment and type-checked.

* A **runnable** block is run as a script in a fresh interpreter, in an empty temporary
  directory, with a timeout; ``TRADER_TELEMETRY_PORT=0`` makes ``tt.configure()`` bind a free
  port of 127.0.0.1 (the block itself must not name a fixed port or an outside address).
* A **fragment** is a block preceded by the line ``<!-- fragment -->`` (an HTML comment: GitHub
  and mkdocs show nothing of it): a loop that never ends, a fixed port, a file under ``/etc``,
  the bot's own objects. It is not run; it is type-checked with ``mypy --strict`` (as are the
  runnable blocks), with the names it takes as given imported from ``tests/typing/doc_names.py``.
"""

from __future__ import annotations

import builtins
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import symtable
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import trader_telemetry as tt

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")))
FRAGMENT = "<!-- fragment -->"
STUBS = ROOT / "tests" / "typing" / "doc_names.py"
#: mypy with the project's settings (pyproject.toml) and its cache.
MYPY = (
    sys.executable,
    "-m",
    "mypy",
    "--strict",
    "--config-file",
    str(ROOT / "pyproject.toml"),
    "--cache-dir",
    str(ROOT / ".mypy_cache"),
)

_HEADER = """\
# {page}, ```python block {number} (line {line}){kind}.
# Doc snippets may leave a parameter unannotated for brevity; the body is still checked.
# mypy: disable-error-code="no-untyped-def"
"""


@dataclass(frozen=True, slots=True)
class Block:
    """One ```python block of a page."""

    page: str
    number: int
    line: int  # of the block's first code line, 1-based
    code: str
    fragment: bool

    @property
    def name(self) -> str:
        return f"{self.page}:{self.number}"

    @property
    def module(self) -> str:
        stem = Path(self.page).stem.lower().replace("-", "_")
        return f"block_{stem}_{self.number}"


def python_blocks(page: str, text: str) -> list[Block]:
    """The ```python blocks of ``text`` (fences at the start of a line), in order.

    Example:
        >>> text = "<!-- fragment -->\\n```python\\nbot.run()\\n```\\n\\n```python\\nx = 1\\n```\\n"
        >>> [(b.number, b.line, b.code, b.fragment) for b in python_blocks("p.md", text)]
        [(1, 3, 'bot.run()\\n', True), (2, 7, 'x = 1\\n', False)]
    """
    blocks: list[Block] = []
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        if lines[index].rstrip() != "```python":
            index += 1
            continue
        before = [line.strip() for line in lines[:index] if line.strip()]
        fragment = bool(before) and before[-1] == FRAGMENT
        end = next(i for i in range(index + 1, len(lines)) if lines[i].rstrip() == "```")
        code = "".join(lines[index + 1 : end])
        blocks.append(Block(page, len(blocks) + 1, index + 2, code, fragment))
        index = end + 1
    return blocks


def all_blocks() -> list[Block]:
    return [b for page in PAGES for b in python_blocks(page, (ROOT / page).read_text())]


def free_names(code: str) -> set[str]:
    """Names ``code`` reads at module level (or as globals in a function) but never binds.

    Example:
        >>> sorted(free_names("import os\\ndef f(a):\\n    return bot.run(a, os.sep, len)\\n"))
        ['bot']
    """
    top = symtable.symtable(code, "<block>", "exec")
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    bound |= {s.get_name() for s in top.get_symbols() if s.is_namespace()}
    used: set[str] = set()

    def visit(table: symtable.SymbolTable) -> None:
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table is top or symbol.is_global()):
                used.add(symbol.get_name())
        for child in table.get_children():
            visit(child)

    visit(top)
    return used - bound - set(dir(builtins))


BLOCKS = all_blocks()
RUNNABLE = [b for b in BLOCKS if not b.fragment]


def test_the_pages_have_blocks_of_both_kinds() -> None:
    assert len(BLOCKS) >= 20
    assert RUNNABLE
    assert any(b.fragment for b in BLOCKS)
    assert "README.md:1" in {b.name for b in RUNNABLE}  # the README's integration example


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.name)
def test_runnable_block_defines_every_name_it_uses(block: Block) -> None:
    missing = sorted(free_names(block.code))
    assert not missing, (
        f"{block.page} line {block.line}: the block uses {missing} without defining them "
        f"(a NameError when run): define them, or mark the block {FRAGMENT}"
    )


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.name)
def test_runnable_block_runs(block: Block, tmp_path: Path) -> None:
    script = tmp_path / f"{block.module}.py"
    script.write_text(block.code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADER_TELEMETRY_", "OTEL_"))}
    env["TRADER_TELEMETRY_PORT"] = "0"  # configure() binds a free port of 127.0.0.1
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"{block.page} line {block.line} fails as written:\n{result.stdout}{result.stderr}"
    )


def _module_text(block: Block) -> str:
    kind = ", a fragment: type-checked, never run" if block.fragment else ""
    header = _HEADER.format(page=block.page, number=block.number, line=block.line, kind=kind)
    names = sorted(free_names(block.code)) if block.fragment else []
    given = f"from doc_names import {', '.join(names)}\n" if names else ""
    return header + given + block.code


def _require_mypy() -> None:
    if importlib.util.find_spec("mypy") is None:
        message = "mypy is not installed (pip install -e '.[test]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def _page_line(block: Block, module_line: int) -> int:
    """The page line of line ``module_line`` of ``block``'s module (which starts with a header
    and, for a fragment, an import of its given names)."""
    header = len(_module_text(block).splitlines()) - len(block.code.splitlines())
    return block.line + module_line - header - 1


def _errors_on_pages(mypy_output: str, modules: dict[str, Block]) -> list[str]:
    """mypy's errors, each placed on its page: ``docs/usage.md:12: error: ...``."""
    errors = []
    for line in mypy_output.splitlines():
        match = re.match(r"(block_\w+\.py):(\d+): (.*)", line)
        if match:
            block = modules[match.group(1)]
            where = _page_line(block, int(match.group(2)))
            errors.append(f"{block.page}:{where}: {match.group(3)}")
        elif "error" in line and not line.startswith("Found"):
            errors.append(line)
    return errors


def test_every_block_type_checks(tmp_path: Path) -> None:
    """``mypy --strict`` over every block (fragments with their given names imported)."""
    _require_mypy()
    modules: dict[str, Block] = {}
    for block in BLOCKS:
        text = _module_text(block)
        (tmp_path / f"{block.module}.py").write_text(text, encoding="utf-8")
        modules[f"{block.module}.py"] = block
    shutil.copy(STUBS, tmp_path / "doc_names.py")
    result = subprocess.run(
        [*MYPY, "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    errors = _errors_on_pages(result.stdout, modules)
    assert not errors, "\n".join(errors)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_type_error_in_a_fragment_is_reported_on_its_page_line(tmp_path: Path) -> None:
    """The check above can fail: a wrong call in a fragment is found and placed."""
    page = "<!-- fragment -->\n```python\nimport trader_telemetry as tt\n\ntt.cycle_timer(1)\n```\n"
    _require_mypy()
    (block,) = python_blocks("docs/x.md", page)
    assert block.fragment
    path = tmp_path / f"{block.module}.py"
    path.write_text(_module_text(block), encoding="utf-8")
    result = subprocess.run(
        [*MYPY, path.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 1
    errors = _errors_on_pages(result.stdout, {path.name: block})
    assert errors == ['docs/x.md:5: error: Too many arguments for "cycle_timer"  [call-arg]']


def test_no_design_document_outside_the_repository_is_cited() -> None:
    """Every reference points into the repository (docs/), never at an outside document."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    needle = "DESIGN" + " \u00a7"
    citing = [
        name
        for name in tracked
        if name.endswith((".py", ".md", ".toml", ".yml", ".yaml"))
        and (ROOT / name).exists()
        and needle in (ROOT / name).read_text(encoding="utf-8", errors="replace")
    ]
    assert citing == []


def _documented_calls(text: str) -> list[tuple[str, list[str]]]:
    """``(method, argument names)`` for each `` `name(a, b=None, **c)` `` of a page.

    Example:
        >>> _documented_calls("`record_mark(symbol, price=None)`, `record_marks({s: p})`")
        [('record_mark', ['symbol', 'price']), ('record_marks', [])]
    """
    calls = []
    for name, inside in re.findall(r"`(?:\w+\.)?(\w+)\(([^`()]*)\)`", text):
        names = []
        for part in inside.split(","):
            token = part.strip().lstrip("*").split("=")[0].strip()
            if re.fullmatch(r"[a-z_]\w*", token):
                names.append(token)
        calls.append((name, names))
    return calls


def test_the_usage_page_names_the_real_parameters() -> None:
    """Each call the usage page shows uses the parameter names the method has."""
    checked = 0
    wrong = []
    for name, arguments in _documented_calls((ROOT / "docs" / "usage.md").read_text()):
        method = getattr(tt.Telemetry, name, None)
        if method is None or not callable(method):
            continue
        parameters = inspect.signature(method).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        if not takes_any:
            wrong += [f"{name}({a})" for a in arguments if a not in parameters]
        checked += 1
    assert checked >= 10
    assert wrong == []
