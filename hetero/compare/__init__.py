"""Plan comparison: does a grouping plan beat share-all, share-none and random plans?

The torch side (:func:`hetero_models.compare.compare_plans`, ``hetero compare``) trains the
candidates with paired seeds; this package holds what needs no torch: the candidates and
random plans (:mod:`~hetero.compare.candidates`), the paired statistics and verdicts
(:mod:`~hetero.compare.stats`), the result and its files (:mod:`~hetero.compare.result`)
and its figures (:mod:`~hetero.compare.figures`).
"""

from hetero.compare.candidates import (
    KINDS,
    Candidate,
    ablation_plans,
    random_plans_like,
    validate_names,
)
from hetero.compare.result import COMPARE_VERSION, ROW_FIELDS, CompareResult, read_compare
from hetero.compare.stats import (
    Interval,
    candidate_scores,
    mean_interval,
    paired_bootstrap,
    paired_difference,
    rank_among,
    resolved,
    seed_and_sample_interval,
    verdict,
)

__all__ = [
    "COMPARE_VERSION",
    "KINDS",
    "ROW_FIELDS",
    "Candidate",
    "CompareResult",
    "Interval",
    "ablation_plans",
    "candidate_scores",
    "mean_interval",
    "paired_bootstrap",
    "paired_difference",
    "random_plans_like",
    "rank_among",
    "read_compare",
    "resolved",
    "seed_and_sample_interval",
    "validate_names",
    "verdict",
]
