"""Expert training: checkpoints (pickles) are only trusted in a private folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from goal_rl.tasks.walker import expert_training as et


def test_default_folder_is_private_and_not_in_tmp() -> None:
    assert not str(et.DEFAULT_CHECKPOINT_DIR).startswith("/tmp")
    assert "goal_rl" in et.DEFAULT_CHECKPOINT_DIR.parts


def test_new_folder_is_created_0700(tmp_path: Path) -> None:
    folder = et.private_checkpoint_dir(tmp_path / "a" / "ckpt")
    assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(mode)
    with pytest.raises(ValueError, match="group- or world-writable"):
        et.private_checkpoint_dir(folder)


def test_a_planted_checkpoint_file_is_refused(tmp_path: Path) -> None:
    folder = et.private_checkpoint_dir(tmp_path / "ckpt")
    planted = folder / "vecnormalize_000250000.pkl"
    planted.write_bytes(b"whatever")
    planted.chmod(0o666)
    with pytest.raises(ValueError, match="vecnormalize_000250000.pkl.*world-writable"):
        et.private_checkpoint_dir(folder)
    planted.chmod(0o600)
    assert et.private_checkpoint_dir(folder) == folder


def test_owned_by_someone_else_is_refused(tmp_path: Path, monkeypatch) -> None:
    folder = et.private_checkpoint_dir(tmp_path / "ckpt")
    monkeypatch.setattr(os, "getuid", lambda: os.stat(folder).st_uid + 1)
    with pytest.raises(ValueError, match="belongs to another user"):
        et.private_checkpoint_dir(folder)


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        et.private_checkpoint_dir(tmp_path / "f")
