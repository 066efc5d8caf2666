"""Check the package's import rules (run by ``make imports``, part of ``make test``).

1. The import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``): envs import
   nothing from the core or the tasks; the core imports nothing from the tasks or the
   entry modules.
2. No module of the package imports another module's private (``_underscore``) names.

import-linter finds a package's modules by walking its folder, and the repository keeps
``goal_rl.tasks`` and ``goal_rl.envs`` in the top-level ``tasks/`` and ``envs/`` folders (the
installed package maps them). So the check runs on a copy of the sources laid out as
installed: ``goal_rl/``, with ``tasks/`` and ``envs/`` inside it.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: repository folder → where it sits in the installed package
LAYOUT = {"goal_rl": "goal_rl", "tasks": "goal_rl/tasks", "envs": "goal_rl/envs"}


def stage(dest: Path) -> Path:
    """Copy the package's ``.py`` files into ``dest`` in the installed layout; return it."""
    for src, dst in LAYOUT.items():
        for path in (ROOT / src).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            target = dest / dst / path.relative_to(ROOT / src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return dest


def module_name(path: Path, base: Path) -> str:
    """Dotted name of the module at ``path`` below ``base``."""
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def private_imports(base: Path) -> list[str]:
    """``file:line: from X import _name`` for every import of another module's private
    name inside the package below ``base``."""
    found = []
    for path in sorted((base / "goal_rl").rglob("*.py")):
        mod = module_name(path, base)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if not node.module.startswith("goal_rl") or node.module == mod:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    rel = path.relative_to(base)
                    found.append(f"{rel}:{node.lineno}: from {node.module} import {alias.name}")
    return found


def main() -> int:
    """Run both checks; return the exit code (0: all rules kept)."""
    with tempfile.TemporaryDirectory(prefix="goal_rl_imports_") as tmp:
        base = stage(Path(tmp))
        bad = private_imports(base)
        for line in bad:
            print(f"private import: {line}")
        env = {**os.environ, "PYTHONPATH": str(base)}
        linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) \
            or "lint-imports"
        proc = subprocess.run([linter, "--no-cache", str(ROOT / "pyproject.toml")],
                              cwd=base, env=env)
    if bad:
        print(f"{len(bad)} private import(s) across modules")
    return 1 if bad or proc.returncode else 0


if __name__ == "__main__":
    raise SystemExit(main())
