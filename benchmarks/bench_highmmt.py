"""Time one multitask HighMMT training step on the paper's large setting.

Four tasks with the paper's input shapes and batch sizes (appendix C, Table 10): MIMIC
(static 5x1, time series 24x12x1; batch 20; 2 classes), AV-MNIST (image 7x7x16, audio
spectrogram 7x7x256; batch 40; 10 classes), MOSEI (50x35, 50x74, 50x300; batch 32;
2 classes), UR-FUNNY (20x371, 20x81, 50x300; batch 32; 2 classes); MOSEI and UR-FUNNY
share the text modality. A step is: forward on all four tasks, the weighted sum of their
losses, backward and an Adam step. Prints one JSON line with ``--json``.

Usage::

    python benchmarks/bench_highmmt.py --preset large --json [--device cpu|cuda] [--threads 2]

Needs nothing beyond the repository (random inputs with a fixed seed).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from hetero.malloc import tune_malloc
from hetero_models import ModalitySpec, ModelSpec, TaskSpec, create_model

# (task, [(modality, positions, channels, num_freq_bands)], classes, batch, loss weight)
LARGE_SETTING = [
    ("mimic", [("static", (5,), 1, 6), ("timeseries", (24, 12), 1, 6)], 2, 20, 1.2),
    ("avmnist", [("image", (7, 7), 16, 6), ("audio", (7, 7), 256, 6)], 10, 40, 0.9),
    (
        "mosei",
        [("mosei_video", (50,), 35, 3), ("mosei_audio", (50,), 74, 3), ("text", (50,), 300, 3)],
        2,
        32,
        1.1,
    ),
    (
        "urfunny",
        [
            ("urfunny_video", (20,), 371, 3),
            ("urfunny_audio", (20,), 81, 3),
            ("text", (50,), 300, 3),
        ],
        2,
        32,
        1.5,
    ),
]


def build_spec() -> ModelSpec:
    tasks = [
        TaskSpec(
            name, tuple(ModalitySpec(m, pos, ch, nb, 1.0) for m, pos, ch, nb in mods), n_classes
        )
        for name, mods, n_classes, _, _ in LARGE_SETTING
    ]
    return ModelSpec.from_tasks(tasks)


def make_batches(device: torch.device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    batches, targets, weights = {}, {}, {}
    for name, mods, n_classes, batch, weight in LARGE_SETTING:
        batches[name] = {
            m: torch.randn(batch, *pos, ch, generator=g).to(device) for m, pos, ch, _ in mods
        }
        targets[name] = torch.randint(0, n_classes, (batch,), generator=g).to(device)
        weights[name] = weight
    return batches, targets, weights


def add_cpu_options(parser: argparse.ArgumentParser) -> None:
    """``--malloc`` and ``--cpu-amp`` (shared with ``bench_release.py``)."""
    parser.add_argument(
        "--malloc",
        default="tuned",
        choices=["tuned", "system"],
        help="glibc allocator: as the hetero CLI sets it (hetero.malloc) or the defaults",
    )
    parser.add_argument(
        "--cpu-amp", action="store_true", help="hetero's model with bf16 autocast on the CPU"
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--preset",
        default="large",
        choices=["small", "medium", "large", "small-setting", "medium-setting", "large-setting"],
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--per-task",
        action="store_true",
        help="one forward call per task instead of one fused call",
    )
    parser.add_argument("--compile", action="store_true", help="wrap the model in torch.compile")
    parser.add_argument(
        "--attention",
        default="bucketed",
        choices=["bucketed", "padded"],
        help="how the encoder batches modalities of different token counts",
    )
    add_cpu_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    malloc_tuned = args.malloc == "tuned" and tune_malloc()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device available")
    device = torch.device(args.device)
    model = create_model(
        "highmmt", build_spec(), preset=args.preset, attention=args.attention, cpu_amp=args.cpu_amp
    ).to(device)
    params = sum(p.numel() for p in model.parameters())
    runner = torch.compile(model) if args.compile else model
    optimizer = torch.optim.Adam(model.parameters(), lr=8e-4, weight_decay=1e-3)
    batches, targets, weights = make_batches(device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def forward():
        if args.per_task:
            return {task: runner(task, inputs) for task, inputs in batches.items()}
        return runner(batches)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        logits = forward()
        loss = sum(weights[t] * loss_fn(logits[t], targets[t]) for t in logits)
        loss.backward()
        optimizer.step()
        return loss

    model.train()
    times, cpu_times = [], []
    for i in range(args.warmup + args.steps):
        sync(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        train_step()
        sync(device)
        if i >= args.warmup:
            times.append((time.perf_counter() - start) * 1000)
            cpu_times.append((time.process_time() - cpu_start) * 1000)

    model.eval()
    infer = []
    with torch.inference_mode():
        for i in range(args.warmup + args.steps):
            sync(device)
            start = time.perf_counter()
            forward()
            sync(device)
            if i >= args.warmup:
                infer.append((time.perf_counter() - start) * 1000)

    times.sort()
    result = {
        "impl": "hetero",
        "preset": args.preset,
        "ms_per_step_median": round(statistics.median(times), 2),
        "ms_per_step_p90": round(times[min(len(times) - 1, int(0.9 * len(times)))], 2),
        "infer_ms_median": round(statistics.median(infer), 2),
        # CPU time of this process per step (all threads): less sensitive than wall time to
        # other processes competing for the cores
        "cpu_ms_per_step_median": round(statistics.median(cpu_times), 2),
        "params": params,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "device": (
            torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else f"cpu ({args.threads} threads)"
        ),
        "torch": torch.__version__,
        "fused": not args.per_task,
        "attention": args.attention,
        "malloc": "tuned" if malloc_tuned else "system",
        "cpu_amp": args.cpu_amp,
    }
    if device.type == "cuda":
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        result["amp"] = "bf16"
    report(result, args.json)
    return result


def report(result: dict, as_json: bool) -> None:
    """Print ``result`` as one JSON line or as aligned ``key: value`` lines."""
    if as_json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>20}: {v}")


if __name__ == "__main__":
    main()
