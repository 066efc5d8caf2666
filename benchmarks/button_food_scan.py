"""Button & Food rank scan over several seeds (the paper's Fig 4): mean test score vs R.

For every seed and every rank R, a network is cloned from the expert at the 5 training
angles and scored in closed loop on the 120 test angles; the table lists the mean (and
the spread over seeds) next to the paper's values. Run::

    python benchmarks/button_food_scan.py --seeds 0,1,2 [--ranks 1,34,...,300]
        [--set key=value ...] [--out DIR]

(``--set`` takes any Button & Food setting, e.g. ``epochs_rec=1000 refit_readout=false``.)
With ``--out`` the JSON table and the score-vs-R plot are written there.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from goal_rl.tasks import make_task, parse_key_values  # noqa: E402
from goal_rl.tasks.button_food.task import PAPER_RANKS, PAPER_SCORES  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--ranks", default=",".join(str(r) for r in PAPER_RANKS))
    p.add_argument("--set", dest="settings", nargs="+", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    settings = parse_key_values(args.settings)
    task = make_task("button_food", ranks=args.ranks, seeds=args.seeds, **settings)
    out = None
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    m = task.run(out, progress=False, plot=out is not None)
    c = task.config
    print(f"Button & Food rank scan: N={c.n_rec}, tau*={c.tau_star_eff:g}, "
          f"{c.epochs_rec} epochs, refit_readout={c.refit_readout}, seeds {m['seeds']}, "
          f"{c.n_test} test angles ({time.perf_counter() - t0:.0f} s)")
    seeds = m["seeds"]
    print(f"{'R':>5}  {'mean score':>10}  {'± seeds':>8}  {'paper':>6}  "
          + "  ".join(f"seed {s:>2}" for s in seeds) + "  reached%")
    for row in m["table"]:
        per = [r for r in m["runs"] if r["rank"] == row["rank"]]
        paper = PAPER_SCORES.get(row["rank"])
        reached = 100 * sum(r["reached_fraction"] for r in per) / len(per)
        print(f"{row['rank']:>5}  {row['mean_score']:>10.2f}  {row['std_over_seeds']:>8.2f}  "
              f"{'' if paper is None else f'{paper:.1f}':>6}  "
              + "  ".join(f"{r['mean_score']:>7.2f}" for r in per) + f"  {reached:>8.0f}")


if __name__ == "__main__":
    main()
