"""Griffe extension for the docs build: follow setuptools' ``package-dir`` mapping.

The distribution installs the repository's ``tasks/`` and ``envs/`` folders as
``goal_rl.tasks`` and ``goal_rl.envs``. Python's import system knows this (setuptools writes
the mapping into the editable finder or into the wheel's layout), but griffe reads the source
tree statically and finds only ``goal_rl/``. When griffe has loaded the ``goal_rl`` package,
this extension visits every module under each mapped folder and attaches it at its installed
path, so ``::: goal_rl.tasks.registry`` works in the API pages.

It also adapts the reStructuredText habits of some docstrings to the Markdown site and to
griffe's Google-style parser: roles (``:func:`name```) become inline code, ``.. math::``
blocks and ``:math:`x``` become KaTeX math, simple tables (``=====  =====`` borders) become
Markdown tables, and an ``Args:`` entry that documents several parameters at once
(``target, output: (T, O)``) becomes one entry per parameter with the same text.

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
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_MATH_BLOCK = re.compile(r"^(\s*)\.\. math::\s*(.*)$")
_BORDER = re.compile(r"^\s*=+(\s+=+)+\s*$")
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
            text = _MATH_ROLE.sub(r"$\1$", obj.docstring.value)
            text = _ROLE.sub(_role_to_code, text)
            text = rst_tables(rst_math(text))
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


def rst_math(text: str) -> str:
    """``.. math::`` directives (the formula on the same line and/or indented below) →
    ``$$ … $$`` display math; rows with ``&`` or ``\\\\`` are set in an ``aligned`` block."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _MATH_BLOCK.match(lines[i])
        if m is None:
            out.append(lines[i])
            i += 1
            continue
        lead, first = len(m.group(1)), m.group(2).strip()
        body = [first] if first else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > lead):
            if not lines[i].strip() and body and (i + 1 >= len(lines)
                                                  or _indent(lines[i + 1]) <= lead):
                break
            if lines[i].strip():
                body.append(lines[i].strip())
            i += 1
        formula = "\n".join(body)
        if "&" in formula or "\\\\" in formula:
            formula = "\\begin{aligned}\n" + formula + "\n\\end{aligned}"
        out.extend(["", "$$", formula, "$$", ""])
    return "\n".join(out)


def rst_tables(text: str) -> str:
    """reStructuredText simple tables → Markdown tables.

    Columns are read from the border line; a row whose first column is blank, or whose
    other columns all are, continues the row above it. The rows between the first two
    borders are the header.
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _BORDER.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        border = lines[i]
        spans = [(m.start(), m.end()) for m in re.finditer(r"=+", border)]
        rows: list[list[str]] = []
        n_border, header_rows = 1, 0
        i += 1
        while i < len(lines) and n_border < 3:
            line = lines[i]
            i += 1
            if _BORDER.match(line):
                n_border += 1
                if n_border == 2:
                    header_rows = len(rows)
                continue
            if not line.strip():
                continue
            cells = []
            for k, (a, _end) in enumerate(spans):
                end = spans[k + 1][0] if k + 1 < len(spans) else len(line)
                cells.append(line[a:end].strip())
            wraps = not cells[0] or not any(cells[1:])  # a cell continued on the next line
            if rows and wraps and len(rows) != header_rows:
                rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells)]
            else:
                rows.append(cells)
        head = rows[:header_rows] or [[""] * len(spans)]
        header = [" ".join(c).strip() for c in zip(*head)]
        out.append("")
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(spans))
        for row in rows[header_rows:]:
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out)
