"""Measurement campaign shared by experiments 0-3: train and store the probe runs.

Runs a list of measurement stages with :func:`hetero.measure.measure` into one run store
(runs are keyed by content, so stages share the runs they have in common) and exports the
run records to ``OUT/records.jsonl.gz`` (every ``--export-every`` seconds and at the end).
Experiments 0-3 only read these records, so the expensive part runs once.

Stages (real run, the ``full`` suite; ``E`` = probe epoch cap; transfer / baseline seeds):

====  ==========  ===  =========  ============  ===================================
name  estimator   E    seeds      baseline      levels
====  ==========  ===  =========  ============  ===================================
s1    frozen      30   0-1        0-3           modality + interaction (exp1-3 plans)
s2    finetune    30   0-1        0-1           modality (naive estimator, exp0)
s3    frozen      10   0-1        0-3           modality (smaller budget, exp0)
s4    frozen      30   0-3        0-7           modality + interaction (more seeds)
s5    frozen      10   0-3        0-7           modality
s6    finetune    30   0-3        0-3           modality
s7    logme       30   0-3        0-3           modality + interaction (the default
                                                estimator; exp1-3)
====  ==========  ===  =========  ============  ===================================

``s7``'s scratch bodies have the same run keys as ``s1``'s (same probe settings and seeds),
so in one store the two stages score the very same bodies, by a trained frozen probe and
by the closed-form LogME evidence.

After ``s1`` its distance matrices are copied to ``OUT/matrices_s1/`` (experiments 4-5 can
start from them while the later stages run).

Usage::

    python examples/experiments/campaign.py --out DIR [--stages s1,s2,...] [--workers W]
        [--deadline SECONDS] [--quick]
    python examples/experiments/campaign.py --dump-suite FILE   # pickled full suite
"""

from __future__ import annotations

import argparse
import gzip
import pickle
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C

#: name -> (estimator, epoch cap, transfer seeds, baseline seeds, interactions)
STAGES = {
    "s1": ("frozen", 30, 2, 4, True),
    "s2": ("finetune", 30, 2, 2, False),
    "s3": ("frozen", 10, 2, 4, False),
    "s4": ("frozen", 30, 4, 8, True),
    "s5": ("frozen", 10, 4, 8, False),
    "s6": ("finetune", 30, 4, 4, False),
    "s7": ("logme", 30, 4, 4, True),
}
QUICK_STAGES = {
    "s1": ("frozen", 3, 2, 2, True),
    "s2": ("finetune", 3, 2, 2, False),
    "s7": ("logme", 3, 2, 2, True),
}


def probe_config(epochs: int, quick: bool) -> dict:
    base = dict(C.QUICK_PROBE) if quick else dict(C.PROBE)
    base["max_epochs"] = int(epochs)
    return base


def run_campaign(
    suite,
    out: Path,
    *,
    stages: list[str],
    quick: bool,
    workers: int,
    deadline: float | None,
    export_every: float = 20.0,
) -> dict:
    from hetero.measure import measure

    table = QUICK_STAGES if quick else STAGES
    out.mkdir(parents=True, exist_ok=True)
    mdir = out / "measure"
    records = out / "records.jsonl.gz"
    stop = threading.Event()

    def exporter() -> None:
        while not stop.wait(export_every):
            if (mdir / "runs.sqlite").exists():
                try:
                    C.save_records(mdir / "runs.sqlite", records)
                except Exception as exc:  # keep exporting later
                    C.log("export failed:", exc)

    th = threading.Thread(target=exporter, daemon=True)
    th.start()
    t0 = time.time()
    done = {}
    if deadline is not None:

        def on_alarm(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(max(1, int(deadline)))
    try:
        for name in stages:
            est, epochs, s, b, inter = table[name]
            inter = inter and len(suite.interaction_units()) >= 2
            C.log(f"stage {name}: {est} E={epochs} seeds={s} baseline={b} interactions={inter}")
            res = measure(
                suite, mdir, learner="highmmt", learner_config=probe_config(epochs, quick),
                estimator=est, seeds=s, baseline_seeds=b, interactions=inter,
                executor="process" if workers > 1 else "serial", workers=workers,
                figures=False, stability_boot=0, retries=1,
            )  # fmt: skip
            done[name] = {"runs": res.stats.to_dict(), "elapsed_s": time.time() - t0}
            C.log(f"stage {name} done: {res.stats.trained} trained, {time.time() - t0:.0f} s")
            if name == "s1":
                snap = out / "matrices_s1"
                snap.mkdir(exist_ok=True)
                for f in ("modality.json", "interaction.json", "plan.json"):
                    if (mdir / f).exists():
                        shutil.copy(mdir / f, snap / f)
    except KeyboardInterrupt:
        C.log("deadline reached: stopping (finished runs are kept)")
    finally:
        if deadline is not None:
            signal.alarm(0)
        stop.set()
        th.join(timeout=5)
        if (mdir / "runs.sqlite").exists():
            n = C.save_records(mdir / "runs.sqlite", records)
            C.log(f"exported {n} run records to {records}")
    from hetero._io import write_json

    write_json(out / "campaign.json", {"stages": done, "quick": quick, "requested": stages})
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--stages", default=None, help="comma-separated (default: all)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--deadline", type=float, default=None, help="stop after this many s")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--suite", default="full")
    ap.add_argument("--data-dir", default=C.DATA_DIR_DEFAULT)
    ap.add_argument("--dump-suite", type=Path, default=None)
    ap.add_argument("--tasks", default=None, help="comma-separated subset of the suite's tasks")
    args = ap.parse_args()
    if args.dump_suite is not None:
        from hetero.datasets import get_suite

        suite = get_suite(args.suite, data_dir=args.data_dir)
        with gzip.open(args.dump_suite, "wb", compresslevel=6) as fh:
            pickle.dump(suite, fh)
        return
    if args.out is None:
        ap.error("--out is required")
    ns = argparse.Namespace(quick=args.quick, suite=args.suite, data_dir=args.data_dir)
    suite = C.load_suite(ns, tasks=args.tasks.split(",") if args.tasks else None)
    table = QUICK_STAGES if args.quick else STAGES
    stages = args.stages.split(",") if args.stages else list(table)
    run_campaign(suite, args.out, stages=stages, quick=args.quick, workers=args.workers,
                 deadline=args.deadline)  # fmt: skip


if __name__ == "__main__":
    main()
