"""hetero's HighMMT against the public release's model, side by side, one training step.

The release (github.com/pliang279/HighMMT, ``private_test_scripts/perceivers``) is not part
of hetero and is not copied into it: point ``--release`` at a checkout of it, and install
the package its model imports (``pip install perceiver-multi-modality-pytorch==1.4.0
einops``). Both models get the paper's large setting exactly as the release's
``fourmultitask.py`` builds it (9 modalities, depth 1, 20 latents of width 64, tied
weights, one crossmodal layer, the four heads) and the same random batches of
``bench_highmmt.py`` (MIMIC, AV-MNIST, MOSEI, UR-FUNNY at the paper's shapes and batch
sizes). A step is what the release's ``train_structure_multitask.train`` does per batch:
every task's forward, the weighted sum of the cross-entropy losses, backward and an Adam
step (lr 8e-4, weight decay 1e-3).

Timing alternates between the two models (``--rounds`` rounds of ``--steps`` steps each,
after warm-up; which model goes first alternates too), so that load from other processes
hits both alike. The ratio is paired by round: per round, the release's median step over
hetero's; reported as their geometric mean with a 95 % t interval over rounds (on the log
scale). Wall and process CPU time are both reported.

Both run under the allocator settings of the hetero CLI (:mod:`hetero.malloc`, which
speed up the release too) unless ``--malloc system``; ``--cpu-amp`` runs hetero's model
with bf16 autocast on the CPU (the release stays in fp32).

Usage::

    python benchmarks/bench_release.py --release /path/to/HighMMT [--threads 2]
        [--device cpu|cuda] [--rounds 5] [--steps 10] [--malloc tuned|system]
        [--cpu-amp] [--json]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from bench_highmmt import (
    LARGE_SETTING,
    add_cpu_options,
    build_spec,
    make_batches,
    report,
    sync,
)

from hetero.malloc import tune_malloc
from hetero_models import create_model

#: hetero's modality names in bench_highmmt -> the release's in fourmultitask.py
RELEASE_NAMES = {
    "static": "static",
    "timeseries": "timeseries",
    "image": "colorlessimage",
    "audio": "audiospec",
    "mosei_video": "feature1",
    "mosei_audio": "feature2",
    "text": "feature3",
    "urfunny_video": "feature4",
    "urfunny_audio": "feature5",
}


def release_model(path: Path, device: torch.device):
    """The release's multitask model of the large setting, as its fourmultitask.py builds it."""
    sys.path.insert(0, str(path))
    try:
        from private_test_scripts.perceivers.crossattnperceiver import (
            InputModality,
            MultiModalityPerceiver,
        )
    except ImportError as exc:
        raise SystemExit(
            f"--release {path}: cannot import the release's model ({exc}); expected a checkout "
            "of github.com/pliang279/HighMMT and `pip install perceiver-multi-modality-pytorch"
            "==1.4.0 einops`"
        ) from None
    modalities = []
    for _, mods, _, _, _ in LARGE_SETTING:
        for name, positions, channels, bands in mods:
            if RELEASE_NAMES[name] in {m.name for m in modalities}:
                continue  # the text modality is shared by MOSEI and UR-FUNNY
            modalities.append(
                InputModality(
                    name=RELEASE_NAMES[name],
                    input_channels=channels,
                    input_axis=len(positions),
                    num_freq_bands=bands,
                    max_freq=1,
                )
            )
    model = MultiModalityPerceiver(
        modalities=tuple(modalities),
        depth=1,
        num_latents=20,
        latent_dim=64,
        cross_heads=1,
        latent_heads=6,
        cross_dim_head=64,
        latent_dim_head=64,
        num_classes=1,
        attn_dropout=0.0,
        ff_dropout=0.0,
        weight_tie_layers=True,
        num_latent_blocks_per_layer=1,
        cross_depth=1,
    )
    heads = []
    for _, mods, n_classes, _, _ in LARGE_SETTING:
        width = 64 * len(mods) * (len(mods) - 1)
        heads.append(
            torch.nn.Sequential(torch.nn.LayerNorm(width), torch.nn.Linear(width, n_classes))
        )
    model.to_logitslist = torch.nn.ModuleList(heads)
    return model.to(device)


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def paired_ratio(numerator: list[float], denominator: list[float]) -> dict[str, float]:
    """Geometric mean of per-round ratios with a 95 % t interval over the rounds."""
    import math

    from scipy import stats

    logs = [math.log(a / b) for a, b in zip(numerator, denominator, strict=True)]
    n, mean = len(logs), statistics.fmean(logs)
    half = stats.t.ppf(0.975, n - 1) * statistics.stdev(logs) / math.sqrt(n) if n > 1 else 0.0
    return {
        "mean": round(math.exp(mean), 2),
        "lo": round(math.exp(mean - half), 2),
        "hi": round(math.exp(mean + half), 2),
        "rounds": n,
    }


