"""Griffe extension for the docs build: follow setuptools' ``package-dir`` mapping.

The distribution installs the repository's ``tasks/`` and ``envs/`` folders as
``goal_rl.tasks`` and ``goal_rl.envs``. Python's import system knows this (setuptools writes
the mapping into the editable finder or into the wheel's layout), but griffe reads the source
tree statically and finds only ``goal_rl/``. When griffe has loaded the ``goal_rl`` package,
this extension visits every module under each mapped folder and attaches it at its installed
path, so ``::: goal_rl.tasks.registry`` works in the API pages.

It also adapts two docstring habits of the code base to the Markdown site and to griffe's
Google-style parser: reStructuredText roles (``:func:`name```) become inline code, and an
``Args:`` entry that documents several parameters at once (``target, output: (T, O)``)
becomes one entry per parameter with the same text.

The mapping is read from ``[tool.setuptools.package-dir]`` in ``pyproject.toml``: one source.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import griffe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_ROOT = Path(__file__).resolve().parent.parent
_SECTION = re.compile(r"^(\s*)(?:Args|Arguments|Parameters|Params|Other Parameters):\s*$")
_MULTI = re.compile(r"^(\s+)([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)+)(\s*\([^)]*\))?:(.*)$")
_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|const):`(~?)([^`]+)`")


def package_dirs(pyproject: Path = _ROOT / "pyproject.toml") -> dict[str, Path]:
    """Return ``{dotted package: folder}`` for every mapping whose name differs from its folder."""
    table = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    mapping = table["tool"]["setuptools"]["package-dir"]
    return {
        name: _ROOT / folder
        for name, folder in mapping.items()
        if name.replace(".", "/") != folder
    }


def _visit_tree(loader: griffe.GriffeLoader, name: str, folder: Path, parent: Any) -> Any:
    """Visit ``folder/__init__.py`` as module ``name`` under ``parent``, then its sub-modules."""
    init = folder / "__init__.py"
    module = _visit_file(loader, name, init, parent)
    for path in sorted(folder.iterdir()):
        if path.is_dir() and (path / "__init__.py").exists():
            _visit_tree(loader, path.name, path, module)
        elif path.suffix == ".py" and path.name != "__init__.py":
            _visit_file(loader, path.stem, path, module)
    return module


def _visit_file(loader: griffe.GriffeLoader, name: str, path: Path, parent: Any) -> Any:
    code = path.read_text(encoding="utf-8")
    loader.lines_collection[path] = code.splitlines(keepends=False)
    module = griffe.visit(
        name,
        filepath=path,
        code=code,
        extensions=loader.extensions,
        parent=parent,
        docstring_parser=loader.docstring_parser,
        docstring_options=loader.docstring_options,
        lines_collection=loader.lines_collection,
        modules_collection=loader.modules_collection,
    )
    parent.set_member(name, module)
    return module


class PackageDirs(griffe.Extension):
    """Attach the mapped sub-packages to the loaded top-level package."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        for dotted, folder in package_dirs().items():
            top, _, rest = dotted.partition(".")
            if top != pkg.name or not rest or "." in rest:
                continue
            _visit_tree(loader, rest, folder, pkg)

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None:
            text = _ROLE.sub(_role_to_code, obj.docstring.value)
            obj.docstring.value = split_shared_params(text)


def _role_to_code(match: re.Match[str]) -> str:
    """``:func:`~a.b.c``` → `` `c` `` (Sphinx's short form), ``:func:`a.b``` → `` `a.b` ``."""
    short, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def split_shared_params(text: str) -> str:
    """Rewrite ``a, b: text`` entries of ``Args:`` sections as ``a: text`` and ``b: text``.

    The entry's continuation lines (indented deeper than the entry) are copied with it.
    """
    lines = text.splitlines()
    out: list[str] = []
    section: int | None = None  # indentation of the current Args: header
    i = 0
    while i < len(lines):
        line = lines[i]
        header = _SECTION.match(line)
        if header:
            section = len(header.group(1))
            out.append(line)
            i += 1
            continue
        if section is not None and line.strip() and _indent(line) <= section:
            section = None
        entry = _MULTI.match(line) if section is not None else None
        if entry is None:
            out.append(line)
            i += 1
            continue
        lead, names, kind, rest = entry.groups()
        block = [rest]
        i += 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > len(lead)):
            if not lines[i].strip() and (i + 1 >= len(lines)
                                         or _indent(lines[i + 1]) <= len(lead)):
                break
            block.append("\n" + lines[i])
            i += 1
        for name in (n.strip() for n in names.split(",")):
            out.append(f"{lead}{name}{kind or ''}:{''.join(block)}")
    return "\n".join(out)
