"""Independent work units on one of three backends behind one interface.

A grid of runs (sweep batches, training seeds, rank-scan points) is a list of
:class:`Unit` s; a :class:`Backend` runs them and hands each result back to the driver as it
finishes, and the driver alone writes the results. The backends:

* ``inline`` (:class:`InlineBackend`, the default): one unit after the other in this
  process, exactly the old single-process path;
* ``processes`` (:class:`~goal_rl.parallel.processes.ProcessBackend`): a pool of local
  worker processes (spawned, never forked), one unit each at a time;
* ``ray`` (:class:`~goal_rl.parallel.ray_cluster.RayBackend`): Ray tasks on a local Ray
  instance or a Ray cluster, with CPU and GPU resources per unit (optional dependency:
  ``pip install 'goal_rl[ray]'``).

A unit whose worker process dies is started again (``retries`` times); a unit that raises
stops the run with its own exception. Results do not depend on the backend as long as the
units and their thread counts are the same. See ``docs/scale_out.md``.

Example::

    from goal_rl.parallel import Unit, make_backend, run_units
    units = [Unit(f"seed{s}", train_one_seed, (s,)) for s in range(6)]
    with make_backend(processes=2) as backend:
        run_units(backend, units, lambda unit, result: print(unit.key, result))
"""

from goal_rl.parallel.base import (
    Backend,
    InlineBackend,
    RemoteTraceback,
    Unit,
    UnitFailed,
    call_unit,
    crash_once,
)
from goal_rl.parallel.cli import LOCAL, add_backend_args, backend_from_args, make_backend
from goal_rl.parallel.progress import Progress, run_units

__all__ = ["LOCAL", "Backend", "InlineBackend", "Progress", "RemoteTraceback", "Unit",
           "UnitFailed", "add_backend_args", "backend_from_args", "call_unit", "crash_once",
           "make_backend", "run_units"]
