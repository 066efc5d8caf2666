"""MkDocs hook: the API reference documents every module of the installed package.

The modules are listed from the source tree as ``pip install`` ships them under ``goal_rl``:
the ``goal_rl/`` folder plus the folders mapped by ``[tool.setuptools.package-dir]``
(``tasks/`` → ``goal_rl.tasks``, ``envs/`` → ``goal_rl.envs``). Each sub-package
``goal_rl.X`` has the page ``docs/api/X.md``; the top-level modules (``goal_rl``,
``goal_rl.config``, the ``python -m`` entry modules) have ``docs/api/core.md``. A page marks
where its modules go with the line ``<!-- api-modules -->``; this hook replaces it with one
``::: module`` block per module, in order (a package before its modules), which
mkdocstrings then renders from the docstrings.

So a new module is documented without touching the docs. A new sub-package without a page
is logged as a warning, which ``mkdocs build --strict`` (``make docs``) turns into a failed
build.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from griffe_package_dirs import package_dirs  # noqa: E402

_ROOT = Path(__file__).resolve().parent.parent
_API = _ROOT / "docs" / "api"
MARKER = "<!-- api-modules -->"
CORE_PAGE = "core"
log = logging.getLogger("mkdocs.hooks.api_reference")


def package_modules() -> list[str]:
    """Dotted names of every module and package the distribution installs under ``goal_rl``."""
    roots = {"goal_rl": _ROOT / "goal_rl", **package_dirs()}
    names: set[str] = set()
    for dotted, folder in roots.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            if "__pycache__" in rel.parts:
                continue
            # a module counts only if every folder above it is a package
            if not all((folder.joinpath(*rel.parts[:i]) / "__init__.py").exists()
                       for i in range(len(rel.parts))):
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            names.add(".".join([dotted, *parts]))
    return sorted(names, key=lambda n: n.split("."))


def page_of(module: str) -> str:
    """API page (file stem under ``docs/api/``) that documents ``module``."""
    parts = module.split(".")
    if len(parts) >= 2 and (_ROOT / "goal_rl" / parts[1] / "__init__.py").exists():
        return parts[1]
    if len(parts) >= 2 and f"goal_rl.{parts[1]}" in package_dirs():
        return parts[1]
    return CORE_PAGE


def modules_by_page() -> dict[str, list[str]]:
    """``{page: [modules]}`` for every module of the package."""
    pages: dict[str, list[str]] = {}
    for name in package_modules():
        pages.setdefault(page_of(name), []).append(name)
    return pages


def on_config(config: Any, **kwargs: Any) -> Any:
    for page, modules in sorted(modules_by_page().items()):
        path = _API / f"{page}.md"
        if not path.exists():
            log.warning("API reference: no page docs/api/%s.md for %s", page, ", ".join(modules))
        elif MARKER not in path.read_text(encoding="utf-8"):
            log.warning("API reference: docs/api/%s.md lacks the line %s", page, MARKER)
    return config


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    src = Path(page.file.src_uri)
    if src.parent.as_posix() != "api" or MARKER not in markdown:
        return markdown
    blocks = "\n\n".join(f"::: {name}" for name in modules_by_page().get(src.stem, []))
    return markdown.replace(MARKER, blocks)
