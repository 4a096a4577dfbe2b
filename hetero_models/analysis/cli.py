"""``hetero analyze overlap|interference|few-shot|transfer``: analyses of trained models.

``overlap`` and ``interference`` work on ``hetero train`` output folders (share-all and
grouped, one per seed) or, without folders, train what they need here (share-all and, with
``--plan``, grouped; paired by seed). ``few-shot`` and ``transfer`` train their own runs.
Each command checks its inputs and output folder before any work and writes
``<analysis>.json``, one CSV per table and ``<analysis>.png`` into ``-o``. torch is
imported inside the commands only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hetero.cli._common import add_command
from hetero.errors import HeteroError
from hetero_models.cli import (
    DataDirOpt,
    HparamOpt,
    LrScheduleOpt,
    PresetOpt,
    TaskSamplingOpt,
    check_model,
    check_training_options,
    model_hparams,
)

__all__ = [
    "few_shot_command",
    "interference_command",
    "overlap_command",
    "register",
    "transfer_command",
]

# ------------------------------------------------------------------- shared options

SuiteArg = Annotated[
    str, typer.Argument(help="Suite YAML file (or a built-in suite name).", metavar="SUITE")
]
ModelsArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help="`hetero train` output folders (default: train share-all and, with --plan, "
        "grouped models here).",
        metavar="MODEL_DIR",
        show_default=False,
    ),
]
OutOpt = Annotated[Path, typer.Option("-o", "--out", help="Output directory.", metavar="DIR")]
PlanOpt = Annotated[
    Path | None,
    typer.Option("--plan", help="Grouping plan JSON of the grouped arm.", metavar="PLAN"),
]
SeedsOpt = Annotated[
    int, typer.Option("--seeds", min=1, help="Seeds 0..N-1 of the runs trained here.", metavar="N")
]
PretrainOpt = Annotated[
    int,
    typer.Option("--pretrain-epochs", min=0, metavar="N", help="Epochs of multitask pre-training."),
]
FinetuneOpt = Annotated[
    int,
    typer.Option("--finetune-epochs", min=0, metavar="N", help="Epochs (cap) of fine-tuning."),
]
ModelOpt = Annotated[str, typer.Option("--model", help="Registered model name.", metavar="NAME")]
BatchOpt = Annotated[
    int, typer.Option("--batch-size", min=2, metavar="N", help="Training samples per batch.")
]
LrOpt = Annotated[float, typer.Option("--lr", metavar="LR", help="Learning rate (Adam).")]
MaxTrainOpt = Annotated[
    int | None,
    typer.Option(
        "--max-train",
        min=2,
        metavar="N",
        help="Cut every task's training split to N samples (seeded, stratified).",
    ),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.", metavar="DEVICE")]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="No progress lines or verdicts.")]
PickleOpt = Annotated[
    bool,
    typer.Option(
        "--trust-pickle",
        help="Let pickle-reading dataset loaders (affect, mimic) unpickle files you trust.",
    ),
]
ResolutionOpt = Annotated[
    float,
    typer.Option(
        "--resolution",
        metavar="D",
        help="Differences below D (metric units) are worded 'no difference'.",
    ),
]


def _trainer_kwargs(
    batch_size: int, lr: float, task_sampling: str, lr_schedule: str
) -> dict[str, Any]:
    """The :class:`~hetero_models.trainer.Trainer` options of the runs trained here."""
    check_training_options(task_sampling, lr_schedule)
    return {
        "batch_size": batch_size,
        "lr": lr,
        "task_sampling": task_sampling,
        "lr_schedule": lr_schedule,
    }


def _split_list(value: str | None, what: str) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise HeteroError(f"{what}: expected a comma-separated list, got {value!r}")
    return items


def _floats(value: str, what: str) -> list[float]:
    out = []
    for item in _split_list(value, what) or []:
        try:
            out.append(float(item))
        except ValueError:
            raise HeteroError(f"{what}: {item!r} is not a number") from None
    return out


def _ints(value: str, what: str) -> list[int]:
    out = []
    for item in _split_list(value, what) or []:
        try:
            out.append(int(item))
        except ValueError:
            raise HeteroError(f"{what}: {item!r} is not an integer") from None
    return out


def _check_tasks(suite: Any, names: list[str] | None, what: str) -> None:
    for name in names or []:
        if name not in suite.task_names:
            raise HeteroError(
                f"{what}: unknown task {name!r}; expected one of: {', '.join(suite.task_names)}"
            )


def _setup(
    suite: str,
    output: Path,
    trust_pickle: bool,
    max_train: int | None,
    data_dir: Path | None = None,
):
    """Suite (capped), output folder checked (not created) before any work."""
    from hetero._io import check_output_dir
    from hetero_models.analysis.common import cap_train
    from hetero_models.cli import load_suite_arg

    the_suite = load_suite_arg(suite, trust_pickle=trust_pickle, data_dir=data_dir)
    check_output_dir(output, create=False)
    return cap_train(the_suite, max_train, seed=0)


def _logger(quiet: bool):
    if quiet:
        return None
    return lambda line: print(line, file=sys.stderr, flush=True)


def _models(suite: Any, dirs: list[Path] | None, plan: Path | None, device: str):
    """Loaded models (or None: train here) and the plan, checked before any work."""
    from hetero_models.analysis.common import load_trained
    from hetero_models.cli import load_plan_file
    from hetero_models.trainer import resolve_device

    resolve_device(device)
    if dirs and plan is not None:
        raise HeteroError("--plan: give model folders or --plan (to train here), not both")
    the_plan = load_plan_file(plan, suite) if plan is not None else None
    loaded = load_trained(dirs, suite) if dirs else None
    return loaded, the_plan


def _finish(result: Any, output: Path, quiet: bool, extra: dict[str, Any]) -> None:
    result.config.update(extra)
    result.provenance.setdefault("config", {}).update(extra)
    paths = result.write(output)
    if not quiet:
        for line in result.verdicts:
            typer.echo(line)
    typer.echo(f"wrote {output}/{', '.join(p.name for p in paths.values())}")


# ------------------------------------------------------------------- commands


def overlap_command(
    suite: SuiteArg,
    output: OutOpt,
    models: ModelsArg = None,
    plan: PlanOpt = None,
    top: Annotated[
        float,
        typer.Option("--top", metavar="X", help="Fraction x of the top-x % parameter sets."),
    ] = 0.1,
    epsilon: Annotated[
        float,
        typer.Option("--epsilon", metavar="E", help="Threshold of the involved-task counts."),
    ] = 0.2,
    objective: Annotated[
        str,
        typer.Option(
            "--objective",
            metavar="NAME",
            help="loss, or probability (of the correct label, as the paper).",
        ),
    ] = "loss",
    grad_batch: Annotated[
        int,
        typer.Option(
            "--grad-batch", min=1, metavar="N", help="Samples per gradient (1: per sample)."
        ),
    ] = 1,
    max_samples: Annotated[
        int | None,
        typer.Option(
            "--max-samples", min=1, metavar="N", help="Training samples per task (default all)."
        ),
    ] = None,
    seeds: SeedsOpt = 3,
    pretrain_epochs: PretrainOpt = 4,
    finetune_epochs: FinetuneOpt = 4,
    preset: PresetOpt = None,
    hparam: HparamOpt = None,
    model: ModelOpt = "highmmt",
    batch_size: BatchOpt = 32,
    lr: LrOpt = 8e-4,
    task_sampling: TaskSamplingOpt = "proportional",
    lr_schedule: LrScheduleOpt = "constant",
    max_train: MaxTrainOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
    data_dir: DataDirOpt = None,
    trust_pickle: PickleOpt = False,
) -> None:
    """Which parameters each task uses (gradient involvement) and how much the tasks' top
    sets overlap, share-all against grouped (paper Table 6)."""
    from hetero_models.analysis.common import train_models
    from hetero_models.analysis.overlap import OBJECTIVES, check_objective, parameter_overlap

    if objective not in OBJECTIVES:
        raise HeteroError(
            f"--objective: expected one of {', '.join(OBJECTIVES)}, got {objective!r}"
        )
    if not 0 < top <= 1:
        raise HeteroError(f"--top: expected a fraction in (0, 1], got {top}")
    if not 0 <= epsilon < 1:
        raise HeteroError(f"--epsilon: expected a value in [0, 1), got {epsilon}")
    trainer_kwargs = _trainer_kwargs(batch_size, lr, task_sampling, lr_schedule)
    the_suite = _setup(suite, output, trust_pickle, max_train, data_dir)
    check_objective(the_suite, the_suite.task_names, objective, grad_batch)
    hparams = model_hparams(model, preset, hparam)
    check_model(model, the_suite, hparams)
    loaded, the_plan = _models(the_suite, models, plan, device)
    log = _logger(quiet)
    if loaded is None:
        loaded = train_models(
            the_suite,
            the_plan,
            seeds=range(seeds),
            pretrain_epochs=pretrain_epochs,
            finetune_epochs=finetune_epochs,
            model=model,
            hparams=hparams,
            device=device,
            trainer_kwargs=trainer_kwargs,
            log=log,
        )
    result = parameter_overlap(
        loaded,
        the_suite,
        top_fraction=top,
        epsilon=epsilon,
        objective=objective,
        batch_size=grad_batch,
        max_samples=max_samples,
        device=device,
        log=log,
    )
    _finish(
        result,
        output,
        quiet,
        {"suite": suite, "plan": None if plan is None else str(plan), "max_train": max_train},
    )


def interference_command(
    suite: SuiteArg,
    output: OutOpt,
    models: ModelsArg = None,
    plan: PlanOpt = None,
    corrupt: Annotated[
        str | None,
        typer.Option(
            "--corrupt",
            metavar="TASKS",
            help="Comma-separated tasks to corrupt, one at a time (default: every task but "
            "retrieval tasks, whose labels cannot be corrupted).",
        ),
    ] = None,
    mode: Annotated[
        str,
        typer.Option("--mode", metavar="MODE", help="Label corruption: flip, shuffle or none."),
    ] = "flip",
    fraction: Annotated[
        float,
        typer.Option("--fraction", metavar="F", help="Share of the training labels corrupted."),
    ] = 1.0,
    epochs: Annotated[
        int,
        typer.Option(
            "--epochs",
            min=1,
            metavar="N",
            help="Epochs of continued training (the model after the last one is scored).",
        ),
    ] = 2,
    part: Annotated[
        str,
        typer.Option(
            "--part",
            metavar="PART",
            help="What continued training updates: all, unimodal or crossmodal.",
        ),
    ] = "all",
    seeds: SeedsOpt = 3,
    pretrain_epochs: PretrainOpt = 4,
    finetune_epochs: FinetuneOpt = 4,
    preset: PresetOpt = None,
    hparam: HparamOpt = None,
    model: ModelOpt = "highmmt",
    batch_size: BatchOpt = 32,
    lr: LrOpt = 8e-4,
    task_sampling: TaskSamplingOpt = "proportional",
    lr_schedule: LrScheduleOpt = "constant",
    max_train: MaxTrainOpt = None,
    resolution: ResolutionOpt = 0.02,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
    data_dir: DataDirOpt = None,
    trust_pickle: PickleOpt = False,
) -> None:
    """Corrupt one task's training labels at a time, keep training, and measure every
    task's test-metric change against clean training, share-all against grouped (Table 7)."""
    from hetero_models.analysis.interfere import MODES, PARTS, interference

    if mode not in MODES:
        raise HeteroError(f"--mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if part not in PARTS:
        raise HeteroError(f"--part: expected one of {', '.join(PARTS)}, got {part!r}")
    if not 0 <= fraction <= 1:
        raise HeteroError(f"--fraction: expected a fraction in [0, 1], got {fraction}")
    trainer_kwargs = _trainer_kwargs(batch_size, lr, task_sampling, lr_schedule)
    the_suite = _setup(suite, output, trust_pickle, max_train, data_dir)
    targets = _split_list(corrupt, "--corrupt")
    _check_tasks(the_suite, targets, "--corrupt")
    hparams = model_hparams(model, preset, hparam)
    check_model(model, the_suite, hparams)
    loaded, the_plan = _models(the_suite, models, plan, device)
    result = interference(
        the_suite,
        loaded,
        plan=the_plan,
        seeds=range(seeds),
        corrupt=targets,
        mode=mode,
        fraction=fraction,
        epochs=epochs,
        part=part,
        pretrain_epochs=pretrain_epochs,
        finetune_epochs=finetune_epochs,
        model=model,
        hparams=hparams,
        device=device,
        trainer_kwargs=trainer_kwargs,
        resolution=resolution,
        log=_logger(quiet),
    )
    _finish(
        result,
        output,
        quiet,
        {"suite": suite, "plan": None if plan is None else str(plan), "max_train": max_train},
    )


def few_shot_command(
    suite: SuiteArg,
    output: OutOpt,
    target: Annotated[str, typer.Option("--target", help="The few-shot task.", metavar="TASK")],
    fractions: Annotated[
        str,
        typer.Option(
            "--fractions", metavar="LIST", help="Comma-separated fractions of its training data."
        ),
    ] = "0.05,0.1,0.25,0.5,1",
    sources: Annotated[
        str | None,
        typer.Option(
            "--sources", metavar="TASKS", help="Pre-training tasks (default: all the others)."
        ),
    ] = None,
    alone_epochs: Annotated[
        int,
        typer.Option("--alone-epochs", min=1, metavar="N", help="Epoch cap of the target alone."),
    ] = 10,
    patience: Annotated[
        int, typer.Option("--patience", min=1, metavar="N", help="Early-stopping patience.")
    ] = 3,
    target_weight: Annotated[
        float,
        typer.Option(
            "--target-weight",
            metavar="W",
            help="Loss weight of the target in fine-tuning with the sources.",
        ),
    ] = 10.0,
    auxiliary: Annotated[
        bool,
        typer.Option(
            "--auxiliary/--no-auxiliary",
            help="Fine-tune together with the sources (paper appendix B.8) or on the target alone.",
        ),
    ] = True,
    seeds: SeedsOpt = 3,
    pretrain_epochs: PretrainOpt = 4,
    finetune_epochs: FinetuneOpt = 10,
    preset: PresetOpt = None,
    hparam: HparamOpt = None,
    model: ModelOpt = "highmmt",
    batch_size: BatchOpt = 32,
    lr: LrOpt = 8e-4,
    task_sampling: TaskSamplingOpt = "proportional",
    lr_schedule: LrScheduleOpt = "constant",
    max_train: MaxTrainOpt = None,
    resolution: ResolutionOpt = 0.02,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
    data_dir: DataDirOpt = None,
    trust_pickle: PickleOpt = False,
) -> None:
    """A target's test metric against the fraction of its training data, trained alone
    against fine-tuned from multitask pre-training (paper Fig. 9)."""
    from hetero_models.analysis.fewshot import few_shot
    from hetero_models.trainer import resolve_device

    fracs = _floats(fractions, "--fractions")
    if any(not 0 < f <= 1 for f in fracs):
        raise HeteroError(f"--fractions: expected fractions in (0, 1], got {fractions!r}")
    trainer_kwargs = _trainer_kwargs(batch_size, lr, task_sampling, lr_schedule)
    the_suite = _setup(suite, output, trust_pickle, max_train, data_dir)
    _check_tasks(the_suite, [target], "--target")
    srcs = _split_list(sources, "--sources")
    _check_tasks(the_suite, srcs, "--sources")
    hparams = model_hparams(model, preset, hparam)
    check_model(model, the_suite, hparams)
    resolve_device(device)
    result = few_shot(
        the_suite,
        target,
        fractions=fracs,
        seeds=range(seeds),
        sources=srcs,
        pretrain_epochs=pretrain_epochs,
        finetune_epochs=finetune_epochs,
        alone_epochs=alone_epochs,
        patience=patience,
        target_weight=target_weight,
        auxiliary=auxiliary,
        model=model,
        hparams=hparams,
        device=device,
        trainer_kwargs=trainer_kwargs,
        resolution=resolution,
        log=_logger(quiet),
    )
    _finish(result, output, quiet, {"suite": suite, "max_train": max_train})


def transfer_command(
    suite: SuiteArg,
    output: OutOpt,
    targets: Annotated[
        str | None,
        typer.Option(
            "--targets", metavar="TASKS", help="Comma-separated held-out targets (default: all)."
        ),
    ] = None,
    n_sources: Annotated[
        str | None,
        typer.Option(
            "--n-sources",
            metavar="LIST",
            help="Comma-separated numbers of source tasks (default: all the others).",
        ),
    ] = None,
    alone_epochs: Annotated[
        int,
        typer.Option(
            "--alone-epochs",
            min=1,
            metavar="N",
            help="Epoch cap of the target alone (it stops early).",
        ),
    ] = 30,
    patience: Annotated[
        int, typer.Option("--patience", min=1, metavar="N", help="Early-stopping patience.")
    ] = 3,
    seeds: SeedsOpt = 3,
    pretrain_epochs: PretrainOpt = 4,
    finetune_epochs: FinetuneOpt = 20,
    preset: PresetOpt = None,
    hparam: HparamOpt = None,
    model: ModelOpt = "highmmt",
    batch_size: BatchOpt = 32,
    lr: LrOpt = 8e-4,
    task_sampling: TaskSamplingOpt = "proportional",
    lr_schedule: LrScheduleOpt = "constant",
    max_train: MaxTrainOpt = None,
    resolution: ResolutionOpt = 0.02,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
    data_dir: DataDirOpt = None,
    trust_pickle: PickleOpt = False,
) -> None:
    """Pre-train on the other tasks, fine-tune on a held-out target, against the target
    trained alone to convergence (paper Table 3)."""
    from hetero_models.analysis.heldout import transfer
    from hetero_models.trainer import resolve_device

    trainer_kwargs = _trainer_kwargs(batch_size, lr, task_sampling, lr_schedule)
    the_suite = _setup(suite, output, trust_pickle, max_train, data_dir)
    tgts = _split_list(targets, "--targets")
    _check_tasks(the_suite, tgts, "--targets")
    counts = _ints(n_sources, "--n-sources") if n_sources is not None else None
    n_max = len(the_suite.task_names) - 1
    if counts is not None and any(not 1 <= m <= n_max for m in counts):
        raise HeteroError(f"--n-sources: expected numbers between 1 and {n_max}, got {n_sources!r}")
    hparams = model_hparams(model, preset, hparam)
    check_model(model, the_suite, hparams)
    resolve_device(device)
    result = transfer(
        the_suite,
        tgts,
        seeds=range(seeds),
        n_sources=counts,
        pretrain_epochs=pretrain_epochs,
        finetune_epochs=finetune_epochs,
        alone_epochs=alone_epochs,
        patience=patience,
        model=model,
        hparams=hparams,
        device=device,
        trainer_kwargs=trainer_kwargs,
        resolution=resolution,
        log=_logger(quiet),
    )
    _finish(result, output, quiet, {"suite": suite, "max_train": max_train})


def register(app: typer.Typer) -> None:
    """Add the ``hetero analyze`` command group to ``app``."""
    analyze = typer.Typer(
        help="Analyses of trained models: parameter overlap, interference, few-shot, transfer.",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
    )
    add_command(analyze, "overlap", overlap_command)
    add_command(analyze, "interference", interference_command)
    add_command(analyze, "few-shot", few_shot_command)
    add_command(analyze, "transfer", transfer_command)
    app.add_typer(analyze, name="analyze")
