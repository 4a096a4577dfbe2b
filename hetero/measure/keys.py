"""Content keys of runs: a run is identified by everything that determines its result."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RunSpec", "run_key"]

#: Bump when the meaning of a stored run changes (invalidates every key).
KEY_VERSION = 1


def run_key(
    *,
    fingerprint: str,
    unit: str,
    learner: str,
    learner_config: dict[str, Any],
    seed: int,
    kind: str,
    mode: str = "finetune",
    keep_head: bool = False,
    max_epochs: int | None = None,
    source_key: str | None = None,
) -> str:
    """sha256 over the unit's data fingerprint, the learner, the seed and the run settings.

    For a transfer run ``source_key`` is the key of the run whose state it starts from, so the
    key changes whenever anything upstream changes (data, learner config, source seed).
    """
    payload = {
        "v": KEY_VERSION,
        "fingerprint": fingerprint,
        "unit": unit,
        "learner": learner,
        "config": learner_config,
        "seed": int(seed),
        "kind": kind,
        "mode": mode,
        "keep_head": bool(keep_head),
        "max_epochs": None if max_epochs is None else int(max_epochs),
        "source": source_key,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunSpec:
    """One run to train (picklable; travels to workers).

    Attributes
    ----------
    key : str
        Content key (:func:`run_key`).
    kind : {"scratch", "transfer"}
        From scratch, or starting from the state of ``source_key``.
    level : {"modality", "interaction"}
        Which matrix the run belongs to.
    unit : str
        Target unit label (``task/mod`` or ``task/modA+modB``).
    seed : int
        Seed of the run.
    source : str or None
        Source unit label of a transfer run (equal to ``unit`` for a self-transfer baseline).
    source_key : str or None
        Key of the source run.
    mode : {"finetune", "frozen"}
        Transfer mode.
    keep_head : bool
        Keep the transferred head (same task only).
    max_epochs : int or None
        Per-run epoch cap overriding the learner's (budgeted estimator).
    save_state : bool
        Store the run's transferable state (runs that others transfer from).
    """

    key: str
    kind: str
    level: str
    unit: str
    seed: int
    source: str | None = None
    source_key: str | None = None
    mode: str = "finetune"
    keep_head: bool = False
    max_epochs: int | None = None
    save_state: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
