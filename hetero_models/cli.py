"""``hetero train`` (two-stage HighMMT training) and ``hetero compare`` (plans trained with
paired seeds) from the command line.

Registered into the ``hetero`` CLI through the ``hetero.cli`` entry point. torch is
imported inside the command only, so ``hetero --help`` stays fast.

Under ``torchrun`` (``WORLD_SIZE > 1``) the command joins the process group (gloo on CPU,
NCCL on CUDA), trains with distributed data parallel and only rank 0 writes files::

    torchrun --nproc_per_node 2 "$(which hetero)" train suite.yaml -o out --device cpu
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from hetero.cli._common import TrustPickleOpt, add_command, parse_seeds
from hetero.errors import HeteroError

__all__ = [
    "DataDirOpt",
    "HparamOpt",
    "PresetOpt",
    "compare_command",
    "load_plan_file",
    "load_suite_arg",
    "model_hparams",
    "register",
    "train_command",
]


#: ``--preset`` of the commands that build a HighMMT.
PresetOpt = Annotated[
    str | None,
    typer.Option(
        "--preset",
        help="HighMMT hyperparameters of one of the paper's task settings, not model sizes "
        "(all about 0.5 M parameters): large-setting (default), small-setting, "
        "medium-setting; short forms large, small, medium.",
        metavar="NAME",
    ),
]
#: ``--hparam`` of the commands that build a model (train, compare, analyze).
HparamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--hparam",
        help="A model keyword argument (repeatable): e.g. unimodal=false (HighMMT without "
        "its unimodal encoder, the paper's Table 5 ablation), cpu_amp=true (bf16 on the "
        "CPU: faster where the CPU has native bf16) or norm=layer; values are read as JSON "
        "(numbers, true/false) or else as text.",
        metavar="KEY=VALUE",
    ),
]
#: ``--task-sampling`` of the commands that train a shared model (train, compare, analyze).
TaskSamplingOpt = Annotated[
    str,
    typer.Option(
        "--task-sampling",
        metavar="MODE",
        help="Batches per task and epoch: proportional (one pass over each task's data) "
        "or balanced (every task as many batches as the largest).",
    ),
]


#: ``--lr-schedule`` of the commands that train a shared model (train, compare, analyze).
LrScheduleOpt = Annotated[
    str,
    typer.Option(
        "--lr-schedule",
        metavar="NAME",
        help="Learning rate over each stage: constant, or cosine (linear warm-up over one "
        "epoch, or a tenth of the steps below 10 epochs, then a half cosine down to 0 at "
        "the last epoch).",
    ),
]


def check_training_options(task_sampling: str, lr_schedule: str, **numbers: Any) -> None:
    """One-line error for a ``--task-sampling`` or ``--lr-schedule`` value the trainer does
    not know, or for one of ``numbers`` (``lr``, ``weight_decay``, ``patience``, ...) out of
    its range (:func:`~hetero_models.training_options.check_numbers`): before anything is
    created or trained."""
    from hetero_models.training_options import LR_SCHEDULES, TASK_SAMPLING, check_numbers

    check_numbers(**numbers)

    for option, value, valid in (
        ("--task-sampling", task_sampling, TASK_SAMPLING),
        ("--lr-schedule", lr_schedule, LR_SCHEDULES),
    ):
        if value not in valid:
            raise HeteroError(f"{option}: expected one of {', '.join(valid)}, got {value!r}")


#: ``--data-dir`` of the commands that load a suite (as ``hetero measure --data-dir``).
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder of local dataset copies for path loaders (default $HETERO_DATA_DIR).",
        metavar="DIR",
    ),
]


def load_suite_arg(
    value: str, *, trust_pickle: bool = False, data_dir: str | os.PathLike | None = None
):
    """A built-in suite name or a suite YAML file (:func:`hetero.datasets.get_suite`).

    ``trust_pickle`` comes from the person running the command (``--trust-pickle``);
    ``data_dir`` (``--data-dir``) is the folder of local dataset copies that path loaders
    read (None: $HETERO_DATA_DIR).
    """
    from hetero.datasets import get_suite

    return get_suite(value, data_dir=data_dir, trust_pickle=trust_pickle)


def load_plan_file(path: str | os.PathLike, suite=None):
    """Read a plan JSON (``hetero.plan.GroupingPlan`` when available), checked against ``suite``."""
    try:
        from hetero.plan import GroupingPlan
    except ImportError:  # plan module absent: read the documented JSON format directly
        from hetero._io import read_json

        data = read_json(path)
        try:
            return {
                "unimodal_groups": data["unimodal"]["groups"],
                "crossmodal_groups": (data.get("crossmodal") or {}).get("groups", []),
            }
        except (KeyError, TypeError, AttributeError):
            raise HeteroError(
                "unimodal.groups: missing (expected a grouping plan)", source=path
            ) from None
    plan = GroupingPlan.read(path)
    if suite is not None:
        plan.validate(suite)
    return plan


def _history_csv(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buf.getvalue()


def model_hparams(
    model: str, preset: str | None, hparam: Sequence[str] | None = None
) -> dict[str, Any]:
    """The model keyword arguments of ``--preset`` and ``--hparam KEY=VALUE`` options.

    ``{"preset": preset}`` for a model that takes one (nothing without ``--preset``), plus
    each ``--hparam`` (its value parsed as JSON, else kept as text). Raises a one-line
    error when registered model ``model`` takes no ``preset`` keyword (an unknown model is
    left for ``create_model`` to report) or an item is not ``KEY=VALUE``.
    """
    import inspect

    from hetero_models.registry import MODELS

    out: dict[str, Any] = {}
    if preset is not None:
        if model in MODELS:
            params = inspect.signature(MODELS.get(model)).parameters.values()
            if not any(p.name == "preset" or p.kind is p.VAR_KEYWORD for p in params):
                raise HeteroError(f"--preset: model {model!r} takes no preset")
        out["preset"] = preset
    for item in hparam or ():
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise HeteroError(f"--hparam {item!r}: expected KEY=VALUE (e.g. norm=layer)")
        if key == "preset":
            raise HeteroError("--hparam preset=...: use --preset")
        words = {"true": True, "false": False, "none": None, "null": None}
        if raw.strip().lower() in words:  # True, FALSE, None: not JSON, but meant as such
            out[key] = words[raw.strip().lower()]
            continue
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def check_model(model: str, suite, hparams: dict[str, Any]) -> None:
    """Build ``model`` on ``suite`` once so that a bad name or keyword fails before any run."""
    from hetero_models.registry import create_model
    from hetero_models.trainer import seeded_init

    try:
        with seeded_init(0):  # leaves the caller's random stream as it was
            create_model(model, suite, **hparams)
    except TypeError as exc:  # a plug-in model's own signature
        raise HeteroError(
            f"model {model!r} does not take the options {sorted(hparams)} ({exc})"
        ) from None


def train_command(
    suite: Annotated[
        str, typer.Argument(help="Suite YAML file (or a built-in suite name).", metavar="SUITE")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--out", help="Output directory (created when training ends).", metavar="DIR"
        ),
    ],
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Grouping plan JSON for fine-tuning.", metavar="PLAN"),
    ] = None,
    preset: PresetOpt = None,
    hparam: HparamOpt = None,
    model: Annotated[
        str, typer.Option("--model", help="Registered model name.", metavar="NAME")
    ] = "highmmt",
    pretrain_epochs: Annotated[
        int,
        typer.Option(
            "--pretrain-epochs", min=0, metavar="N", help="Epochs of multitask pre-training."
        ),
    ] = 10,
    finetune_epochs: Annotated[
        int,
        typer.Option(
            "--finetune-epochs", min=0, metavar="N", help="Epochs of fine-tuning with the plan."
        ),
    ] = 10,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=2, metavar="N", help="Samples per batch.")
    ] = 32,
    lr: Annotated[float, typer.Option("--lr", metavar="LR", help="Learning rate (Adam).")] = 8e-4,
    weight_decay: Annotated[
        float, typer.Option("--weight-decay", metavar="WD", help="Weight decay.")
    ] = 0.0,
    patience: Annotated[
        int | None, typer.Option("--patience", help="Early-stopping patience.", metavar="N")
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="auto, cpu or cuda.", metavar="DEVICE")
    ] = "auto",
    seed: Annotated[
        int, typer.Option("--seed", metavar="SEED", help="Seed of initialisation and batches.")
    ] = 0,
    task_sampling: TaskSamplingOpt = "balanced",
    lr_schedule: LrScheduleOpt = "cosine",
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="No per-epoch progress lines.")
    ] = False,
    data_dir: DataDirOpt = None,
    trust_pickle: TrustPickleOpt = False,
) -> None:
    """Pre-train a fully shared model, fine-tune it with a plan, write metrics and weights."""
    import torch

    from hetero._io import atomic_write_text, check_output_dir, write_json
    from hetero._provenance import provenance
    from hetero_models.registry import save_model
    from hetero_models.trainer import Trainer, resolve_device, train_two_stage

    dev = resolve_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(dev)
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0

    # every input and the output checked before anything trains
    the_suite = load_suite_arg(suite, trust_pickle=trust_pickle, data_dir=data_dir)
    the_plan = load_plan_file(plan, the_suite) if plan is not None else None
    hparams = model_hparams(model, preset, hparam)
    check_model(model, the_suite, hparams)
    check_training_options(
        task_sampling, lr_schedule, lr=lr, weight_decay=weight_decay, patience=patience
    )
    if rank == 0:
        check_output_dir(output, create=False)  # created only when there is something to save
    net, history = train_two_stage(
        the_suite,
        the_plan,
        model=model,
        hparams=hparams,
        pretrain_epochs=pretrain_epochs,
        finetune_epochs=finetune_epochs,
        seed=seed,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        patience=patience,
        device=dev,
        progress=not quiet,
        task_sampling=task_sampling,
        lr_schedule=lr_schedule,
    )
    evaluator = Trainer(net, the_suite, device=dev)
    test = evaluator.evaluate("test")
    val = evaluator.evaluate("val")
    if rank == 0:
        config = {
            "suite": suite,
            "plan": None if plan is None else str(plan),
            "preset": preset,
            "model": model,
            "pretrain_epochs": pretrain_epochs,
            "finetune_epochs": finetune_epochs,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "patience": patience,
            "task_sampling": task_sampling,
            "lr_schedule": lr_schedule,
            "device": str(dev),
            "seed": seed,
            "world_size": world,
        }
        metrics = {
            "test": test,
            "val": val,
            "parameters": net.parameter_report(),
            "groups": net.groups(),
            "provenance": {**provenance(**config), "torch": torch.__version__},
        }
        output.mkdir(parents=True, exist_ok=True)
        save_model(net, output)
        atomic_write_text(output / "history.csv", _history_csv(history))
        write_json(output / "metrics.json", metrics)
        if not quiet:
            for task, m in test.items():
                shown = ", ".join(f"{k} {v:.4f}" for k, v in m.items() if isinstance(v, float))
                typer.echo(f"test {task}: {shown}")
        typer.echo(f"wrote {output}/metrics.json, history.csv, model.safetensors, config.json")
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


#: Splits ``hetero predict`` can read.
PREDICT_SPLITS = ("train", "val", "test")


def _prediction_rows(task, split: str, logits, targets) -> list[dict[str, Any]]:
    """One row per sample of ``split``: its index in the task's data, target, prediction
    and (classification) the score behind it."""
    import numpy as np
    import torch

    from hetero.scoring import predictions

    out, y = logits.float().cpu().numpy(), targets.cpu().numpy()
    index = np.asarray(getattr(task.data, f"{split}_idx"))

    def text(v: Any) -> str:
        flat = np.asarray(v).reshape(-1)
        return ";".join(f"{x:.6g}" if np.issubdtype(flat.dtype, np.floating) else str(x)
                        for x in flat)  # fmt: skip

    if task.target == "regression":
        pred, scores = out, None
    else:
        pred, scores = predictions(task.target, out)
        if scores is None:  # multiclass: the softmax probability of the predicted class
            prob = torch.softmax(logits.float(), dim=1).cpu().numpy()
            scores = prob[np.arange(len(pred)), pred]
    return [
        {"task": task.name, "split": split, "index": int(index[i]), "target": text(y[i]),
         "prediction": text(pred[i]), "score": "" if scores is None else text(scores[i])}
        for i in range(len(y))
    ]  # fmt: skip


def predict_command(
    model_dir: Annotated[
        Path,
        typer.Argument(help="A model folder written by hetero train (-o DIR).", metavar="MODEL"),
    ],
    suite: Annotated[
        str,
        typer.Argument(help="Suite YAML file (or a built-in suite name).", metavar="SUITE"),
    ],
    output: Annotated[
        Path,
        typer.Option("-o", "--out", help="CSV file of the predictions.", metavar="FILE"),
    ],
    split: Annotated[
        list[str] | None,
        typer.Option("--split", help="Split(s) to predict (default: test).", metavar="SPLIT"),
    ] = None,
    task: Annotated[
        list[str] | None,
        typer.Option("--task", help="Only this task (repeatable).", metavar="TASK"),
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="auto, cpu or cuda.", metavar="DEVICE")
    ] = "auto",
    data_dir: DataDirOpt = None,
    trust_pickle: TrustPickleOpt = False,
) -> None:
    """Apply a trained model to a suite's splits: one CSV row per sample (task, split,
    index, target, prediction, score) and each task's metrics on stdout."""
    from hetero._io import atomic_write_text
    from hetero_models.inputs import ModelSpec
    from hetero_models.registry import load_model
    from hetero_models.trainer import Trainer, resolve_device

    splits = list(dict.fromkeys(split or ["test"]))
    for name in splits:
        if name not in PREDICT_SPLITS:
            raise HeteroError(f"--split: expected one of {', '.join(PREDICT_SPLITS)}, got {name!r}")
    the_suite = load_suite_arg(suite, trust_pickle=trust_pickle, data_dir=data_dir)
    if output.is_dir():
        raise HeteroError("is a directory; expected a CSV file name", source=output)
    dev = resolve_device(device)
    net = load_model(model_dir, device=str(dev)).eval()
    known = [t.name for t in net.spec.tasks]
    tasks = list(dict.fromkeys(task or [t for t in known if t in the_suite.task_names]))
    if not tasks:
        raise HeteroError(
            f"the model's tasks ({', '.join(known)}) are not in suite {the_suite.name!r}",
            source=model_dir,
        )
    given = ModelSpec.from_suite(the_suite)
    for name in tasks:
        if name not in known:
            raise HeteroError(f"--task {name!r}: the model has no such task (it has: "
                              f"{', '.join(known)})")  # fmt: skip
        if name not in the_suite.task_names:
            raise HeteroError(f"--task {name!r}: not in suite {the_suite.name!r}")
        mine, theirs = net.spec.task(name).to_dict(), given.task(name).to_dict()
        if mine != theirs:
            raise HeteroError(
                f"task {name!r}: the suite's modalities or outputs differ from those the model "
                f"was trained on (model {json.dumps(mine)[:300]}, suite "
                f"{json.dumps(theirs)[:300]})",
                source=model_dir,
            )
        if the_suite.task(name).target == "retrieval":
            raise HeteroError(f"task {name!r}: a retrieval task has no per-sample predictions")
    runner = Trainer(net, the_suite, tasks=tasks, device=dev)
    rows: list[dict[str, Any]] = []
    for name in splits:
        outputs = runner.predict(name, tasks)
        for t in tasks:
            if t in outputs:
                rows += _prediction_rows(the_suite.task(t), name, *outputs[t])
        for t, metrics in runner.metrics(outputs, tasks).items():
            shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
            typer.echo(f"{name} {t}: {shown}")
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=["task", "split", "index", "target", "prediction", "score"],
        lineterminator="\n",
    )  # fmt: skip
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(output, buf.getvalue())
    typer.echo(f"wrote {len(rows)} predictions to {output}")