def top_ops(step, n: int, limit: int = 12) -> dict[str, float]:
    """Self CPU time per step of the ``limit`` most expensive operators over ``n`` steps."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(n):
            step()
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    return {e.key: round(e.self_cpu_time_total / 1000 / n, 2) for e in ops[:limit]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--release", type=Path, required=True, help="checkout of pliang279/HighMMT")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10, help="timed steps per model and round")
    ap.add_argument(
        "--profile", type=int, default=0, help="also profile N steps of each: top ops by CPU time"
    )
    add_cpu_options(ap)
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args(argv)
    malloc_tuned = args.malloc == "tuned" and tune_malloc()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    ours = create_model("highmmt", build_spec(), preset="large", cpu_amp=args.cpu_amp).to(device)
    torch.manual_seed(0)
    theirs = release_model(args.release, device)
    batches, targets, weights = make_batches(device)
    tasks = list(batches)
    release_inputs = [
        {RELEASE_NAMES[m]: x for m, x in batches[t].items()} for t in tasks
    ]  # dict order = the release's per-task modality order
    loss_fn = torch.nn.CrossEntropyLoss()
    opt_ours = torch.optim.Adam(ours.parameters(), lr=8e-4, weight_decay=1e-3)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=8e-4, weight_decay=1e-3)

    def step_ours():
        opt_ours.zero_grad(set_to_none=True)
        logits = ours(batches)
        sum(weights[t] * loss_fn(logits[t], targets[t]) for t in tasks).backward()
        opt_ours.step()

    def step_theirs():
        opt_theirs.zero_grad(set_to_none=True)
        loss = 0.0
        for i, t in enumerate(tasks):
            theirs.to_logits = theirs.to_logitslist[i]
            loss = loss + weights[t] * loss_fn(theirs(release_inputs[i]), targets[t])
        loss.backward()
        opt_theirs.step()

    def timed(step, n):
        wall, cpu = [], []
        for _ in range(n):
            sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            step()
            sync(device)
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        return wall, cpu

    ours.train()
    theirs.train()
    timed(step_ours, args.warmup)
    timed(step_theirs, args.warmup)
    samples: dict[str, tuple[list[float], list[float]]] = {"hetero": ([], []), "release": ([], [])}
    order = [("release", step_theirs), ("hetero", step_ours)]
    for r in range(args.rounds):
        for name, step in order if r % 2 == 0 else order[::-1]:
            wall, cpu = timed(step, args.steps)
            samples[name][0].extend(wall)
            samples[name][1].extend(cpu)
    med = {k: statistics.median(w) for k, (w, _) in samples.items()}
    cpu_med = {k: statistics.median(c) for k, (_, c) in samples.items()}
    rounds = {
        k: [statistics.median(w[i : i + args.steps]) for i in range(0, len(w), args.steps)]
        for k, (w, _) in samples.items()
    }
    ratio = paired_ratio(rounds["release"], rounds["hetero"])
    result = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({args.threads} threads)",
        "cpu_model": cpu_model(),
        "malloc": "tuned" if malloc_tuned else "system",
        "cpu_amp_hetero": args.cpu_amp,
        "torch": torch.__version__,
        "params_hetero": sum(p.numel() for p in ours.parameters()),
        "params_release": sum(p.numel() for p in theirs.parameters()),
        "ms_per_step_median": {k: round(v, 1) for k, v in med.items()},
        "cpu_ms_per_step_median": {k: round(v, 1) for k, v in cpu_med.items()},
        "round_medians": {k: [round(v, 1) for v in r] for k, r in rounds.items()},
        "ratio_release_over_hetero": ratio,
        "pooled_ratio": round(med["release"] / med["hetero"], 2),
        "cpu_ratio_release_over_hetero": round(cpu_med["release"] / cpu_med["hetero"], 2),
    }
    if args.profile:
        result["profile_ms_per_step"] = {
            "release": top_ops(step_theirs, args.profile),
            "hetero": top_ops(step_ours, args.profile),
        }
    report(result, args.json)
    return result


if __name__ == "__main__":
    main()
