"""mkdocs hook: links that leave ``docs/`` become links into the repository.

The pages are plain Markdown that also reads on GitHub, where ``../deploy/README.md`` or
``../tests/fixtures/report/...`` work as relative links. In the built site those files do not
exist, and ``mkdocs build --strict`` rightly fails on them. This hook rewrites each such link to
``{repo_url}/blob/main/<path>`` (``tree`` for a directory) when the target exists in the
repository, and logs a warning (a failure under ``--strict``) when it does not, so a link to a
missing file is still caught. Links inside ``docs/`` are left to mkdocs' own validation.
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.repo_links")

_LINK = re.compile(r"\]\((?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_BRANCH = "main"


def outside_target(page_src: str, target: str) -> str | None:
    """The repository path a relative link from ``page_src`` points at, when that is outside
    ``docs/``; None for links inside ``docs/``, absolute URLs and anchors.

    Example:
        >>> outside_target("ops.md", "../deploy/README.md")
        'deploy/README.md'
        >>> outside_target("ops.md", "runbooks.md") is None
        True
    """
    if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join("docs", posixpath.dirname(page_src), target))
    if joined == "docs" or joined.startswith(("docs/", "..")):
        return None
    return joined


def rewrite(markdown: str, page_src: str, repo_root: Path, repo_url: str) -> str:
    """``markdown`` with its links out of ``docs/`` pointing at ``repo_url`` (code untouched)."""
    base = repo_url.rstrip("/")

    def replace(match: re.Match[str]) -> str:
        path = outside_target(page_src, match.group("target"))
        if path is None:
            return match.group(0)
        local = repo_root / path
        if not local.exists():
            log.warning("%s links to %s, which is not in the repository", page_src, path)
            return match.group(0)
        kind = "tree" if local.is_dir() else "blob"
        return f"]({base}/{kind}/{_BRANCH}/{path}{match.group('anchor') or ''})"

    pieces: list[str] = []
    last = 0
    for fence in _FENCE.finditer(markdown):
        pieces.append(_LINK.sub(replace, markdown[last : fence.start()]))
        pieces.append(fence.group(0))
        last = fence.end()
    pieces.append(_LINK.sub(replace, markdown[last:]))
    return "".join(pieces)


def on_page_markdown(markdown: str, *, page: Any, config: Any, files: Any) -> str:
    """The mkdocs event: rewrite the page's links out of ``docs/``."""
    repo_root = Path(config["config_file_path"]).resolve().parent
    return rewrite(markdown, page.file.src_uri, repo_root, config["repo_url"] or "")
