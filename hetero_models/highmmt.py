"""The HighMMT model: standardised inputs, shared Perceiver encoder, shared crossmodal
layer, one BatchNorm + Linear head per task; presets for the paper's three settings.

Retrieval tasks (``target: retrieval``, two modalities) take the same encoder and a
:class:`RetrievalHead` instead of a classification head: each modality's latents, mean-pooled
over the latent axis, go through a small per-task projection (norm + Linear) to an
L2-normalised embedding; the symmetric InfoNCE loss (CLIP) compares the two sides
(:func:`hetero_models.trainer.info_nce`). A retrieval task's modality pair does not go
through the crossmodal block (the loss compares the two sides' own embeddings, so fusing
them would leak one into the other), and its interaction label is not routed by it.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hetero.errors import HeteroError
from hetero.suite import Unit
from hetero_models.crossmodal import CrossmodalBlock
from hetero_models.grouping import GroupedBlock, GroupedModel, plan_groups
from hetero_models.inputs import InputStandardizer, ModelSpec, Standardized
from hetero_models.perceiver import ATTENTION_MODES, PerceiverEncoder
from hetero_models.registry import register_model

__all__ = [
    "LOGIT_SCALE_INIT",
    "LOGIT_SCALE_MAX",
    "PRESETS",
    "PRESET_NAMES",
    "HighMMT",
    "RetrievalHead",
    "TokenEmbedding",
    "interaction_label",
    "preset_key",
    "unit_label",
]

#: CLIP's temperature: the logit scale 1 / tau is learned as its log, starts at 1 / 0.07 and
#: is clamped to [1, 100] (log in [0, log 100]).
LOGIT_SCALE_INIT = math.log(1 / 0.07)
LOGIT_SCALE_MAX = math.log(100.0)

_COMMON = {
    "latent_dim": 64,
    "cross_heads": 1,
    "cross_dim_head": 64,
    "latent_dim_head": 64,
    "depth": 1,
    "self_per_cross_attn": 1,
    "crossmodal_depth": 1,
}

#: Paper appendix C, Tables 8-10 (unimodal encoder and crossmodal layer per setting). The
#: keys are the paper's *task settings*, not model sizes: every preset has about 0.5 M
#: parameters (``large`` 475 k and ``small`` 492 k on ``mini``). ``PRESET_NAMES`` gives the
#: names that say so, which the CLI and the docs use; both forms are accepted everywhere.
PRESETS: dict[str, dict[str, Any]] = {
    "small": {**_COMMON, "num_latents": 20, "latent_heads": 8, "crossmodal_cross_heads": 1},
    "medium": {**_COMMON, "num_latents": 12, "latent_heads": 8, "crossmodal_cross_heads": 1},
    "large": {**_COMMON, "num_latents": 20, "latent_heads": 6, "crossmodal_cross_heads": 4},
}
#: Descriptive preset name -> key of :data:`PRESETS`.
PRESET_NAMES: dict[str, str] = {f"{k}-setting": k for k in PRESETS}


def preset_key(name: str) -> str:
    """The :data:`PRESETS` key of ``name`` (``"large-setting"`` or ``"large"``).

    Raises
    ------
    HeteroError
        Unknown name (the message lists the valid ones).
    """
    key = PRESET_NAMES.get(name, name)
    if key not in PRESETS:
        raise HeteroError(
            f"unknown preset {name!r} (valid: {', '.join(PRESET_NAMES)}; short forms "
            f"{', '.join(PRESETS)})"
        )
    return key


class _PartnerEncoder(nn.Module):
    """Small encoder of a retrieval probe's other modality: flatten -> LayerNorm -> MLP."""

    def __init__(self, spec, dim: int):
        super().__init__()
        self.width = int(spec.n_tokens * spec.channels)
        self.net = nn.Sequential(
            nn.LayerNorm(self.width), nn.Linear(self.width, dim), nn.GELU(), nn.Linear(dim, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(x.shape[0], self.width).to(self.net[1].weight.dtype))


class TokenEmbedding(nn.Module):
    """The unimodal block of HighMMT without its encoder (the paper's Table 5 ablation
    "w/o unimodal"): each standardised token is mapped to the latent width by one linear
    layer, and the token sequences go to the crossmodal block as they are.

    ``block(items) -> [(B_i, T_i, latent_dim)]`` like :class:`PerceiverEncoder`, so plans
    group its copies the same way.
    """

    def __init__(self, width: int, latent_dim: int):
        super().__init__()
        self.proj = nn.Linear(width, latent_dim)

    def forward(self, items) -> list[torch.Tensor]:
        return [self.proj(x.tokens() if isinstance(x, Standardized) else x) for x in items]


class RetrievalHead(nn.Module):
    """Per-task head of a retrieval task: two projections and a learned temperature.

    Parameters
    ----------
    dim : int
        Width of the pooled encoder output.
    embed_dim : int
        Width of the embeddings.
    norm : {"batch", "layer"}
        Normalisation before each projection (as the classification heads).
    partner : ModalitySpec, optional
        The other modality of a retrieval probe's unimodal unit, encoded by a small MLP of
        this head (flattened input, LayerNorm, Linear, GELU, Linear) instead of the shared
        encoder.

    The output is ``(B, 2, embed_dim)``: both sides' L2-normalised embeddings times
    ``sqrt(exp(logit_scale))``, so that the dot product of two rows is CLIP's logit
    ``exp(logit_scale) * cos``. ``logit_scale`` starts at ``log(1 / 0.07)`` and is clamped to
    ``[0, log 100]`` in the forward pass.
    """

    def __init__(self, dim: int, embed_dim: int, norm: str = "batch", partner=None):
        super().__init__()

        def projection() -> nn.Module:
            layer = nn.BatchNorm1d(dim) if norm == "batch" else nn.LayerNorm(dim)
            return nn.Sequential(layer, nn.Linear(dim, embed_dim))

        self.proj = nn.ModuleList([projection(), projection()])
        self.partner = None if partner is None else _PartnerEncoder(partner, dim)
        self.logit_scale = nn.Parameter(torch.tensor(LOGIT_SCALE_INIT))

    def scale(self) -> torch.Tensor:
        """The clamped logit scale ``exp(logit_scale)`` (1 / temperature)."""
        return self.logit_scale.clamp(0.0, LOGIT_SCALE_MAX).exp()

    def forward(self, pooled: torch.Tensor, partner_x: torch.Tensor | None = None) -> torch.Tensor:
        sides = list(pooled.unbind(1))
        if self.partner is not None:
            if partner_x is None:
                raise HeteroError("retrieval probe: the partner modality's input is missing")
            sides.append(self.partner(partner_x))
        z = [F.normalize(p(x).float(), dim=-1) for p, x in zip(self.proj, sides, strict=True)]
        return torch.stack(z, dim=1) * self.scale().sqrt()


def _positive_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


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
    preset : {"large-setting", "small-setting", "medium-setting"} or short form
        Hyperparameters of one of the paper's task settings (not model sizes:
        :data:`PRESETS`); keyword arguments override them.
    norm : {"batch", "layer"}
        Normalisation before each task head (BatchNorm as in the paper).
    token_width : int, optional
        Common token width (default: the smallest that fits the suite).
    amp : bool
        bf16 autocast when the inputs are on CUDA (False: fp32 on CUDA, even inside an
        enclosing ``torch.autocast``).
    cpu_amp : bool
        bf16 autocast when the inputs are on the CPU. Faster only on CPUs with native bf16
        arithmetic (AVX512-BF16 or AMX: 1.6x per large-setting training step on 2 threads
        of an AMD EPYC, ``docs/benchmarks.md``), slower elsewhere (emulated; not measured),
        and the numbers then depend on the CPU. Off by default, which leaves the CPU to any
        enclosing ``torch.autocast``. Recorded in ``hparams`` only when True.
    attention : {"bucketed", "padded"}
        How the encoder batches modalities with different token counts (same results).
    unimodal : bool
        False removes the unimodal encoder (the paper's Table 5 ablation "w/o unimodal"):
        tokens are embedded by one linear layer (:class:`TokenEmbedding`) and the
        crossmodal block attends over the token sequences directly; a single-modality
        task's representation is then the mean of its embedded tokens. Recorded in
        ``hparams`` only when False.
    **overrides
        Any key of :data:`PRESETS` (``num_latents``, ``latent_dim``, ``cross_heads``,
        ``latent_heads``, ``cross_dim_head``, ``latent_dim_head``, ``depth``,
        ``self_per_cross_attn``, ``crossmodal_cross_heads``, ``crossmodal_depth``),
        ``crossmodal_latent_heads`` (defaults to ``latent_heads``) and ``retrieval_dim``
        (embedding width of retrieval heads, defaults to ``latent_dim``; recorded in
        ``hparams`` only for a model with a retrieval task or when given).

    Notes
    -----
    Call ``model(task, inputs)`` for one task or ``model({task: inputs, ...})`` for several
    at once: all modalities of all given tasks go through the encoder in one batched call
    per parameter group, and all modality pairs through the crossmodal layer likewise.

    A retrieval task returns ``(B, 2, E)`` embeddings instead of logits
    (:class:`RetrievalHead`); its two modalities go through the shared encoder (their unit
    labels are routed by the unimodal groups of a plan as any other), its pair skips the
    crossmodal block. A model whose every task is a retrieval task holds an unused
    crossmodal block (so that plans and saved configs stay uniform).
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        preset: str = "large",
        norm: str = "batch",
        token_width: int | None = None,
        amp: bool = True,
        cpu_amp: bool = False,
        attention: str = "bucketed",
        unimodal: bool = True,
        **overrides: Any,
    ):
        super().__init__()
        key = preset_key(preset)
        for name, flag in (("amp", amp), ("cpu_amp", cpu_amp), ("unimodal", unimodal)):
            if not isinstance(flag, bool):
                raise HeteroError(f"{name} must be true or false, got {flag!r}")
        if attention not in ATTENTION_MODES:
            raise HeteroError(
                f"attention must be one of {', '.join(ATTENTION_MODES)}, got {attention!r}"
            )
        if norm not in ("batch", "layer"):
            raise HeteroError(f"norm must be 'batch' or 'layer', got {norm!r}")
        hp = dict(PRESETS[key])
        hp["crossmodal_latent_heads"] = None
        hp["retrieval_dim"] = None
        unknown = sorted(set(overrides) - set(hp))
        if unknown:
            raise HeteroError(
                f"unknown HighMMT hyperparameter(s) {', '.join(unknown)} "
                f"(valid: {', '.join(sorted(hp))})"
            )
        hp.update(overrides)
        for name, value in hp.items():  # sizes and counts; None: derived below
            derived = value is None and name in ("crossmodal_latent_heads", "retrieval_dim")
            if not (_positive_int(value) or derived):
                raise HeteroError(f"{name} must be a positive integer, got {value!r}")
        if not (token_width is None or _positive_int(token_width)):
            raise HeteroError(
                f"token_width must be a positive integer or None, got {token_width!r}"
            )
        if hp["crossmodal_latent_heads"] is None:
            hp["crossmodal_latent_heads"] = hp["latent_heads"]
        self.spec = ModelSpec.from_suite(spec)
        has_retrieval = any(t.target == "retrieval" for t in self.spec.tasks)
        if hp["retrieval_dim"] is None:
            if has_retrieval:
                hp["retrieval_dim"] = hp["latent_dim"]
            else:  # classification models keep the hparams (and config.json) they had
                del hp["retrieval_dim"]
        self.standardizer = InputStandardizer(self.spec, width=token_width)
        self.hparams = {
            "preset": preset,
            "norm": norm,
            "token_width": self.standardizer.width,
            "amp": amp,
            **({"cpu_amp": True} if cpu_amp else {}),  # older configs stay as they were
            "attention": attention,
            **({} if unimodal else {"unimodal": False}),  # older configs stay as they were
            **hp,
        }
        self.amp = amp
        self.cpu_amp = cpu_amp
        self.unimodal_encoder = bool(unimodal)
        d = hp["latent_dim"]
        encoder: nn.Module = PerceiverEncoder(
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
        if not unimodal:  # built after the encoder it replaces, so that every other
            # block starts from the same weights as in the full model at the same seed
            encoder = TokenEmbedding(self.standardizer.width, d)
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
            if task.target == "retrieval":
                if n + (task.partner is not None) != 2:
                    raise HeteroError(
                        f"task {task.name!r}: a retrieval task needs two modalities "
                        f"(or one and a partner), got {n}"
                    )
                self.heads[str(i)] = RetrievalHead(
                    d, int(hp["retrieval_dim"]), norm, partner=task.partner
                )
                continue
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
            elif task.target != "retrieval":  # a retrieval pair skips the crossmodal block
                out.extend(
                    interaction_label(task.name, a, b) for a, b in itertools.combinations(names, 2)
                )
        return out

    def apply_plan(self, plan: Any | None) -> HighMMT:
        """:meth:`GroupedModel.apply_plan`, with retrieval pairs left out of the crossmodal
        groups (they skip the crossmodal block, so a group of them alone would be a copy
        no unit uses); plans without retrieval tasks apply exactly as before."""
        skip = {
            interaction_label(t.name, a.name, b.name)
            for t in self.spec.tasks
            if t.target == "retrieval"
            for a, b in itertools.combinations(t.modalities, 2)
        }
        if plan is not None and skip:
            plan = {
                "unimodal_groups": plan_groups(plan, "unimodal"),
                "crossmodal_groups": [
                    [label for label in g if label not in skip]
                    for g in plan_groups(plan, "crossmodal")
                ],
            }
        super().apply_plan(plan)
        return self

    def head(self, task: str) -> nn.Module:
        """The head of ``task`` (classification, or a :class:`RetrievalHead`)."""
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
        (the last latent vector for a single-modality task); for a retrieval task the
        latents of each modality mean-pooled, ``(B, modalities, D)``."""
        labels, items, owners = [], [], []
        reps: dict[str, list[torch.Tensor]] = {task: [] for task in latents}
        pooled: dict[str, torch.Tensor] = {}
        for task, zs in latents.items():
            spec = self.spec.task(task)
            if spec.target == "retrieval":
                pooled[task] = torch.stack([z.mean(dim=1) for z in zs], dim=1)
                continue
            names = [m.name for m in spec.modalities]
            if len(zs) == 1:  # the last latent vector; embedded tokens have no summary
                reps[task].append(zs[0][:, -1] if self.unimodal_encoder else zs[0].mean(dim=1))
            for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
                labels.append(interaction_label(task, a, b))
                items.append((zs[i], zs[j]))
                owners.append(task)
        if items:
            for task, r in zip(owners, self.crossmodal(labels, items), strict=True):
                reps[task].append(r)
        return {
            task: pooled[task] if task in pooled else torch.cat(r, dim=1)
            for task, r in reps.items()
        }

    def forward_tasks(self, batches: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Logits ``{task: (B, n_outputs)}`` for batches of several tasks at once."""
        device = next(iter(next(iter(batches.values())).values())).device.type
        if device == "cuda":
            autocast: Any = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp)
        elif device == "cpu" and self.cpu_amp:
            autocast = torch.autocast("cpu", dtype=torch.bfloat16)
        else:
            autocast = contextlib.nullcontext()
        with autocast:
            reps = self.fuse(self.encode(batches))
            out = {}
            for task, rep in reps.items():
                spec = self.spec.task(task)
                if spec.target != "retrieval":
                    out[task] = self.head(task)(rep).float()
                elif spec.partner is None:
                    out[task] = self.head(task)(rep)
                else:
                    partner = batches[task].get(spec.partner.name)
                    out[task] = self.head(task)(rep, partner)
            return out

    def forward(self, task: str | dict, inputs: dict[str, torch.Tensor] | None = None):
        """``model(task, inputs) -> logits`` or ``model({task: inputs}) -> {task: logits}``."""
        if isinstance(task, dict):
            return self.forward_tasks(task)
        return self.forward_tasks({task: inputs})[task]
