"""Train the candidates of a plan comparison with paired seeds, resumably.

For seed ``s`` the fully shared model is initialised from ``s`` and pre-trained once; every
candidate that fine-tunes (a plan, share-all, share-none fine-tuned, random plans) starts
from that one checkpoint and sees the same batch order (trainer seed ``s + 1``). The
share-none candidate trains one independent model per task from scratch (initial weights
from ``s``, batches from ``s``) for the pre-training plus fine-tuning epochs. The test
metric of each (candidate, seed, task) is a row; the statistics are in
:mod:`hetero.compare`.

A store directory makes the work resumable: the checkpoint of seed ``s`` is kept in
``pretrain/seed-<s>/`` and the rows of each candidate and seed in
``runs/<candidate>/seed-<s>.json``, each with a key over the suite's data, the training
configuration, the candidate's groups and the seed. Finished work with a matching key is
reused; a changed configuration or plan is trained again.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hetero._io import exclusive_folder, read_json, write_json
from hetero._provenance import provenance
from hetero.compare import Candidate, CompareResult, validate_names
from hetero.errors import HeteroError
from hetero.measure.executors import make_executor
from hetero_models.training_options import EARLIER_DEFAULTS

__all__ = ["CompareConfig", "compare_plans", "suite_key"]


#: Fields added to :class:`CompareConfig` after runs were stored, with the value those runs
#: were trained with.
_LATER_FIELDS = EARLIER_DEFAULTS


@dataclass
class CompareConfig:
    """How every candidate is trained (the same for all of them).

    Parameters
    ----------
    model : str
        Registered model name.
    hparams : dict
        Keyword arguments of the model factory (e.g. ``{"preset": "small"}``).
    pretrain_epochs, finetune_epochs : int
        Epochs of the shared pre-training and of each candidate's fine-tuning (share-none
        trains ``pretrain_epochs + finetune_epochs``).
    batch_size : int
    lr, weight_decay : float
    patience : int, optional
        Early stopping on the validation score in every stage (the best checkpoint is
        restored either way).
    task_sampling : {"proportional", "balanced"}
        Batches per task and epoch (:class:`~hetero_models.trainer.Trainer`).
    lr_schedule : {"constant", "cosine"}
        Learning rate over each stage (:class:`~hetero_models.trainer.Trainer`).

    The last two enter the keys of stored runs only when they differ from what runs
    stored before they existed used (proportional, constant), so that those resume.
    """

    model: str = "highmmt"
    hparams: dict[str, Any] = field(default_factory=dict)
    pretrain_epochs: int = 10
    finetune_epochs: int = 10
    batch_size: int = 32
    lr: float = 8e-4
    weight_decay: float = 0.0
    patience: int | None = None
    task_sampling: str = "balanced"
    lr_schedule: str = "cosine"

    def trainer_kwargs(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "patience": self.patience,
            "task_sampling": self.task_sampling,
            "lr_schedule": self.lr_schedule,
        }

    def key_fields(self) -> dict[str, Any]:
        """The fields that identify stored runs: every field, less the fields added later
        while they hold the value runs stored before them had (those keep their keys)."""
        fields = asdict(self)
        for name, before in _LATER_FIELDS.items():
            if fields[name] == before:
                del fields[name]
        return fields


def suite_key(suite) -> str:
    """A digest of the suite's tasks (their data fingerprints)."""
    h = hashlib.sha256()
    for task in suite.tasks:
        h.update(f"{task.name}:{task.fingerprint()};".encode())
    return h.hexdigest()[:16]


def _key(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _run_key(suite_digest: str, config: CompareConfig, candidate: Candidate, seed: int) -> str:
    return _key("run", suite_digest, config.key_fields(), candidate.spec(), seed)


def _single_task_suite(suite, name: str):
    from hetero.suite import Suite

    return Suite([suite.task(name)], name=f"{suite.name}-{name}")


class _Store:
    """Rows and checkpoints under ``root``."""

    def __init__(self, root: Path):
        self.root = root

    def _rows_path(self, candidate: str, seed: int) -> Path:
        return self.root / "runs" / candidate / f"seed-{seed}.json"

    def rows(self, candidate: str, seed: int, key: str) -> list[dict[str, Any]] | None:
        """The stored rows of ``candidate`` at ``seed`` when their key is ``key``."""
        path = self._rows_path(candidate, seed)
        if not path.is_file():
            return None
        data = read_json(path)
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        return list(data["rows"])

    def save_rows(self, candidate: str, seed: int, key: str, rows: list[dict[str, Any]]) -> None:
        path = self._rows_path(candidate, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"key": key, "rows": rows})

    def checkpoint(self, seed: int) -> Path:
        return self.root / "pretrain" / f"seed-{seed}"


