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
build. The core page's line ``<!-- api-root-names -->`` becomes a table of the names
``goal_rl`` itself exports (``goal_rl.__all__``, loaded lazily), each linked to the module
that defines it.
"""

from __future__ import annotations

import ast
import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from griffe_package_dirs import package_dirs  # noqa: E402

_ROOT = Path(__file__).resolve().parent.parent
_API = _ROOT / "docs" / "api"
MARKER = "<!-- api-modules -->"
ROOT_MARKER = "<!-- api-root-names -->"
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


def _source(module: str) -> Path:
    """Source file of a dotted module name of the package."""
    roots = {"goal_rl": _ROOT / "goal_rl", **package_dirs()}
    top = max((d for d in roots if module == d or module.startswith(d + ".")), key=len)
    rest = module[len(top):].lstrip(".").split(".") if module != top else []
    base = roots[top].joinpath(*rest)
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def defined_names(module: str) -> set[str]:
    """Names a module defines at its top level (classes, functions, assignments)."""
    tree = ast.parse(_source(module).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def root_exports() -> list[tuple[str, str]]:
    """``(name, defining module)`` for every name in ``goal_rl.__all__``."""
    import goal_rl  # cheap: the package loads its submodules lazily

    candidates = [m for m in package_modules() if m != "goal_rl"]
    found = []
    for name in sorted(goal_rl.__all__):
        homes = [m for m in candidates if name in defined_names(m)]
        if not homes:
            log.warning("API reference: goal_rl.%s is exported but defined in no module", name)
            continue
        found.append((name, homes[0]))
    return found


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
    markdown = markdown.replace(MARKER, blocks)
    if ROOT_MARKER in markdown:
        rows = [f"| `goal_rl.{name}` | [`{module}.{name}`][{module}.{name}] |"
                for name, module in root_exports()]
        table = "| name | defined in |\n|---|---|\n" + "\n".join(rows)
        markdown = markdown.replace(ROOT_MARKER, table)
    return markdown
