"""How long does `hetero compare` take, and does the 1-worker run equal the 2-worker run?

Runs :func:`hetero_models.compare.compare_plans` on a built-in suite with four candidates
(a plan that groups units by modality name, share-all, share-none and one random plan of
the same group sizes) and prints, side by side in one run:

* the wall time with 1 worker and with ``--workers`` workers (processes, one thread each),
  and their ratio;
* whether both runs gave the same per-seed rows (they must: the serial path runs with one
  thread as the workers do);
* the comparison table and its verdicts (the numbers of a short schedule, not a result).

Usage::

    python benchmarks/bench_compare.py [--suite mini] [--seeds 3] [--workers 2]
        [--preset small] [--pretrain-epochs 4] [--finetune-epochs 4] [--skip-serial]

The issue's goal: `mini` with 4 candidates x 3 seeds in <= 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time


def by_name_plan(suite):
    """Units grouped by modality name (a plan anyone could write without measuring)."""
    from hetero.plan import GroupingPlan

    groups = collections.defaultdict(list)
    for unit in suite.units():
        groups[unit.label.split("/", 1)[1]].append(unit.label)
    return GroupingPlan(list(groups.values()))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="mini")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--pretrain-epochs", type=int, default=4)
    ap.add_argument("--finetune-epochs", type=int, default=4)
    ap.add_argument("--skip-serial", action="store_true", help="only the --workers run")
    args = ap.parse_args(argv)

    from hetero.compare import Candidate, random_plans_like
    from hetero.datasets import get_suite
    from hetero.plan import GroupingPlan
    from hetero_models.compare import CompareConfig, compare_plans

    suite = get_suite(args.suite)
    plan = by_name_plan(suite)
    candidates = [
        Candidate("by-name", "plan", plan),
        Candidate("share-all", "share_all", GroupingPlan.share_all(suite)),
        Candidate("share-none", "share_none"),
        Candidate("random-1", "random", random_plans_like(plan, 1, seed=0)[0]),
    ]
    config = CompareConfig(
        hparams={"preset": args.preset},
        pretrain_epochs=args.pretrain_epochs,
        finetune_epochs=args.finetune_epochs,
    )
    runs = {}
    for workers in ([] if args.skip_serial else [1]) + [args.workers]:
        with tempfile.TemporaryDirectory() as store:
            start = time.perf_counter()
            result = compare_plans(
                suite,
                candidates,
                seeds=args.seeds,
                config=config,
                store=store,
                device="cpu",
                workers=workers,
            )
            runs[workers] = (time.perf_counter() - start, result)
    print(
        f"suite {args.suite}: {len(candidates)} candidates x {args.seeds} seeds, preset "
        f"{args.preset}, {args.pretrain_epochs} + {args.finetune_epochs} epochs"
    )
    for workers, (seconds, _) in runs.items():
        print(f"  workers {workers}: {seconds:.0f} s ({seconds / 60:.1f} min)")
    if len(runs) == 2:
        (s1, r1), (s2, r2) = runs.values()
        same = [(r["candidate"], r["seed"], r["task"], r["value"]) for r in r1.rows] == [
            (r["candidate"], r["seed"], r["task"], r["value"]) for r in r2.rows
        ]
        print(f"  speed-up {s1 / s2:.2f}x; identical rows: {same}")
    result = runs[args.workers][1]
    print(result.table())
    for line in result.verdicts().values():
        print(line)


if __name__ == "__main__":
    main()