class _Runner:
    """Trains the candidates of one comparison."""

    def __init__(self, suite, config: CompareConfig, device, store: _Store, say):
        self.suite = suite
        self.config = config
        self.device = device
        self.store = store
        self.say = say
        self.suite_key = suite_key(suite)

    def _trainer(self, net, suite, *, epochs: int, seed: int, stage: str, tasks=None):
        from hetero_models.trainer import Trainer

        return Trainer(
            net,
            suite,
            tasks=tasks,
            epochs=epochs,
            seed=seed,
            stage=stage,
            device=self.device,
            **self.config.trainer_kwargs(),
        )

    def pretrain(self, seed: int) -> Path:
        """The folder of the pre-trained shared model of ``seed``, trained and saved there
        unless it already holds it (a resumed run starts from exactly these bytes)."""
        from hetero_models.registry import create_model, save_model
        from hetero_models.trainer import seeded_init

        # the fine-tuning length does not change the pre-training: left out of its key
        stage_config = {k: v for k, v in self.config.key_fields().items() if k != "finetune_epochs"}
        key = _key("pretrain", self.suite_key, stage_config, seed)
        where = self.store.checkpoint(seed)
        if (where / "key.json").is_file() and read_json(where / "key.json").get("key") == key:
            return where
        start = time.perf_counter()
        with seeded_init(seed):
            net = create_model(self.config.model, self.suite, **self.config.hparams)
        trainer = self._trainer(
            net, self.suite, epochs=self.config.pretrain_epochs, seed=seed, stage="pretrain"
        )
        if self.config.pretrain_epochs > 0:
            trainer.fit()
        ran, best = len(getattr(trainer, "history_", [])), getattr(trainer, "best_epoch_", 0)
        save_model(net.cpu(), where)
        write_json(where / "key.json", {"key": key, "epochs_run": ran, "best_epoch": best})
        self.say(
            f"seed {seed}: pre-trained in {time.perf_counter() - start:.0f} s "
            f"({ran} epochs, best {best})"
        )
        return where

    def _rows(self, candidate: Candidate, seed: int, metrics: dict, parameters: int):
        rows = []
        for task_name, (test, val, best_epoch, epochs_run, seconds) in metrics.items():
            task = self.suite.task(task_name)
            rows.append(
                {
                    "candidate": candidate.name,
                    "kind": candidate.kind,
                    "seed": seed,
                    "task": task_name,
                    "metric": task.metric,
                    "value": _num(test[task.metric]),
                    "higher_is_better": bool(task.higher_is_better),
                    "val_value": _num(val[task.metric]),
                    "parameters": int(parameters),
                    "best_epoch": int(best_epoch),
                    "epochs_run": int(epochs_run),
                    "time_s": round(float(seconds), 3),
                }
            )
        return rows

    def run(self, candidate: Candidate, seed: int) -> list[dict[str, Any]]:
        """Train ``candidate`` at ``seed``; its rows, also saved in the store (the caller
        looked there first)."""
        key = _run_key(self.suite_key, self.config, candidate, seed)
        start = time.perf_counter()
        if candidate.kind == "share_none":
            rows = self._share_none(candidate, seed)
        else:
            rows = self._finetuned(candidate, seed)
        self.store.save_rows(candidate.name, seed, key, rows)
        score = _mean([r["value"] if r["higher_is_better"] else -r["value"] for r in rows])
        self.say(
            f"seed {seed}: {candidate.name} score {score:.4f} ({time.perf_counter() - start:.0f} s)"
        )
        return rows

    def _finetuned(self, candidate: Candidate, seed: int) -> list[dict[str, Any]]:
        from hetero_models.registry import load_model

        net = load_model(self.pretrain(seed))
        net.apply_plan(candidate.plan)
        start = time.perf_counter()
        trainer = self._trainer(
            net, self.suite, epochs=self.config.finetune_epochs, seed=seed + 1, stage="finetune"
        )
        if self.config.finetune_epochs > 0:
            trainer.fit()
        test, val = trainer.evaluate("test"), trainer.evaluate("val")
        seconds = time.perf_counter() - start
        best = getattr(trainer, "best_epoch_", 0)
        ran = len(getattr(trainer, "history_", []))
        metrics = {t: (test[t], val[t], best, ran, seconds) for t in trainer.tasks}
        return self._rows(candidate, seed, metrics, net.parameter_report()["total"])

    def _share_none(self, candidate: Candidate, seed: int) -> list[dict[str, Any]]:
        from hetero_models.registry import create_model
        from hetero_models.trainer import seeded_init

        epochs = self.config.pretrain_epochs + self.config.finetune_epochs
        metrics, parameters = {}, 0
        for task in self.suite.tasks:
            start = time.perf_counter()
            alone = _single_task_suite(self.suite, task.name)
            with seeded_init(seed):
                net = create_model(self.config.model, alone, **self.config.hparams)
            trainer = self._trainer(net, alone, epochs=epochs, seed=seed, stage="alone")
            if epochs > 0:
                trainer.fit()
            test, val = trainer.evaluate("test"), trainer.evaluate("val")
            parameters += net.parameter_report()["total"]
            metrics[task.name] = (
                test[task.name],
                val[task.name],
                getattr(trainer, "best_epoch_", 0),
                len(getattr(trainer, "history_", [])),
                time.perf_counter() - start,
            )
        return self._rows(candidate, seed, metrics, parameters)


