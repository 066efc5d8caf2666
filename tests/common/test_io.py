"""goal_rl.common.io: atomic writes keep the old file whole when interrupted, and follow
the umask."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from goal_rl.common.io import atomic_write, check_writable_dir, check_writable_file, write_json


class Interrupted(Exception):
    pass


def test_interrupted_write_leaves_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    write_json(target, {"final_mse": 0.5})
    before = target.read_bytes()

    def half_then_fail(fh) -> None:
        fh.write(b'{"final_mse": 0.')  # a torn write: half a JSON document
        fh.flush()
        raise Interrupted

    with pytest.raises(Interrupted):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == before
    assert json.loads(target.read_text()) == {"final_mse": 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # no temp file left


def test_keyboard_interrupt_in_writer_also_cleans_up(tmp_path: Path) -> None:
    def ctrl_c(fh) -> None:
        fh.write(b"x" * 1000)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "a.bin", ctrl_c)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_mode_follows_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        path = atomic_write(tmp_path / "f.txt", lambda fh: fh.write(b"hi"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert path.read_bytes() == b"hi"


def test_write_json_converts_numpy(tmp_path: Path) -> None:
    path = write_json(tmp_path / "m.json", {"a": np.float32(0.25), "b": np.arange(3),
                                            "c": np.int64(7), "p": tmp_path})
    assert json.loads(path.read_text()) == {"a": 0.25, "b": [0, 1, 2], "c": 7,
                                            "p": str(tmp_path)}


def test_writable_checks(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        check_writable_dir(tmp_path / "file")
    assert check_writable_dir(tmp_path / "new" / "deep").is_dir()
    with pytest.raises(ValueError, match="does not exist"):
        check_writable_dir(tmp_path / "absent", create=False)
    with pytest.raises(ValueError, match="is a folder"):
        check_writable_file(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        check_writable_file(tmp_path / "nope" / "a.pkl")
