"""The result of a plan comparison: per-seed rows and their summary (compare.json).

Everything here works from the rows alone (no torch), so a comparison written by
``hetero compare`` can be re-analysed, reported and plotted anywhere.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hetero._io import atomic_write_text, read_json, write_json
from hetero.compare.stats import (
    Interval,
    candidate_scores,
    mean_interval,
    paired_difference,
    rank_among,
    resolved,
    verdict,
)
from hetero.errors import HeteroError

__all__ = ["COMPARE_VERSION", "ROW_FIELDS", "CompareResult", "read_compare"]

COMPARE_VERSION = 1

#: Columns of compare.csv: one row per candidate, seed and task.
ROW_FIELDS = (
    "candidate",
    "kind",
    "seed",
    "task",
    "metric",
    "value",
    "higher_is_better",
    "val_value",
    "parameters",
    "best_epoch",
    "epochs_run",
    "time_s",
)

RANDOM_MEDIAN = "random (median)"


@dataclass
class CompareResult:
    """Per-seed test metrics of every candidate and what they say.

    Parameters
    ----------
    rows : list of dict
        One per candidate, seed and task (:data:`ROW_FIELDS`).
    candidates : list of dict
        ``name``, ``kind``, ``parameters`` and the group sizes of each candidate, in order.
    reference : str
        The candidate every other is compared with (paired by seed).
    resolution : float
        Half-width below which an interval counts as resolved (and a difference inside it
        as "no difference larger than").
    stop_reason : str
        Why no more seeds were added.
    config, provenance : dict
    """

    rows: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    reference: str
    resolution: float = 0.01
    stop_reason: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- analysis
    @property
    def seeds(self) -> list[int]:
        """Seeds with rows for every candidate."""
        scores = self.scores()
        names = [c["name"] for c in self.candidates]
        if not names or any(n not in scores for n in names):
            return []
        common = set.intersection(*(set(scores[n]) for n in names))
        return sorted(common)

    def scores(self) -> dict[str, dict[int, float]]:
        """``{candidate: {seed: average test metric}}``."""
        return candidate_scores(self.rows)

    def _random_names(self) -> list[str]:
        return [c["name"] for c in self.candidates if c["kind"] == "random"]

    def random_median(self) -> dict[int, float]:
        """Per seed, the median score of the random plans (paired like a candidate)."""
        scores = self.scores()
        names = [n for n in self._random_names() if n in scores]
        if not names:
            return {}
        common = set.intersection(*(set(scores[n]) for n in names))
        return {s: float(np.median([scores[n][s] for n in names])) for s in sorted(common)}

    def differences(self) -> dict[str, Interval]:
        """Paired difference ``reference - other`` for every other non-random candidate and
        the median random plan (key :data:`RANDOM_MEDIAN`)."""
        scores = self.scores()
        ref = scores.get(self.reference, {})
        out = {}
        for c in self.candidates:
            if c["name"] != self.reference and c["kind"] != "random":
                out[c["name"]] = paired_difference(ref, scores.get(c["name"], {}))
        med = self.random_median()
        if med:
            out[RANDOM_MEDIAN] = paired_difference(ref, med)
        return out

    def is_resolved(self) -> bool:
        """Every difference to the reference resolved (:func:`hetero.compare.stats.resolved`)."""
        diffs = self.differences()
        return bool(diffs) and all(resolved(d, self.resolution) for d in diffs.values())

    def verdicts(self) -> dict[str, str]:
        """A sentence per difference, worded by its interval."""
        return {
            name: verdict(self.reference, name, d, self.resolution)
            for name, d in self.differences().items()
        }

    def reference_rank(self) -> dict[str, Any] | None:
        """The reference's rank (1 = best) by mean score among the random plans, with the
        number of random plans; None without random plans."""
        scores = self.scores()
        names = [n for n in self._random_names() if n in scores]
        if not names or self.reference not in scores:
            return None
        seeds = self.seeds
        mean = {n: float(np.mean([scores[n][s] for s in seeds])) for n in [*names, self.reference]}
        rank = rank_among(mean[self.reference], [mean[n] for n in names])
        return {"rank": rank, "of": len(names) + 1, "random_plans": len(names)}

    def per_task(self) -> dict[str, dict[str, Interval]]:
        """``{candidate: {task: test metric with its interval over seeds}}``."""
        values: dict[str, dict[str, list[float]]] = {}
        keep = set(self.seeds)
        for r in self.rows:
            if int(r["seed"]) in keep:
                values.setdefault(r["candidate"], {}).setdefault(r["task"], []).append(
                    float(r["value"])
                )
        return {c: {t: mean_interval(v) for t, v in tasks.items()} for c, tasks in values.items()}

    def summary(self) -> dict[str, Any]:
        """The content of compare.json."""
        scores = self.scores()
        seeds = self.seeds
        per_task = self.per_task()
        diffs = self.differences()
        verdicts = {n: verdict(self.reference, n, d, self.resolution) for n, d in diffs.items()}
        cands = []
        for c in self.candidates:
            s = scores.get(c["name"], {})
            entry = dict(c)
            entry["score"] = mean_interval([s[k] for k in seeds if k in s]).to_dict()
            entry["tasks"] = {t: i.to_dict() for t, i in per_task.get(c["name"], {}).items()}
            if c["name"] in diffs:
                entry["difference_to_reference"] = diffs[c["name"]].to_dict()
                entry["verdict"] = verdicts[c["name"]]
            cands.append(entry)
        out: dict[str, Any] = {
            "version": COMPARE_VERSION,
            "reference": self.reference,
            "seeds": seeds,
            "resolution": self.resolution,
            "resolved": self.is_resolved(),
            "stop_reason": self.stop_reason,
            "score": "average over tasks of the test metric (lower-is-better metrics negated)",
            "candidates": cands,
            "random": None,
            "config": self.config,
            "provenance": self.provenance,
        }
        if RANDOM_MEDIAN in diffs:
            out["random"] = {
                **(self.reference_rank() or {}),
                "difference_to_median": diffs[RANDOM_MEDIAN].to_dict(),
                "verdict": verdicts[RANDOM_MEDIAN],
            }
        return out

    def table(self) -> str:
        """A plain-text table: candidate, parameters, score, difference to the reference."""
        s = self.summary()
        lines = [
            f"{'candidate':<24} {'kind':<21} {'params':>9}  {'score [95% CI]':<26} "
            f"{'reference - candidate':<28}"
        ]
        for c in s["candidates"]:
            score = _fmt(c["score"])
            diff = _fmt(c["difference_to_reference"]) if "difference_to_reference" in c else ""
            params = c.get("parameters")
            lines.append(
                f"{c['name']:<24} {c['kind']:<21} {params if params is not None else '':>9}  "
                f"{score:<26} {diff:<28}"
            )
        return "\n".join(lines)

    # ---------------------------------------------------------------- files
    def csv(self) -> str:
        """compare.csv: the per-seed rows."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(ROW_FIELDS), extrasaction="ignore")
        writer.writeheader()
        for r in sorted(self.rows, key=lambda r: (r["candidate"], int(r["seed"]), r["task"])):
            writer.writerow(r)
        return buf.getvalue()

    def write(self, directory: str | os.PathLike) -> None:
        """Write compare.json (summary + rows) and compare.csv into ``directory``."""
        directory = os.fspath(directory)
        write_json(os.path.join(directory, "compare.json"), {**self.summary(), "rows": self.rows})
        atomic_write_text(os.path.join(directory, "compare.csv"), self.csv())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str | None = None) -> CompareResult:
        """Rebuild from the content of compare.json."""
        try:
            if d.get("version") != COMPARE_VERSION:
                raise HeteroError(
                    f"'version': expected {COMPARE_VERSION}, got {d.get('version')!r}",
                    source=source,
                )
            computed = ("score", "tasks", "difference_to_reference", "verdict")
            candidates = [
                {k: v for k, v in c.items() if k not in computed} for c in d["candidates"]
            ]
            if any("name" not in c or "kind" not in c for c in candidates):
                raise HeteroError("'candidates': expected a name and kind each", source=source)
            rows = [dict(r) for r in d["rows"]]
            for r in rows:
                missing = [f for f in ("candidate", "seed", "task", "value") if f not in r]
                if missing:
                    raise HeteroError(f"'rows': a row lacks {missing[0]!r}", source=source)
            return cls(
                rows=rows,
                candidates=candidates,
                reference=str(d["reference"]),
                resolution=float(d.get("resolution", 0.01)),
                stop_reason=str(d.get("stop_reason", "")),
                config=dict(d.get("config") or {}),
                provenance=dict(d.get("provenance") or {}),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise HeteroError(f"not a comparison result ({exc})", source=source) from None


def _fmt(d: Mapping[str, Any]) -> str:
    mean, lo, hi = d.get("mean"), d.get("lo"), d.get("hi")
    if mean is None:
        return "-"
    if lo is None or hi is None:
        return f"{mean:.3f} (no interval)"
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def read_compare(path: str | os.PathLike) -> CompareResult:
    """Read compare.json (a file or the directory holding it)."""
    p = os.fspath(path)
    if os.path.isdir(p):
        p = os.path.join(p, "compare.json")
    return CompareResult.from_dict(read_json(p), source=p)
