"""goal_rl.parallel.cli: the shared backend options, checked before anything runs."""

from __future__ import annotations

import pytest

from goal_rl.common.cli import OneLineParser
from goal_rl.parallel import LOCAL, InlineBackend, add_backend_args, backend_from_args
from goal_rl.parallel.cli import make_backend
from goal_rl.parallel.processes import ProcessBackend


def parse(*argv: str):
    p = OneLineParser(prog="prog")
    add_backend_args(p, what="batch")
    return p.parse_args(list(argv))


def test_defaults_and_values() -> None:
    args = parse()
    assert (args.processes, args.ray, args.cpus_per_unit, args.gpus_per_unit,
            args.retries) == (None, None, None, None, 2)
    assert parse("--ray").ray == LOCAL and parse("--ray", "auto").ray == "auto"
    assert parse("--processes", "3", "--retries", "0").processes == 3
    backend = backend_from_args(parse(), threads=3)
    assert isinstance(backend, InlineBackend) and backend.threads == 3
    with backend_from_args(parse("--processes", "2", "--cpus-per-unit", "1.5")) as pool:
        assert isinstance(pool, ProcessBackend) and pool.threads == 2 and pool.slots == 2
    with make_backend(processes=2, threads=1) as pool:
        assert pool.threads == 1


@pytest.mark.parametrize("argv,needle", [
    (["--processes", "0"], "argument --processes: must be > 0, got 0"),
    (["--processes", "two"], "invalid integer"),
    (["--processes", "2", "--ray"], "not allowed with argument"),
    (["--cpus-per-unit", "0"], "must be a positive number"),
    (["--gpus-per-unit", "-1"], "must be >= 0"),
    (["--retries", "-1"], "must be >= 0"),
])
def test_bad_options_are_one_line_exit_2(capsys, argv, needle) -> None:
    with pytest.raises(SystemExit) as info:
        parse(*argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and needle in err, err


def test_options_that_need_another_are_refused() -> None:
    with pytest.raises(ValueError, match="--gpus-per-unit needs --ray"):
        backend_from_args(parse("--processes", "2", "--gpus-per-unit", "1"))
    with pytest.raises(ValueError, match="--cpus-per-unit needs --processes or --ray"):
        backend_from_args(parse("--cpus-per-unit", "2"))
    with pytest.raises(ValueError, match="choose one of"):
        make_backend(processes=1, ray=LOCAL)
