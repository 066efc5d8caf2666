"""goal_rl.common.memory: runs that cannot fit are refused before allocating."""

from __future__ import annotations

import pytest

from goal_rl.common import memory


def test_available_memory_is_known_here() -> None:
    have = memory.available_bytes()
    assert have is not None and have > 64 * 1024 ** 2


def test_estimate_grows_with_n_squared_and_counts_networks() -> None:
    small = memory.network_bytes(150, 5, 3, steps=150)
    assert 1e6 < small < 5e6  # 150² float64 + four float32 copies + buffers: a few MB
    big = memory.network_bytes(200_000, 5, 3, steps=150)
    assert big / memory.GIB > 298  # 200000² float64 alone is 298 GiB
    assert memory.network_bytes(150, 5, 3, steps=150, networks=10) > 9 * small


def test_check_memory_names_need_and_have(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "available_bytes", lambda: 24 * memory.GIB)
    memory.check_memory(10 * memory.GIB, "small run")
    with pytest.raises(ValueError, match=r"N = 200000 needs ≈ 300.0 GiB of memory; this "
                                         r"machine has 24.0 GiB available"):
        memory.check_memory(300 * memory.GIB, "N = 200000")
    monkeypatch.setattr(memory, "available_bytes", lambda: None)
    memory.check_memory(10 ** 15, "unknown machine")  # nothing to compare with: no error
