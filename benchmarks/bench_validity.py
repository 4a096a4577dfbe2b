"""Does an estimator predict the benefit of sharing? Ground truth and validity (issue 13).

Three steps, each a subcommand; every long one is resumable (rows are appended as they
finish and skipped when present) and meant to run niced in the background.

``truth``: the ground truth. Every unit of the suite as a single-modality problem; every
pair of units trained with ONE shared HighMMT probe body (the product's Perceiver body,
:func:`hetero_models.sharing.fit_shared`: own input standardisation, input projection and
BatchNorm + Linear head per unit, body tied) and every unit alone with the same code and
architecture; per unit the test loss at its best validation epoch (early stopping on the
validation loss). The *sharing gain* of a pair is the relative change of test loss,
``mean_u (L_alone(u) - L_pair(u)) / L_alone(u)`` over its two units (positive: sharing
helps), per seed paired with the alone runs of the same seed. One CSV row per unit and fit.

``estimators``: ``hetero measure SUITE --controls --no-interactions`` with each estimator,
into ``OUT/NAME`` (a run store may be seeded from an earlier measurement with ``--store``,
so scratch runs are reused).

``compare``: for each measured estimator, validity against the ground truth: Spearman of
``-d`` with the gain (raw and after double-centring both matrices), a Mantel permutation
p-value (units relabelled), a bootstrap interval over ground-truth seeds, the mean gain
inside the estimator's plan groups against random groups of the same sizes, the twin
control, the double-centred split-half reliability and core-seconds. The ground truth's
own split-half reliability (Spearman of the gain vectors of two halves of the seeds,
averaged over every split, Spearman-Brown projected) is the ceiling.

Usage::

    nice -n 10 python benchmarks/bench_validity.py truth --csv benchmarks/results/validity_mini.csv
    nice -n 10 python benchmarks/bench_validity.py estimators --out /tmp/val \\
        --estimators ridge,logme,frozen_short,frozen_fresh,frozen,finetune [--store runs.sqlite]
    python benchmarks/bench_validity.py compare --csv benchmarks/results/validity_mini.csv \\
        --measured /tmp/val [--json out.json]
    python benchmarks/bench_validity.py truth --quick --csv /tmp/q.csv   # smoke test (4 units)
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: Training settings of the ground truth: the probe's body and sizes (HighMMTProbe
#: defaults), trained to convergence (cap 100, patience 5) with batch 64 and lr 2e-3 (the
#: same optimum as batch 32 / lr 1e-3 at about 1.7x less CPU time per fit).
TRUTH_PROBE: dict[str, Any] = {"max_epochs": 100, "patience": 5, "batch_size": 64, "lr": 2e-3}
QUICK_UNITS = ("mfeat/image", "mfeat/fourier", "digits/image", "watch/accelerometer")

FIELDS = (
    "suite", "seed", "fit", "unit", "partner", "test_loss", "val_loss", "test_metric",
    "best_epoch", "epochs", "converged", "seconds",
)  # fmt: skip


# ---------------------------------------------------------------------------- ground truth


def truth_jobs(labels: Sequence[str], seeds: Iterable[int]) -> list[tuple[int, tuple[str, ...]]]:
    """Every fit of the ground truth, seed by seed: units alone, then every pair."""
    jobs: list[tuple[int, tuple[str, ...]]] = []
    for seed in seeds:
        jobs += [(seed, (u,)) for u in labels]
        jobs += [(seed, pair) for pair in itertools.combinations(labels, 2)]
    return jobs


def fit_name(units: Sequence[str]) -> str:
    return " | ".join(units)


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def fit_rows(
    suite: Any,
    seed: int,
    units: tuple[str, ...],
    probe: dict[str, Any],
    max_train: int | None = None,
) -> list[dict]:
    """One fit of the ground truth: CSV rows, one per unit (``suite``: a Suite or a name)."""
    from hetero_models.probes import HighMMTProbe
    from hetero_models.sharing import fit_shared

    suite = _suite(suite) if isinstance(suite, str) else suite
    res = fit_shared(
        suite, list(units), probe=HighMMTProbe(**probe), seed=seed, max_train=max_train
    )
    rows = []
    for u in units:
        rows.append(
            {
                "suite": suite.name,
                "seed": seed,
                "fit": fit_name(units),
                "unit": u,
                "partner": next((v for v in units if v != u), ""),
                "test_loss": res.test_loss[u],
                "val_loss": res.val_loss[u],
                "test_metric": res.test_metric[u],
                "best_epoch": res.best_epoch[u],
                "epochs": res.epochs,
                "converged": int(res.converged),
                "seconds": round(res.seconds, 3),
            }
        )
    return rows


def truth_rows(
    suite: Any, labels: Sequence[str], seeds: Iterable[int], probe: dict[str, Any]
) -> list[dict]:
    """Every fit of the ground truth, in this process (small suites, tests)."""
    return [
        row
        for seed, units in truth_jobs(labels, seeds)
        for row in fit_rows(suite, seed, units, probe)
    ]


_SUITES: dict[str, Any] = {}


def _suite(name: str) -> Any:
    if name not in _SUITES:
        from hetero.datasets import get_suite

        _SUITES[name] = get_suite(name)
    return _SUITES[name]


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def run_truth(
    suite_name: str,
    labels: Sequence[str],
    seeds: Sequence[int],
    csv_path: Path,
    *,
    workers: int = 2,
    probe: dict[str, Any] | None = None,
    max_train: int | None = None,
    quiet: bool = False,
) -> None:
    """Train every missing fit and append its rows to ``csv_path`` (resumable)."""
    probe = dict(TRUTH_PROBE if probe is None else probe)
    done = {(int(r["seed"]), r["fit"]) for r in read_rows(csv_path) if r["suite"] == suite_name}
    jobs = [(s, u) for s, u in truth_jobs(labels, seeds) if (s, fit_name(u)) not in done]
    if not quiet:
        print(f"{len(done)} fits stored, {len(jobs)} to train ({workers} workers)", flush=True)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    new = not csv_path.exists() or csv_path.stat().st_size == 0
    start = time.perf_counter()
    with csv_path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
            futures = [pool.submit(fit_rows, suite_name, s, u, probe, max_train) for s, u in jobs]
            for k, fut in enumerate(as_completed(futures), 1):
                rows = fut.result()
                writer.writerows(rows)
                fh.flush()
                if not quiet:
                    el = time.perf_counter() - start
                    print(f"[{k}/{len(jobs)} {el:6.0f}s] seed {rows[0]['seed']} "
                          f"{rows[0]['fit']}: {rows[0]['seconds']:.1f}s", flush=True)  # fmt: skip


#: How the alone loss of a unit enters its gains: ``"mean"``, the mean of its alone fits
#: over the seeds used (one baseline for every pair of that unit, as hetero measure's
#: baselines); ``"seed"``, the alone fit of the same seed as the pair fit.
BASELINES = ("mean", "seed")


def _losses(rows: Sequence[dict]) -> tuple[dict, dict]:
    alone: dict[tuple[int, str], float] = {}
    pair: dict[tuple[int, str, str], float] = {}
    for r in rows:
        seed, loss = int(r["seed"]), float(r["test_loss"])
        if r["partner"]:
            pair[(seed, r["unit"], r["partner"])] = loss
        else:
            alone[(seed, r["unit"])] = loss
    return alone, pair


def gain_matrices(
    rows: Sequence[dict],
    labels: Sequence[str] | None = None,
    *,
    seeds: Sequence[int] | None = None,
    baseline: str = "mean",
) -> tuple[list[str], dict[int, np.ndarray]]:
    """Per-seed sharing-gain matrices ``G[i, j]`` (symmetric, NaN diagonal) from CSV rows.

    ``G_s[i, j] = mean over u in (i, j) of (A(u) - pair_s(u)) / A(u)``, with ``A(u)`` the
    unit's alone test loss (see :data:`BASELINES`; ``seeds`` limits the seeds used for
    both); NaN where a fit is missing.
    """
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    alone, pair = _losses(rows)
    if labels is None:
        labels = sorted({u for _, u in alone})
    labels = list(labels)
    all_seeds = sorted({s for s, _ in alone})
    use = all_seeds if seeds is None else [s for s in all_seeds if s in set(seeds)]
    mean_alone = {
        u: float(np.mean([alone[(s, u)] for s in use if (s, u) in alone]))
        for u in labels
        if any((s, u) in alone for s in use)
    }
    index = {u: i for i, u in enumerate(labels)}
    out: dict[int, np.ndarray] = {}
    for seed in use:
        G = np.full((len(labels), len(labels)), np.nan)
        for a, b in itertools.combinations(labels, 2):
            keys = [(seed, a, b), (seed, b, a)]
            if baseline == "seed":
                base = {u: alone.get((seed, u), np.nan) for u in (a, b)}
            else:
                base = {u: mean_alone.get(u, np.nan) for u in (a, b)}
            if all(k in pair for k in keys):
                ga = (base[a] - pair[keys[0]]) / base[a]
                gb = (base[b] - pair[keys[1]]) / base[b]
                G[index[a], index[b]] = G[index[b], index[a]] = 0.5 * (ga + gb)
        out[seed] = G
    return labels, out


def _nanmean(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Mean over seeds ignoring NaN (the diagonal and missing fits stay NaN, silently)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(arrays, dtype=float), axis=0)


def upper(M: np.ndarray) -> np.ndarray:
    """Upper-triangle entries (the pairs) of a square matrix."""
    return M[np.triu_indices(M.shape[0], 1)]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(spearmanr(a[ok], b[ok]).statistic)


def brown(r: float, k: float = 2.0) -> float:
    """Spearman-Brown projection to ``k`` times the seeds (only for r > 0)."""
    return float(k * r / (1 + (k - 1) * r)) if np.isfinite(r) and r > 0 else float(r)


def centred(M: np.ndarray) -> np.ndarray:
    """``M`` minus its additive main effects ``e_i + e_j`` (:func:`hetero.nulls.main_effects`)."""
    from hetero.nulls import main_effects

    A = np.array(M, dtype=float)
    np.fill_diagonal(A, 0.0)
    return main_effects(A).residual


def split_half(
    rows: Sequence[dict], labels: Sequence[str], *, centre: bool = False, baseline: str = "mean"
) -> dict[str, Any]:
    """Split-half reliability of the gain matrix over every split of the seeds into two
    halves (sizes floor(n/2) and ceil(n/2); each half with its own alone baselines): mean
    Spearman of the halves' pairs, its range, and the Spearman-Brown projection to all
    seeds. ``centre``: after removing each half's main effects."""
    seeds = sorted({int(r["seed"]) for r in rows})
    n = len(seeds)
    if n < 2:
        return {"seeds": n, "spearman": float("nan"), "projected": float("nan"), "splits": 0}
    rs = []
    for half in itertools.combinations(seeds, n // 2):
        other = [s for s in seeds if s not in half]
        if n % 2 == 0 and seeds[0] not in half:
            continue  # each split once
        g = []
        for part in (half, other):
            _, per = gain_matrices(rows, labels, seeds=part, baseline=baseline)
            G = _nanmean(list(per.values()))
            g.append(centred(G) if centre else G)
        rs.append(spearman(upper(g[0]), upper(g[1])))
    ok = [r for r in rs if np.isfinite(r)]
    r = float(np.mean(ok)) if ok else float("nan")
    return {
        "seeds": n,
        "spearman": r,
        "spearman_min": float(min(ok)) if ok else float("nan"),
        "spearman_max": float(max(ok)) if ok else float("nan"),
        "projected": brown(r),
        "splits": len(rs),
    }


def partner_anova(rows: Sequence[dict], labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """Does the partner matter? Per unit, a one-way ANOVA of its pair test losses with the
    partner as the factor and the seeds as replicates (seeds where every pair of the unit
    was fitted): F, its p-value, the seed standard deviation of one fit and the standard
    deviation of the partners' mean losses."""
    from scipy import stats

    _, pair = _losses(rows)
    out = {}
    for u in labels:
        partners = [v for v in labels if v != u]
        seeds = sorted({s for (s, a, _) in pair if a == u})
        seeds = [s for s in seeds if all((s, u, v) in pair for v in partners)]
        if len(seeds) < 2 or len(partners) < 2:
            continue
        M = np.array([[pair[(s, u, v)] for s in seeds] for v in partners])
        within = float(M.var(axis=1, ddof=1).mean())
        between = float(M.mean(axis=1).var(ddof=1))
        F = between / (within / M.shape[1]) if within > 0 else float("nan")
        df1, df2 = M.shape[0] - 1, M.shape[0] * (M.shape[1] - 1)
        out[u] = {
            "F": F,
            "p": float(stats.f.sf(F, df1, df2)) if np.isfinite(F) else float("nan"),
            "seed_sd": float(np.sqrt(within)),
            "partner_sd": float(np.sqrt(between)),
            "seeds": len(seeds),
        }
    return out


def truth_summary(
    rows: Sequence[dict], labels: Sequence[str] | None = None, *, baseline: str = "mean"
) -> dict[str, Any]:
    """Mean gain matrix, its per-pair t intervals, reliability and cost of the ground truth."""
    from hetero.measure.estimators import t_half_width

    labels, per_seed = gain_matrices(rows, labels, baseline=baseline)
    stack = np.array([per_seed[s] for s in sorted(per_seed)])
    n = np.sum(np.isfinite(stack), axis=0)
    G = _nanmean(stack) if len(stack) else np.full((len(labels),) * 2, np.nan)
    if len(stack) > 1:
        sd = np.sqrt(_nanmean((stack - G) ** 2) * n / np.maximum(n - 1, 1))
    else:
        sd = np.full_like(G, np.nan)
    half = t_half_width(sd / np.sqrt(np.maximum(n, 1)), np.where(n >= 2, n - 1.0, np.nan))
    iu = np.triu_indices(len(labels), 1)
    pairs = sorted(
        (
            (float(G[i, j]), float(half[i, j]), labels[i], labels[j])
            for i, j in zip(*iu, strict=True)
            if np.isfinite(G[i, j])
        ),
        reverse=True,
    )
    significant = sum(abs(g) > h for g, h, _, _ in pairs)
    return {
        "labels": labels,
        "seeds": sorted(per_seed),
        "gain": G,
        "half_width": half,
        "per_seed": per_seed,
        "pairs": pairs,
        "significant_pairs": significant,
        "baseline": baseline,
        "partner_anova": partner_anova(rows, labels),
        "reliability": split_half(rows, labels, baseline=baseline),
        "reliability_centred": split_half(rows, labels, centre=True, baseline=baseline),
        "core_seconds": float(
            sum(float(r["seconds"]) for r in rows if r["unit"] == r["fit"].split(" | ")[0])
        ),
    }


# ---------------------------------------------------------------------------- estimators


def run_estimators(
    suite: str,
    names: Sequence[str],
    out: Path,
    *,
    store: Path | None,
    seeds: int,
    baseline_seeds: int,
    workers: int,
    groups: int = 3,
    extra: Sequence[str] = (),
) -> None:
    """``hetero measure SUITE --controls --no-interactions --retest`` per estimator."""
    hetero = ROOT / ".venv" / "bin" / "hetero"
    cmd0 = [str(hetero) if hetero.exists() else "hetero"]
    for name in names:
        dest = out / name
        dest.mkdir(parents=True, exist_ok=True)
        if store is not None and not (dest / "runs.sqlite").exists():
            import shutil

            shutil.copyfile(store, dest / "runs.sqlite")
        cmd = [
            *cmd0, "measure", suite, "--controls", "--no-interactions", "--retest",
            "--learner", "highmmt", "--estimator", name, "--seeds", str(seeds),
            "--baseline-seeds", str(baseline_seeds), "--executor", "process",
            "--workers", str(workers), "--unimodal-groups", str(groups), "--no-figures", "-q",
            "-o", str(dest), *extra,
        ]  # fmt: skip
        print("$", " ".join(cmd), flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        print(f"{name}: exit {rc}, {time.perf_counter() - t0:.0f} s wall", flush=True)


# ---------------------------------------------------------------------------- joint model

JOINT_KINDS = ("lookahead", "gradient_cosine", "representation")


def run_joint(
    suite_name: str, seeds: Sequence[int], out: Path, *, controls: bool = True, every: int = 20
) -> dict[str, Any]:
    """Affinities from one joint training of every unit (and of its twin and shuffled
    controls) per seed (:func:`hetero_models.sharing.joint_affinity`); saved to ``out``."""
    import torch

    from hetero.measure.controls import with_controls
    from hetero_models.probes import HighMMTProbe
    from hetero_models.sharing import joint_affinity

    torch.set_num_threads(1)
    suite = _suite(suite_name)
    real = [u.label for u in suite.units()]
    if controls:
        suite, _ = with_controls(suite, None, seed=0)
    labels = [u.label for u in suite.units()]
    payload: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    payload.update({"suite": suite_name, "labels": labels, "real": real, "probe": TRUTH_PROBE})
    payload.setdefault("seeds", {})
    for seed in seeds:
        if str(seed) in payload["seeds"]:
            continue
        res = joint_affinity(suite, labels, probe=HighMMTProbe(**TRUTH_PROBE), seed=seed,
                             every=every)  # fmt: skip
        payload["seeds"][str(seed)] = {
            **{k: _jsonable(getattr(res, k)) for k in JOINT_KINDS},
            "probes": res.probes, "seconds": res.seconds, "epochs": res.fit.epochs,
        }  # fmt: skip
        out.write_text(json.dumps(payload))
        print(f"joint seed {seed}: {res.seconds:.0f} s, {res.probes} probes, "
              f"{res.fit.epochs} epochs", flush=True)  # fmt: skip
    return payload


def _groups_from(d: np.ndarray, k: int) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    D = np.array(d, dtype=float)
    np.fill_diagonal(D, np.nan)
    D = D - np.nanmin(D)
    np.fill_diagonal(D, 0.0)
    return fcluster(linkage(squareform(0.5 * (D + D.T), checks=False), "average"), k, "maxclust")


def load_joint(payload: dict[str, Any], labels: Sequence[str], groups: int = 3) -> dict[str, dict]:
    """Each joint-model affinity as a measurement (``d = -affinity``) with its own twin
    control (twin nearest among the real units; twin nearer than the shuffled copy) and
    the split-half reliability between seeds."""
    from hetero.suite import Unit

    all_labels = payload["labels"]
    index = {u: i for i, u in enumerate(all_labels)}
    order = [index[u] for u in labels]
    seeds = sorted(payload["seeds"], key=int)
    out = {}
    for kind in JOINT_KINDS:
        per = [np.array(payload["seeds"][s][kind], dtype=float) for s in seeds]
        full = -_nanmean(per)
        d = full[np.ix_(order, order)]
        nearest = before = 0
        for u in labels:
            unit = Unit.parse(u)
            twin = index.get(Unit(unit.task + ".twin", unit.modalities).label)
            null = index.get(Unit(unit.task + ".null", unit.modalities).label)
            if twin is None or null is None:
                continue
            row = full[index[u]]
            strangers = [row[index[v]] for v in labels if v != u]
            nearest += row[twin] <= min(strangers)
            before += row[twin] < row[null]
        has_controls = any(".twin" in u for u in all_labels)
        retest: dict[str, Any] = {}
        if len(per) >= 2:
            a, b = (
                (-_nanmean(per[0::2]))[np.ix_(order, order)],
                (-_nanmean(per[1::2]))[np.ix_(order, order)],
            )
            retest = {
                "spearman_d_full": brown(spearman(upper(a), upper(b))),
                "spearman_d_centred_full": brown(spearman(upper(centred(a)), upper(centred(b)))),
            }
        n = len(labels)
        out[f"joint_{kind}"] = {
            "estimator": f"joint_{kind}",
            "d": d,
            "t_sum": d,
            "groups": _groups_from(d, groups),
            "controls": {
                "units": n if has_controls else None,
                "twin_nearest": int(nearest) if has_controls else None,
                "twin_before_null": int(before) if has_controls else None,
                "passed": bool(has_controls and nearest == n and before == n),
            },
            "retest": retest,
            "core_seconds": {
                "total": float(sum(payload["seeds"][s]["seconds"] for s in seeds)),
                "scratch": 0.0,
                "transfer": float(sum(payload["seeds"][s]["seconds"] for s in seeds)),
            },
        }
    return out


def trivial_predictors(labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Reference points that measure nothing: ``d = 0`` for units of the same task (or the
    same modality name), 1 otherwise."""
    from hetero.suite import Unit

    units = [Unit.parse(u) for u in labels]
    out = {}
    for name, key in (("same_task", lambda u: u.task), ("same_modality", lambda u: u.modalities)):
        d = np.array([[0.0 if key(a) == key(b) else 1.0 for b in units] for a in units])
        np.fill_diagonal(d, 0.0)
        ids: dict[Any, int] = {}
        out[name] = {
            "estimator": name,
            "d": d,
            "t_sum": d,
            "groups": np.array([ids.setdefault(key(u), len(ids)) for u in units]),
            "controls": {},
            "retest": {},
            "core_seconds": {"total": 0.0, "scratch": 0.0, "transfer": 0.0},
        }
    return out


# ---------------------------------------------------------------------------- comparison


def load_measurement(path: Path, labels: Sequence[str]) -> dict[str, Any]:
    """Distances, plan groups, controls, reliability and core-seconds of one measurement."""
    from hetero.matrix import read_matrix

    meas = json.loads((path / "measure.json").read_text())
    mat = read_matrix(path / "modality.json")
    index = {u: i for i, u in enumerate(mat.labels)}
    order = [index[u] for u in labels]
    D = np.asarray(mat.values, dtype=float)[np.ix_(order, order)]
    tmat = read_matrix(path / "modality_transfer.json")
    tindex = {u: i for i, u in enumerate(tmat.labels)}
    torder = [tindex[u] for u in labels]
    T = np.asarray(tmat.values, dtype=float)[np.ix_(torder, torder)]
    plan = json.loads((path / "plan.json").read_text())
    groups = _plan_groups(plan, labels)
    level = meas.get("levels", {}).get("modality", {})
    retest = level.get("retest") or {}
    return {
        "estimator": meas["estimator"]["name"],
        "d": D,
        "t_sum": T + T.T,
        "groups": groups,
        "controls": meas.get("controls", {}).get("modality", {}),
        "retest": retest,
        "core_seconds": _core_seconds(path / "runs.sqlite", meas),
        "runs": meas.get("runs", {}),
    }


def _plan_groups(plan: dict, labels: Sequence[str]) -> np.ndarray:
    """Group id per label from plan.json (unimodal groups)."""
    found: dict[str, int] = {}

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            for key in ("unimodal", "modality"):
                if key in obj and isinstance(obj[key], dict) and "groups" in obj[key]:
                    for g, members in enumerate(obj[key]["groups"]):
                        for m in members:
                            found.setdefault(m, g)
            for v in obj.values():
                walk(v)

    walk(plan)
    return np.array([found.get(u, -1) for u in labels])


def _core_seconds(store: Path, meas: dict) -> dict[str, float]:
    """Sum of the (single-threaded) wall times of the modality-level runs of this
    estimator in the store: scratch runs (the sources, shared by every estimator that
    reuses the store) and this estimator's transfer and baseline runs."""
    import sqlite3

    if not store.exists():
        return {"total": float("nan"), "scratch": float("nan"), "transfer": float("nan")}
    est = meas["estimator"]
    cap = est.get("budget_epochs") if est.get("score") == "auc" else est.get("transfer_epochs")
    con = sqlite3.connect(store)
    try:
        q = "SELECT SUM(wall_time) FROM runs WHERE status = 'ok' AND level = 'modality' AND "
        scratch = con.execute(q + "kind = 'scratch'").fetchone()[0] or 0.0
        transfer = (
            con.execute(
                q + "kind = 'transfer' AND mode = ? AND max_epochs IS ?",
                (est["transfer_mode"], cap),
            ).fetchone()[0]
            or 0.0
        )
    finally:
        con.close()
    return {"total": scratch + transfer, "scratch": scratch, "transfer": transfer}


def mantel_p(score: np.ndarray, gain: np.ndarray, n_perm: int = 2000, seed: int = 0) -> float:
    """One-sided permutation p-value of Spearman(score, gain) over relabellings of the units
    (the rows and columns of ``score`` permuted together: pairs sharing a unit stay
    dependent, unlike a plain test on the 45 pairs)."""
    rng = np.random.default_rng(seed)
    obs = spearman(upper(score), upper(gain))
    n = score.shape[0]
    hits = 0
    for _ in range(n_perm):
        p = rng.permutation(n)
        hits += spearman(upper(score[np.ix_(p, p)]), upper(gain)) >= obs
    return (1 + hits) / (1 + n_perm)


def group_gain(
    groups: np.ndarray, gain: np.ndarray, n_random: int = 5000, seed: int = 0
) -> dict[str, float]:
    """Mean gain of the pairs inside the groups, against random groups of the same sizes."""
    rng = np.random.default_rng(seed)

    def within(g: np.ndarray) -> float:
        same = (g[:, None] == g[None, :]) & (g[:, None] >= 0)
        np.fill_diagonal(same, False)
        vals = gain[np.triu(same, 1)]
        vals = vals[np.isfinite(vals)]
        return float(vals.mean()) if vals.size else float("nan")

    obs = within(groups)
    null = np.array([within(rng.permutation(groups)) for _ in range(n_random)])
    null = null[np.isfinite(null)]
    return {
        "plan": obs,
        "random_mean": float(null.mean()),
        "random_lo": float(np.quantile(null, 0.025)),
        "random_hi": float(np.quantile(null, 0.975)),
        "p": float((1 + np.sum(null >= obs)) / (1 + null.size)),
    }


def seed_bootstrap(
    score: np.ndarray, per_seed: dict[int, np.ndarray], *, centre: bool, n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:  # fmt: skip
    """95 % percentile interval of Spearman(score, gain) over resamples of the
    ground-truth seeds (the estimator's matrix held fixed)."""
    rng = np.random.default_rng(seed)
    seeds = sorted(per_seed)
    s = centred(score) if centre else score
    vals = []
    for _ in range(n_boot):
        pick = rng.choice(seeds, size=len(seeds), replace=True)
        G = _nanmean([per_seed[k] for k in pick])
        vals.append(spearman(upper(s), upper(centred(G) if centre else G)))
    return float(np.nanquantile(vals, 0.025)), float(np.nanquantile(vals, 0.975))


def compare(truth: dict[str, Any], measured: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row of validity statistics per estimator (see the module docstring)."""
    G, per_seed = truth["gain"], truth["per_seed"]
    rows = []
    for name, m in measured.items():
        score = -m["d"]  # small distance = should share = high predicted gain
        raw = spearman(upper(score), upper(G))
        cen = spearman(upper(centred(score)), upper(centred(G)))
        unclipped = spearman(upper(-m["t_sum"]), upper(G))
        ctl = m["controls"]
        rt = m["retest"]
        rows.append(
            {
                "estimator": name,
                "validity": raw,
                "validity_ci": seed_bootstrap(score, per_seed, centre=False),
                "validity_p": mantel_p(score, G),
                "validity_centred": cen,
                "validity_centred_ci": seed_bootstrap(score, per_seed, centre=True),
                "validity_centred_p": mantel_p(centred(score), centred(G)),
                "validity_unclipped": unclipped,
                "group_gain": group_gain(m["groups"], G),
                "twin_nearest": ctl.get("twin_nearest"),
                "twin_before_null": ctl.get("twin_before_null"),
                "control_units": ctl.get("units"),
                "controls_passed": ctl.get("passed"),
                "retest_d": rt.get("spearman_d_full"),
                "retest_centred": rt.get("spearman_d_centred_full"),
                "core_seconds": m["core_seconds"],
            }
        )
    return rows


def _fmt(x: Any, nd: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{nd}f}"


def _count(k: Any, n: Any) -> str:
    return "n/a" if k is None or n is None else f"{k}/{n}"


def print_summary(truth: dict[str, Any], rows: Sequence[dict[str, Any]]) -> None:
    rel, relc = truth["reliability"], truth["reliability_centred"]
    print(
        f"ground truth: {len(truth['labels'])} units, seeds {truth['seeds']}, "
        f"{truth['core_seconds']:.0f} core-s; split-half Spearman of the gain "
        f"{_fmt(rel['spearman'])} (range {_fmt(rel.get('spearman_min'))}-"
        f"{_fmt(rel.get('spearman_max'))} over {rel['splits']} splits; projected "
        f"{_fmt(rel['projected'])}); double-centred {_fmt(relc['spearman'])} (projected "
        f"{_fmt(relc['projected'])}); {truth['significant_pairs']} of {len(truth['pairs'])} "
        "pair gains with a 95 % t interval excluding 0"
    )
    anova = truth.get("partner_anova") or {}
    if anova:
        sig = [u for u, a in anova.items() if a["p"] < 0.05]
        print(
            f"partner effect (one-way ANOVA of each unit's pair test losses, partners x "
            f"seeds): p < 0.05 for {len(sig)} of {len(anova)} units"
            + (f" ({', '.join(sig)})" if sig else "")
            + "; F per unit: "
            + ", ".join(f"{u} {a['F']:.2f} (p {a['p']:.2f})" for u, a in anova.items())
        )
    print(
        "largest gains:",
        "; ".join(f"{a} + {b} {g:+.3f} +- {h:.3f}" for g, h, a, b in truth["pairs"][:3]),
    )
    print(
        "smallest gains:",
        "; ".join(f"{a} + {b} {g:+.3f} +- {h:.3f}" for g, h, a, b in truth["pairs"][-3:]),
    )
    if not rows:
        return
    print()
    print("| estimator | Spearman(-d, gain) [seed-bootstrap 95 %] (Mantel p) | double-centred | "
          "unclipped T12+T21 | gain in plan groups vs random [95 %] (p) | twin nearest | "
          "twin before null | retest d (centred), projected | core-s (transfers) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        gg = r["group_gain"]
        print(
            f"| {r['estimator']} | {_fmt(r['validity'])} [{_fmt(r['validity_ci'][0])}, "
            f"{_fmt(r['validity_ci'][1])}] (p {_fmt(r['validity_p'], 3)}) | "
            f"{_fmt(r['validity_centred'])} [{_fmt(r['validity_centred_ci'][0])}, "
            f"{_fmt(r['validity_centred_ci'][1])}] (p {_fmt(r['validity_centred_p'], 3)}) | "
            f"{_fmt(r['validity_unclipped'])} | {_fmt(gg['plan'], 3)} vs {_fmt(gg['random_mean'], 3)} "
            f"[{_fmt(gg['random_lo'], 3)}, {_fmt(gg['random_hi'], 3)}] (p {_fmt(gg['p'], 3)}) | "
            f"{_count(r['twin_nearest'], r['control_units'])} | "
            f"{_count(r['twin_before_null'], r['control_units'])} | "
            f"{_fmt(r['retest_d'])} ({_fmt(r['retest_centred'])}) | "
            f"{_fmt(r['core_seconds']['total'], 0)} ({_fmt(r['core_seconds']['transfer'], 0)}) |"
        )


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    return obj


# ---------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("truth", help="train the ground truth (resumable)")
    t.add_argument("--suite", default="mini")
    t.add_argument("--seeds", type=int, default=3)
    t.add_argument("--workers", type=int, default=2)
    t.add_argument("--csv", type=Path, required=True)
    t.add_argument("--units", default=None, help="comma-separated unit labels (default: all)")
    t.add_argument("--quick", action="store_true", help="4 units, 2 seeds, 20-epoch cap")
    t.add_argument("--max-train", type=int, default=None,
                   help="train each unit on this many samples (low-data regime)")  # fmt: skip
    e = sub.add_parser("estimators", help="hetero measure --controls per estimator")
    e.add_argument("--suite", default="mini")
    e.add_argument("--estimators", default="ridge,logme,frozen_short,frozen_fresh,frozen,finetune")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--store", type=Path, default=None, help="run store to start each from")
    e.add_argument("--seeds", type=int, default=2)
    e.add_argument("--baseline-seeds", type=int, default=2)
    e.add_argument("--workers", type=int, default=2)
    j = sub.add_parser("joint", help="affinities from one joint training per seed")
    j.add_argument("--suite", default="mini")
    j.add_argument("--seeds", type=int, default=2)
    j.add_argument("--out", type=Path, required=True)
    j.add_argument("--every", type=int, default=20, help="steps between gradient probes")
    j.add_argument("--no-controls", action="store_true")
    c = sub.add_parser("compare", help="validity of each measured estimator")
    c.add_argument("--csv", type=Path, required=True)
    c.add_argument("--measured", type=Path, default=None, help="folder of OUT/NAME measurements")
    c.add_argument("--json", type=Path, default=None)
    c.add_argument("--joint", type=Path, default=None, help="output of the joint subcommand")
    c.add_argument("--baseline", choices=BASELINES, default="mean",
                   help="alone loss of a unit: mean over seeds, or the same seed's fit")  # fmt: skip
    args = ap.parse_args(argv)

    if args.cmd == "truth":
        suite = _suite(args.suite)
        labels = [u.label for u in suite.units()] if args.units is None else args.units.split(",")
        probe = dict(TRUTH_PROBE)
        seeds = args.seeds
        if args.quick:
            labels = [u for u in QUICK_UNITS if u in labels] or labels[:4]
            probe["max_epochs"], seeds = 20, 2
        run_truth(args.suite, labels, range(seeds), args.csv, workers=args.workers, probe=probe,
                  max_train=args.max_train)  # fmt: skip
        truth = truth_summary(read_rows(args.csv), labels)
        print_summary(truth, [])
        return 0
    if args.cmd == "estimators":
        run_estimators(
            args.suite, args.estimators.split(","), args.out, store=args.store,
            seeds=args.seeds, baseline_seeds=args.baseline_seeds, workers=args.workers,
        )  # fmt: skip
        return 0
    if args.cmd == "joint":
        run_joint(args.suite, range(args.seeds), args.out, controls=not args.no_controls,
                  every=args.every)  # fmt: skip
        return 0
    rows_csv = read_rows(args.csv)
    truth = truth_summary(rows_csv, baseline=args.baseline)
    measured = {}
    if args.measured is not None:
        for path in sorted(p for p in args.measured.iterdir() if (p / "measure.json").exists()):
            measured[path.name] = load_measurement(path, truth["labels"])
    if args.joint is not None:
        measured.update(load_joint(json.loads(args.joint.read_text()), truth["labels"]))
    measured.update(trivial_predictors(truth["labels"]))
    rows = compare(truth, measured)
    print_summary(truth, rows)
    if args.json is not None:
        payload = {"truth": {k: v for k, v in truth.items() if k != "per_seed"}, "estimators": rows}
        args.json.write_text(json.dumps(_jsonable(payload), indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