def _num(x: Any) -> float:
    x = float(x)
    return x if math.isfinite(x) else float("nan")


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _describe(candidate: Candidate, suite) -> dict[str, Any]:
    if candidate.plan is None:
        uni = [1] * len(suite.units())
        cross = [1] * len(suite.interaction_units())
    else:
        uni = [len(g) for g in candidate.plan.unimodal_groups]
        cross = [len(g) for g in candidate.plan.crossmodal_groups] or [
            len(suite.interaction_units())
        ]
    return {
        "name": candidate.name,
        "kind": candidate.kind,
        "parameters": None,
        "unimodal_sizes": sorted(uni, reverse=True),
        "crossmodal_sizes": sorted(cross, reverse=True) if suite.interaction_units() else [],
    }


def _pretrain_job(suite, config: CompareConfig, device, root: Path, seed: int) -> list[str]:
    """Worker job: make sure the pre-training checkpoint of ``seed`` is in the store."""
    events: list[str] = []
    _Runner(suite, config, device, _Store(root), events.append).pretrain(seed)
    return events


def _candidate_job(
    suite, config: CompareConfig, device, root: Path, candidate: Candidate, seed: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """Worker job: train one candidate at one seed; its rows and progress lines."""
    events: list[str] = []
    rows = _Runner(suite, config, device, _Store(root), events.append).run(candidate, seed)
    return rows, events


def compare_plans(
    suite,
    candidates: Sequence[Candidate],
    *,
    reference: str | None = None,
    seeds: int | str = 3,
    min_seeds: int = 3,
    max_seeds: int = 10,
    resolution: float = 0.01,
    time_limit: float | None = None,
    first_seed: int = 0,
    config: CompareConfig | None = None,
    store: str | Path | None = None,
    device: str = "auto",
    workers: int = 1,
    on_event: Callable[[str], None] | None = None,
) -> CompareResult:
    """Train every candidate with paired seeds and compare them with ``reference``.

    Parameters
    ----------
    suite : hetero.suite.Suite
    candidates : sequence of Candidate
        Every plan must cover the suite's units (and interaction units, if it groups them).
    reference : str, optional
        Name of the candidate the others are compared with (default: the first).
    seeds : int or "auto"
        A fixed number of seeds, or ``"auto"``: start with ``min_seeds`` and add one seed at
        a time until every difference to the reference is resolved (its 95 % interval
        excludes 0 or its half-width is at most ``resolution``), ``max_seeds`` is reached or
        ``time_limit`` seconds have passed.
    first_seed : int
        Seeds are ``first_seed, first_seed + 1, ...``.
    config : CompareConfig
        Training of the candidates (the same for all).
    store : path, optional
        Directory that keeps checkpoints and finished rows (resume by calling again with
        the same directory). None: a temporary directory, removed at the end.
    device : {"auto", "cpu", "cuda"}
    workers : int
        Jobs run side by side in this many worker processes, one thread each (1: in this
        process, also with one thread, so the numbers do not depend on ``workers``).
    on_event : callable, optional
        Called with one line of progress text per finished step.

    Returns
    -------
    CompareResult
    """
    from hetero_models.trainer import resolve_device

    config = config or CompareConfig()
    candidates = list(candidates)
    if not candidates:
        raise HeteroError("nothing to compare: give at least one candidate")
    validate_names(candidates)
    names = [c.name for c in candidates]
    reference = names[0] if reference is None else reference
    if reference not in names:
        raise HeteroError(f"reference {reference!r} is not a candidate (have {', '.join(names)})")
    for c in candidates:
        if c.plan is not None:
            try:
                c.plan.validate(suite)
            except HeteroError as exc:
                raise HeteroError(f"candidate {c.name!r}: {exc}") from None
    auto = seeds == "auto"
    if not auto and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise HeteroError(f"seeds: expected an integer >= 1 or 'auto', got {seeds!r}")
    if auto and not 2 <= min_seeds <= max_seeds:
        raise HeteroError(
            f"seeds: expected 2 <= min_seeds <= max_seeds, got {min_seeds} and {max_seeds}"
        )
    if not resolution > 0:
        raise HeteroError(f"resolution: expected a number > 0, got {resolution!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise HeteroError(f"workers: expected an integer >= 1, got {workers!r}")
    say = on_event or (lambda _line: None)
    dev = resolve_device(device)
    key = suite_key(suite)
    described = [_describe(c, suite) for c in candidates]
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()

    def result(stop: str) -> CompareResult:
        params: dict[str, int] = {}
        for r in rows:
            params[r["candidate"]] = r["parameters"]
        cands = [{**d, "parameters": params.get(d["name"])} for d in described]
        order = {name: i for i, name in enumerate(names)}
        ordered = sorted(rows, key=lambda r: (order[r["candidate"]], r["seed"], r["task"]))
        return CompareResult(
            rows=ordered,
            candidates=cands,
            reference=reference,
            resolution=float(resolution),
            stop_reason=stop,
            config={**asdict(config), "suite": suite.name, "suite_key": key},
            provenance=provenance(
                step="compare",
                seeds=seeds,
                min_seeds=min_seeds,
                max_seeds=max_seeds,
                resolution=resolution,
                time_limit=time_limit,
                first_seed=first_seed,
                workers=workers,
                device=str(dev),
            ),
        )

    def enough(n_done: int) -> str | None:
        """Why to stop after ``n_done`` seeds (None: add one)."""
        if not auto:
            return f"fixed number of seeds ({n_done})" if n_done >= int(seeds) else None
        if n_done < min_seeds:
            return None
        if result("").is_resolved():
            return f"every difference resolved after {n_done} seeds"
        if n_done >= max_seeds:
            return f"max_seeds ({max_seeds}) reached with differences unresolved"
        if time_limit is not None and time.perf_counter() - start >= time_limit:
            return f"time limit ({time_limit:g} s) reached after {n_done} seeds"
        say(f"{n_done} seeds: not every difference is resolved yet; adding a seed")
        return None

    with contextlib.ExitStack() as stack:
        if store is None:  # checkpoints go through a folder even when nothing is kept
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hetero-compare-")))
        else:
            root = Path(store)
            root.mkdir(parents=True, exist_ok=True)
        stack.enter_context(exclusive_folder(root, "hetero compare"))  # one writer at a time
        handle = make_executor("serial" if workers == 1 else "process", workers=workers)
        jobs = _Jobs(handle, suite, config, dev, root, say)
        try:
            n_done = 0
            first = min_seeds if auto else int(seeds)
            batch = [first_seed + i for i in range(first)]
            while True:
                rows += jobs.run(candidates, batch)
                n_done += len(batch)
                stop = enough(n_done)
                if stop is not None:
                    break
                batch = [first_seed + n_done]
        except BaseException:
            handle.close(cancel=True)
            raise
        handle.close()
    return result(stop)


class _Jobs:
    """Runs the jobs of a batch of seeds on an executor: a seed's pre-training first, then
    the candidates that fine-tune from it; share-none alongside (it needs no checkpoint)."""

    def __init__(self, handle, suite, config: CompareConfig, device, root: Path, say):
        self.handle, self.suite, self.config = handle, suite, config
        self.device, self.root, self.say = device, root, say
        self.store = _Store(root)
        self.suite_key = suite_key(suite)

    def _cached(self, candidate: Candidate, seed: int) -> list[dict[str, Any]] | None:
        key = _run_key(self.suite_key, self.config, candidate, seed)
        return self.store.rows(candidate.name, seed, key)

    def run(self, candidates: Sequence[Candidate], seeds: Sequence[int]) -> list[dict[str, Any]]:
        ex = self.handle.executor
        args = (self.suite, self.config, self.device, self.root)
        rows: list[dict[str, Any]] = []
        waiting: dict[int, list[Candidate]] = {}
        futures: dict[cf.Future, tuple[str, int]] = {}
        for seed in seeds:
            for c in candidates:
                cached = self._cached(c, seed)
                if cached is not None:
                    rows += cached
                elif c.kind == "share_none":
                    futures[ex.submit(_candidate_job, *args, c, seed)] = ("run", seed)
                else:
                    waiting.setdefault(seed, []).append(c)
            if seed in waiting:
                futures[ex.submit(_pretrain_job, *args, seed)] = ("pretrain", seed)
        while futures:
            done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
            for future in done:
                what, seed = futures.pop(future)
                if what == "pretrain":
                    for line in future.result():
                        self.say(line)
                    for c in waiting.pop(seed):
                        futures[ex.submit(_candidate_job, *args, c, seed)] = ("run", seed)
                else:
                    got, events = future.result()
                    for line in events:
                        self.say(line)
                    rows += got
        return rows
