"""The HighMMT model: standardised inputs, shared Perceiver encoder, shared crossmodal
layer, one BatchNorm + Linear head per task; presets for the paper's three settings."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

from hetero.errors import HeteroError
from hetero.suite import Unit
from hetero_models.crossmodal import CrossmodalBlock
from hetero_models.grouping import GroupedBlock, GroupedModel
from hetero_models.inputs import InputStandardizer, ModelSpec
from hetero_models.perceiver import ATTENTION_MODES, PerceiverEncoder
from hetero_models.registry import register_model

__all__ = ["PRESETS", "HighMMT", "interaction_label", "unit_label"]

_COMMON = {
    "latent_dim": 64,
    "cross_heads": 1,
    "cross_dim_head": 64,
    "latent_dim_head": 64,
    "depth": 1,
    "self_per_cross_attn": 1,
    "crossmodal_depth": 1,
}

#: Paper appendix C, Tables 8-10 (unimodal encoder and crossmodal layer per setting).
PRESETS: dict[str, dict[str, Any]] = {
    "small": {**_COMMON, "num_latents": 20, "latent_heads": 8, "crossmodal_cross_heads": 1},
    "medium": {**_COMMON, "num_latents": 12, "latent_heads": 8, "crossmodal_cross_heads": 1},
    "large": {**_COMMON, "num_latents": 20, "latent_heads": 6, "crossmodal_cross_heads": 4},
}


def unit_label(task: str, modality: str) -> str:
    """``task/modality`` (:attr:`hetero.suite.Unit.label`)."""
    return Unit(task, (modality,)).label


def interaction_label(task: str, a: str, b: str) -> str:
    """``task/modA+modB`` with the two names sorted (:attr:`hetero.suite.Unit.label`)."""
    return Unit(task, (a, b)).label


@register_model("highmmt")
class HighMMT(GroupedModel):
    """High-modality multimodal transformer (Liang et al., HighMMT).

    Parameters
    ----------
    spec : ModelSpec
        Tasks and modalities (``ModelSpec.from_suite(suite)``; ``create_model`` does this).
    preset : {"small", "medium", "large"}
        Hyperparameters of the paper's settings; keyword arguments override them.
    norm : {"batch", "layer"}
        Normalisation before each task head (BatchNorm as in the paper).
    token_width : int, optional
        Common token width (default: the smallest that fits the suite).
    amp : bool
        bf16 autocast when the inputs are on CUDA.
    attention : {"bucketed", "padded"}
        How the encoder batches modalities with different token counts (same results).
    **overrides
        Any key of :data:`PRESETS` (``num_latents``, ``latent_dim``, ``cross_heads``,
        ``latent_heads``, ``cross_dim_head``, ``latent_dim_head``, ``depth``,
        ``self_per_cross_attn``, ``crossmodal_cross_heads``, ``crossmodal_depth``) and
        ``crossmodal_latent_heads`` (defaults to ``latent_heads``).

    Notes
    -----
    Call ``model(task, inputs)`` for one task or ``model({task: inputs, ...})`` for several
    at once: all modalities of all given tasks go through the encoder in one batched call
    per parameter group, and all modality pairs through the crossmodal layer likewise.
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        preset: str = "large",
        norm: str = "batch",
        token_width: int | None = None,
        amp: bool = True,
        attention: str = "bucketed",
        **overrides: Any,
    ):
        super().__init__()
        if preset not in PRESETS:
            raise HeteroError(f"unknown preset {preset!r} (valid: {', '.join(PRESETS)})")
        if attention not in ATTENTION_MODES:
            raise HeteroError(
                f"attention must be one of {', '.join(ATTENTION_MODES)}, got {attention!r}"
            )
        if norm not in ("batch", "layer"):
            raise HeteroError(f"norm must be 'batch' or 'layer', got {norm!r}")
        hp = dict(PRESETS[preset])
        hp["crossmodal_latent_heads"] = None
        unknown = sorted(set(overrides) - set(hp))
        if unknown:
            raise HeteroError(
                f"unknown HighMMT hyperparameter(s) {', '.join(unknown)} "
                f"(valid: {', '.join(sorted(hp))})"
            )
        hp.update(overrides)
        if hp["crossmodal_latent_heads"] is None:
            hp["crossmodal_latent_heads"] = hp["latent_heads"]
        self.spec = ModelSpec.from_suite(spec)
        self.standardizer = InputStandardizer(self.spec, width=token_width)
        self.hparams = {
            "preset": preset,
            "norm": norm,
            "token_width": self.standardizer.width,
            "amp": amp,
            "attention": attention,
            **hp,
        }
        self.amp = amp
        d = hp["latent_dim"]
        encoder = PerceiverEncoder(
            self.standardizer.width,
            num_latents=hp["num_latents"],
            latent_dim=d,
            cross_heads=hp["cross_heads"],
            latent_heads=hp["latent_heads"],
            cross_dim_head=hp["cross_dim_head"],
            latent_dim_head=hp["latent_dim_head"],
            depth=hp["depth"],
            self_per_cross_attn=hp["self_per_cross_attn"],
            attention=attention,
        )
        crossmodal = CrossmodalBlock(
            d,
            cross_heads=hp["crossmodal_cross_heads"],
            latent_heads=hp["crossmodal_latent_heads"],
            cross_dim_head=hp["cross_dim_head"],
            latent_dim_head=hp["latent_dim_head"],
            depth=hp["crossmodal_depth"],
            self_per_cross_attn=hp["self_per_cross_attn"],
        )
        self.unimodal = GroupedBlock(encoder, "unimodal")
        self.crossmodal = GroupedBlock(crossmodal, "crossmodal")
        self.heads = nn.ModuleDict()
        self._task_index = {}
        for i, task in enumerate(self.spec.tasks):
            self._task_index[task.name] = str(i)
            n = len(task.modalities)
            width = n * (n - 1) * d if n > 1 else d
            norm_layer = nn.BatchNorm1d(width) if norm == "batch" else nn.LayerNorm(width)
            self.heads[str(i)] = nn.Sequential(norm_layer, nn.Linear(width, task.n_outputs))

    # ----------------------------------------------------------------- plan interface
    def unit_labels(self, kind: str) -> list[str]:
        out = []
        for task in self.spec.tasks:
            names = [m.name for m in task.modalities]
            if kind == "unimodal":
                out.extend(unit_label(task.name, m) for m in names)
            else:
                out.extend(
                    interaction_label(task.name, a, b) for a, b in itertools.combinations(names, 2)
                )
        return out

    def head(self, task: str) -> nn.Module:
        """The classification head of ``task``."""
        try:
            return self.heads[self._task_index[task]]
        except KeyError:
            raise HeteroError(
                f"no task {task!r} in the model (found: {', '.join(self._task_index)})"
            ) from None

    # ----------------------------------------------------------------- inputs
    def fit_input_stats(self, suite, tasks=None, refit: bool = False) -> None:
        """Per-channel input statistics from the train split of ``suite``
        (:meth:`~hetero_models.inputs.InputStandardizer.fit_stats`); inputs that already
        have statistics keep them unless ``refit``."""
        self.standardizer.fit_stats(suite, tasks=tasks, refit=refit)

    # ----------------------------------------------------------------- forward
    def encode(self, batches: dict[str, dict[str, torch.Tensor]]) -> dict[str, list[torch.Tensor]]:
        """Unimodal latents ``{task: [(B, N, D) per modality in task order]}``."""
        labels, items, owners = [], [], []
        for task, inputs in batches.items():
            for m, tokens in zip(
                self.spec.task(task).modalities, self.standardizer(task, inputs), strict=True
            ):
                labels.append(unit_label(task, m.name))
                items.append(tokens)
                owners.append(task)
        latents = self.unimodal(labels, items)
        out: dict[str, list[torch.Tensor]] = {task: [] for task in batches}
        for task, z in zip(owners, latents, strict=True):
            out[task].append(z)
        return out

    def fuse(self, latents: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Multimodal representation per task: crossmodal outputs of all pairs, concatenated
        (the last latent vector for a single-modality task)."""
        labels, items, owners = [], [], []
        reps: dict[str, list[torch.Tensor]] = {task: [] for task in latents}
        for task, zs in latents.items():
            names = [m.name for m in self.spec.task(task).modalities]
            if len(zs) == 1:
                reps[task].append(zs[0][:, -1])
            for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
                labels.append(interaction_label(task, a, b))
                items.append((zs[i], zs[j]))
                owners.append(task)
        if items:
            for task, r in zip(owners, self.crossmodal(labels, items), strict=True):
                reps[task].append(r)
        return {task: torch.cat(r, dim=1) for task, r in reps.items()}

    def forward_tasks(self, batches: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Logits ``{task: (B, n_outputs)}`` for batches of several tasks at once."""
        first = next(iter(next(iter(batches.values())).values()))
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp and first.is_cuda):
            reps = self.fuse(self.encode(batches))
            return {task: self.head(task)(rep).float() for task, rep in reps.items()}

    def forward(self, task: str | dict, inputs: dict[str, torch.Tensor] | None = None):
        """``model(task, inputs) -> logits`` or ``model({task: inputs}) -> {task: logits}``."""
        if isinstance(task, dict):
            return self.forward_tasks(task)
        return self.forward_tasks({task: inputs})[task]