def _parse_plan_option(value: str, suite) -> tuple[str, Any]:
    """``NAME=plan.json`` (or a bare path, named after its file) -> (name, plan)."""
    name, sep, path = value.partition("=")
    if not sep:
        name, path = Path(value).stem, value
    if not name or not path:
        raise HeteroError(f"--plan {value!r}: expected NAME=plan.json or plan.json")
    return name, load_plan_file(path, suite)


def compare_command(
    suite: Annotated[
        str, typer.Argument(help="Suite YAML file (or a built-in suite name).", metavar="SUITE")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--out",
            help="Output directory; it keeps checkpoints and finished runs, so running the "
            "same command again resumes.",
            metavar="DIR",
        ),
    ],
    plan: Annotated[
        list[str] | None,
        typer.Option(
            "--plan",
            help="A candidate plan, NAME=plan.json (repeatable; the first is the reference).",
            metavar="NAME=PLAN",
        ),
    ] = None,
    share_all: Annotated[
        bool, typer.Option("--share-all", help="Add share-all (one group per kind).")
    ] = False,
    share_none: Annotated[
        bool,
        typer.Option("--share-none", help="Add share-none: independent per-task models."),
    ] = False,
    share_none_finetuned: Annotated[
        bool,
        typer.Option(
            "--share-none-finetuned",
            help="Add every unit in its own group, fine-tuned from the shared pre-training.",
        ),
    ] = False,
    ablations: Annotated[
        bool,
        typer.Option(
            "--ablations",
            help="Add the paper's Table 5 sharing ablations: share-unimodal-only and "
            "share-crossmodal-only.",
        ),
    ] = False,
    random: Annotated[
        int,
        typer.Option(
            "--random",
            min=0,
            metavar="N",
            help="Add N random plans with the reference plan's group sizes.",
        ),
    ] = 0,
    random_seed: Annotated[
        int, typer.Option("--random-seed", metavar="SEED", help="Seed of the random plans.")
    ] = 0,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference", metavar="NAME", help="Candidate to compare with (default: the first)."
        ),
    ] = None,
    seeds: Annotated[
        str,
        typer.Option(
            "--seeds",
            metavar="N|AUTO",
            help="Paired seeds: a number, or auto (add seeds until every difference is resolved).",
        ),
    ] = "3",
    min_seeds: Annotated[
        int, typer.Option("--min-seeds", min=2, metavar="N", help="First seeds of --seeds auto.")
    ] = 3,
    max_seeds: Annotated[
        int, typer.Option("--max-seeds", min=2, metavar="N", help="Most seeds of --seeds auto.")
    ] = 10,
    resolution: Annotated[
        float,
        typer.Option(
            "--resolution",
            metavar="W",
            help="A difference is resolved when its 95% interval excludes 0 or its half-width "
            "is at most W.",
        ),
    ] = 0.01,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit", metavar="SECONDS", help="Add no seed after this long (--seeds auto)."
        ),
    ] = None,
    first_seed: Annotated[
        int, typer.Option("--first-seed", metavar="SEED", help="Seeds start here.")
    ] = 0,
    preset: PresetOpt = None,
    hparam: HparamOpt = None,
    model: Annotated[
        str, typer.Option("--model", help="Registered model name.", metavar="NAME")
    ] = "highmmt",
    pretrain_epochs: Annotated[
        int, typer.Option("--pretrain-epochs", min=0, metavar="N", help="Shared pre-training.")
    ] = 10,
    finetune_epochs: Annotated[
        int,
        typer.Option("--finetune-epochs", min=0, metavar="N", help="Fine-tuning per candidate."),
    ] = 10,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=2, metavar="N", help="Samples per batch.")
    ] = 32,
    lr: Annotated[float, typer.Option("--lr", metavar="LR", help="Learning rate (Adam).")] = 8e-4,
    weight_decay: Annotated[
        float, typer.Option("--weight-decay", metavar="WD", help="Weight decay.")
    ] = 0.0,
    patience: Annotated[
        int | None,
        typer.Option("--patience", help="Early-stopping patience of every stage.", metavar="N"),
    ] = None,
    task_sampling: TaskSamplingOpt = "balanced",
    lr_schedule: LrScheduleOpt = "cosine",
    device: Annotated[
        str, typer.Option("--device", help="auto, cpu or cuda.", metavar="DEVICE")
    ] = "auto",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            metavar="N",
            help="Train this many candidates side by side (processes, one thread each).",
        ),
    ] = 1,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress lines.")] = False,
    data_dir: DataDirOpt = None,
    trust_pickle: TrustPickleOpt = False,
) -> None:
    """Train plans, share-all, share-none and random plans with paired seeds; compare them."""
    from hetero._io import atomic_write_bytes, check_output_dir
    from hetero.compare import Candidate, ablation_plans, random_plans_like, validate_names
    from hetero.compare.figures import forest_figure, score_parameters_figure
    from hetero.plan import GroupingPlan
    from hetero.plotting._common import to_png
    from hetero_models.compare import CompareConfig, compare_plans

    n_seeds = parse_seeds(seeds)
    the_suite = load_suite_arg(suite, trust_pickle=trust_pickle, data_dir=data_dir)
    candidates = [
        Candidate(name, "plan", p)
        for name, p in (_parse_plan_option(v, the_suite) for v in plan or [])
    ]
    if share_all:
        candidates.append(Candidate("share-all", "share_all", GroupingPlan.share_all(the_suite)))
    if share_none:
        candidates.append(Candidate("share-none", "share_none"))
    if share_none_finetuned:
        candidates.append(
            Candidate(
                "share-none-finetuned", "share_none_finetuned", GroupingPlan.share_none(the_suite)
            )
        )
    if ablations:
        candidates += [
            Candidate(name, "ablation", p) for name, p in ablation_plans(the_suite).items()
        ]
    if random:
        planned = [c for c in candidates if c.kind == "plan"]
        if not planned:
            raise HeteroError("--random: needs a --plan whose group sizes the random plans copy")
        ref = next((c for c in planned if c.name == reference), planned[0])
        candidates += [
            Candidate(f"random-{i + 1}", "random", p)
            for i, p in enumerate(random_plans_like(ref.plan, random, seed=random_seed))
        ]
    validate_names(candidates)
    if len(candidates) < 2:
        raise HeteroError(
            "nothing to compare: give at least two candidates (--plan, --share-all, "
            "--share-none, --share-none-finetuned, --random)"
        )
    hparams = model_hparams(model, preset, hparam)
    check_model(model, the_suite, hparams)
    check_training_options(
        task_sampling, lr_schedule, lr=lr, weight_decay=weight_decay, patience=patience
    )
    check_output_dir(output, create=True)
    config = CompareConfig(
        model=model,
        hparams=hparams,
        pretrain_epochs=pretrain_epochs,
        finetune_epochs=finetune_epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        patience=patience,
        task_sampling=task_sampling,
        lr_schedule=lr_schedule,
    )
    result = compare_plans(
        the_suite,
        candidates,
        reference=reference,
        seeds=n_seeds,
        min_seeds=min_seeds,
        max_seeds=max_seeds,
        resolution=resolution,
        time_limit=time_limit,
        first_seed=first_seed,
        config=config,
        store=output,
        device=device,
        workers=workers,
        on_event=None if quiet else (lambda line: typer.echo(line, err=True)),
    )
    result.write(output)
    figures = output / "figures"
    figures.mkdir(exist_ok=True)
    atomic_write_bytes(figures / "forest.png", to_png(forest_figure(result)))
    atomic_write_bytes(figures / "score_parameters.png", to_png(score_parameters_figure(result)))
    typer.echo(result.table())
    for line in result.verdicts().values():
        typer.echo(line)
    rank = result.reference_rank()
    if rank:
        typer.echo(
            f"{result.reference} ranks {rank['rank']} of {rank['of']} among the random plans"
            " (1 = best)"
        )
    typer.echo(f"stopped: {result.stop_reason}")
    typer.echo(f"wrote {output}/compare.json, compare.csv, figures/")


def register(app: typer.Typer) -> None:
    """Add ``hetero train``, ``hetero compare`` and ``hetero analyze`` to the ``hetero`` CLI."""
    from hetero_models.analysis.cli import register as register_analyze

    add_command(app, "train", train_command)
    add_command(app, "predict", predict_command)
    add_command(app, "compare", compare_command)
    register_analyze(app)
