""".ci/check_imports.py: the import rules hold, and a broken rule is caught."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "check_imports.py"


def _load():
    spec = importlib.util.spec_from_file_location("check_imports", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_repository_keeps_its_import_rules() -> None:
    pytest.importorskip("importlinter")
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 3 kept, 0 broken." in proc.stdout


def test_staging_lays_out_the_installed_package(tmp_path: Path) -> None:
    base = _load().stage(tmp_path)
    assert (base / "goal_rl" / "tasks" / "registry.py").is_file()
    assert (base / "goal_rl" / "envs" / "button_food.py").is_file()
    assert not (base / "tasks").exists() and not (base / "envs").exists()


def test_private_imports_are_found(tmp_path: Path) -> None:
    mod = _load()
    pkg = tmp_path / "goal_rl"
    (pkg / "common").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "common" / "__init__.py").write_text("")
    (pkg / "common" / "a.py").write_text("def _hidden():\n    pass\n\n\ndef shown():\n    pass\n")
    (pkg / "common" / "b.py").write_text(
        "from goal_rl.common.a import shown\nfrom goal_rl.common.a import _hidden\n"
        "from goal_rl.common.a import __doc__\n")
    assert mod.private_imports(tmp_path) == [
        "goal_rl/common/b.py:2: from goal_rl.common.a import _hidden"]


def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("importlinter")
    mod = _load()
    real_stage = mod.stage

    def stage_with_violation(dest: Path) -> Path:
        base = real_stage(dest)
        wrappers = base / "goal_rl" / "envs" / "wrappers.py"
        wrappers.write_text(wrappers.read_text() + "\nimport goal_rl.learning.agent\n")
        return base

    monkeypatch.setattr(mod, "stage", stage_with_violation)
    assert mod.main() == 1
