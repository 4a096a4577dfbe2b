"""Train the runs a campaign stage is missing, on top of exported run records.

The lent-machine campaign stopped before finishing every interaction transfer run. This
imports the exported records into a local run store (records only: model states are not
exported), plans the stage's runs, and trains the missing transfer runs together with the
scratch runs they start from (a scratch run whose record exists but whose state was not
exported is retrained with the same seed, which replaces its record). The new records are
exported next to the old ones; the analysis scripts take both files (``--records A B``).

Usage::

    python examples/experiments/complete_runs.py --records R.jsonl.gz --out DIR
        [--stage s1] [--level interaction] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C
import campaign


def unit_task(suite, label):
    """The unit's task holding only the unit's modalities."""
    from hetero.suite import Task, TaskData

    unit = suite.unit(label)
    task = suite.task(unit.task)
    d = task.data
    data = TaskData({m: d.arrays[m] for m in unit.modalities}, d.y, d.train_idx, d.val_idx,
                    d.test_idx)  # fmt: skip
    return Task(task.name, [task.modality(m) for m in unit.modalities], task.target, data,
                n_outputs=task.n_outputs, loss=task.loss, metric=task.metric,
                higher_is_better=task.higher_is_better, source=task.source)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=Path, nargs="+", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--stage", default="s1")
    ap.add_argument("--level", default="interaction")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--suite", default="full")
    ap.add_argument("--data-dir", default=C.DATA_DIR_DEFAULT)
    args = ap.parse_args()
    from hetero.measure.executors import make_executor, run_specs
    from hetero.measure.store import RunStore

    suite = C.load_suite(argparse.Namespace(quick=False, suite=args.suite, data_dir=args.data_dir))
    est, epochs, s, b, _ = campaign.STAGES[args.stage]
    probe = campaign.probe_config(epochs, False)
    levels = C.campaign_levels(suite, estimator=est, probe=probe, seeds=range(s),
                               baseline_seeds=range(b))  # fmt: skip
    runs = levels[args.level]
    records = C.load_records(args.records)
    missing = [sp for sp in runs.specs() if sp.key not in records]
    sources = {sp.source_key for sp in missing if sp.source_key}
    specs = missing + [sp for sp in runs.scratch.values() if sp.key in sources]
    C.log(f"{len(missing)} missing runs, {len(specs) - len(missing)} source scratch runs to redo")
    args.out.mkdir(parents=True, exist_ok=True)
    store_path = args.out / "runs.sqlite"
    with RunStore(store_path) as store:
        for rec in records.values():
            if store.get(rec.key) is None:
                store.put(rec)
        from hetero.learners.registry import get_learner

        learner_config = get_learner("highmmt", **probe).get_config()
        handle = make_executor("process" if args.workers > 1 else "serial", workers=args.workers)
        try:
            stats = run_specs(specs, store, handle, learner_name="highmmt",
                              learner_config=learner_config,
                              task_for=lambda label: unit_task(suite, label), retries=1)  # fmt: skip
        finally:
            handle.close()
    C.log(f"trained {stats.trained}, failed {stats.failed}")
    # export only the records this step (re)trained
    from hetero.measure.store import RunStore as _Store

    keep = {sp.key for sp in specs}
    import gzip
    import json

    with _Store(store_path, readonly=True) as store:
        recs = [r.to_dict() for r in store.records() if r.key in keep]
    with gzip.open(args.out / "records.jsonl.gz", "wt") as fh:
        for r in recs:
            fh.write(json.dumps(r, default=float) + "\n")
    C.log(f"exported {len(recs)} records to {args.out / 'records.jsonl.gz'}")


if __name__ == "__main__":
    main()
