"""Parameter-free input standardisation (HighMMT appendix B.1).

Every modality becomes a token sequence of a common width::

    [input channels | zero padding | Fourier encoding of each positional axis | one-hot modality]

The zero padding sits between the channels and the positional encoding so that the
positional encoding and the one-hot modality embedding end every token; the common width
is ``max_m(channels_m + positional_m + n_modalities)`` (the paper's ``d_all``). The same
modality *name* in two tasks gets the same one-hot index. Positional encodings are
computed once per modality and kept as (non-persistent) buffers.

Before that, the input channels are standardised per channel with statistics of the
training split (:meth:`InputStandardizer.fit_stats`); the statistics are persistent
buffers (``input_mean_<t>_<m>``, ``input_std_<t>_<m>``), so they are saved and loaded with
the weights. Until fitted they are the identity.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from hetero.errors import HeteroError

__all__ = [
    "InputStandardizer",
    "ModalitySpec",
    "ModelSpec",
    "Standardized",
    "TaskSpec",
    "channel_stats",
    "fourier_encode",
    "positional_encoding",
]


@dataclass(frozen=True)
class ModalitySpec:
    """What the model needs to know about one modality of one task.

    Parameters
    ----------
    name : str
        Modality name (shared names share the one-hot index).
    positions : tuple of int
        Sizes of the positional axes (may be empty: one position).
    channels : int
        Features per position.
    num_freq_bands, max_freq
        Fourier encoding of positions.
    """

    name: str
    positions: tuple[int, ...]
    channels: int
    num_freq_bands: int = 6
    max_freq: float = 10.0

    @property
    def n_tokens(self) -> int:
        return int(math.prod(self.positions)) if self.positions else 1

    @property
    def positional_width(self) -> int:
        return len(self.positions) * (2 * self.num_freq_bands + 1)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "positions": list(self.positions),
            "channels": self.channels,
            "num_freq_bands": self.num_freq_bands,
            "max_freq": self.max_freq,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ModalitySpec:
        return cls(
            name=str(d["name"]),
            positions=tuple(int(p) for p in d["positions"]),
            channels=int(d["channels"]),
            num_freq_bands=int(d.get("num_freq_bands", 6)),
            max_freq=float(d.get("max_freq", 10.0)),
        )


@dataclass(frozen=True)
class TaskSpec:
    """Shape-level description of a task: its modalities, outputs and target type.

    ``partner`` is set only for a retrieval task's *unimodal* probe
    (:mod:`hetero_models.probes`): the task's other modality, which the model encodes with a
    small encoder of the task's retrieval head instead of the shared encoder.
    """

    name: str
    modalities: tuple[ModalitySpec, ...]
    n_outputs: int
    target: str = "multiclass"
    partner: ModalitySpec | None = None

    def modality(self, name: str) -> ModalitySpec:
        for m in self.modalities:
            if m.name == name:
                return m
        raise HeteroError(
            f"task {self.name!r}: no modality {name!r} "
            f"(found: {', '.join(m.name for m in self.modalities)})"
        )

    def to_dict(self) -> dict:
        out = {
            "name": self.name,
            "modalities": [m.to_dict() for m in self.modalities],
            "n_outputs": self.n_outputs,
            "target": self.target,
        }
        if self.partner is not None:
            out["partner"] = self.partner.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> TaskSpec:
        partner = d.get("partner")
        return cls(
            name=str(d["name"]),
            modalities=tuple(ModalitySpec.from_dict(m) for m in d["modalities"]),
            n_outputs=int(d["n_outputs"]),
            target=str(d.get("target", "multiclass")),
            partner=None if partner is None else ModalitySpec.from_dict(partner),
        )


@dataclass(frozen=True)
class ModelSpec:
    """The torch-side view of a suite: tasks and the sorted list of modality names.

    Built from a :class:`hetero.suite.Suite` with :meth:`from_suite` (no data is kept) and
    stored in a model's ``config.json`` so a saved model can be rebuilt without the data.
    """

    tasks: tuple[TaskSpec, ...]
    modality_names: tuple[str, ...]

    def task(self, name: str) -> TaskSpec:
        for t in self.tasks:
            if t.name == name:
                return t
        raise HeteroError(
            f"no task {name!r} in the model (found: {', '.join(t.name for t in self.tasks)})"
        )

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def to_dict(self) -> dict:
        return {
            "tasks": [t.to_dict() for t in self.tasks],
            "modality_names": list(self.modality_names),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        return cls(
            tasks=tuple(TaskSpec.from_dict(t) for t in d["tasks"]),
            modality_names=tuple(d["modality_names"]),
        )

    @classmethod
    def from_tasks(cls, tasks: Sequence[TaskSpec]) -> ModelSpec:
        names = sorted({m.name for t in tasks for m in t.modalities})
        return cls(tasks=tuple(tasks), modality_names=tuple(names))

    @classmethod
    def from_suite(cls, suite) -> ModelSpec:
        """Build from a :class:`hetero.suite.Suite` (or pass a ``ModelSpec`` through)."""
        if isinstance(suite, ModelSpec):
            return suite
        tasks = []
        for task in suite.tasks:
            mods = tuple(
                ModalitySpec(
                    name=m.name,
                    positions=tuple(int(p) for p in m.positions),
                    channels=int(m.channels),
                    num_freq_bands=int(m.num_freq_bands),
                    max_freq=float(m.max_freq),
                )
                for m in task.modalities
            )
            tasks.append(
                TaskSpec(
                    name=task.name,
                    modalities=mods,
                    n_outputs=int(task.n_outputs),
                    target=str(task.target),
                )
            )
        return cls(tasks=tuple(tasks), modality_names=tuple(suite.modality_names()))


def fourier_encode(x: torch.Tensor, num_freq_bands: int, max_freq: float) -> torch.Tensor:
    """Fourier features of positions ``x`` in [-1, 1].

    Returns ``[sin(pi f_k x) for k] + [cos(pi f_k x) for k] + [x]`` along a new last axis,
    with ``num_freq_bands`` frequencies ``f_k = linspace(1, max_freq / 2, num_freq_bands)``
    (the Perceiver convention: ``max_freq`` is the sampling rate, so the highest frequency
    is its Nyquist frequency ``max_freq / 2``).
    """
    x = x.unsqueeze(-1)
    scales = torch.linspace(1.0, max_freq / 2.0, num_freq_bands, dtype=x.dtype, device=x.device)
    angles = x * scales * math.pi
    return torch.cat([angles.sin(), angles.cos(), x], dim=-1)


def positional_encoding(
    positions: Sequence[int], num_freq_bands: int, max_freq: float
) -> torch.Tensor:
    """Encoding of every position of a grid: ``(prod(positions), len(positions) * (2B + 1))``.

    Each axis of size ``n`` is sampled at ``linspace(-1, 1, n)``; the per-axis features are
    :func:`fourier_encode` and the axes are concatenated in order (row-major flattening).
    """
    if not positions:
        return torch.zeros(1, 0)
    axes = [torch.linspace(-1.0, 1.0, int(n), dtype=torch.float64) for n in positions]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)  # (*pos, n_axes)
    enc = fourier_encode(grid, num_freq_bands, max_freq)  # (*pos, n_axes, 2B+1)
    return enc.reshape(int(math.prod(positions)), -1).float()


def channel_stats(array: Any, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of ``array (n, ..., channels)`` over samples
    and positions (float64 accumulation); constant channels get a standard deviation of 1."""
    flat = np.asarray(array).reshape(-1, int(channels))
    n = flat.shape[0]
    if n == 0:
        return np.zeros(channels), np.ones(channels)
    step = max(1, (1 << 22) // max(1, int(channels)))  # bounded float64 temporaries
    total = np.zeros(channels)
    for i in range(0, n, step):
        total += flat[i : i + step].sum(axis=0, dtype=np.float64)
    mean = total / n
    sq = np.zeros(channels)
    for i in range(0, n, step):
        sq += np.square(flat[i : i + step].astype(np.float64) - mean).sum(axis=0)
    std = np.sqrt(sq / n)
    return mean, np.where(std > 1e-8, std, 1.0)


class Standardized(NamedTuple):
    """Standardised tokens of one modality batch, kept in factored form.

    The tokens are ``[x | zeros | suffix]`` of width ``width``: ``x (B, T, c)`` holds the
    input channels and ``suffix (T, S)`` the positional encoding and one-hot modality
    embedding of each position. :meth:`tokens` materialises ``(B, T, width)``; encoders
    can use the factored form to skip the zero padding (see
    :meth:`hetero_models.layers.CrossAttentionBlock.project_parts`).
    """

    x: torch.Tensor
    suffix: torch.Tensor
    width: int

    @property
    def batch_size(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_tokens(self) -> int:
        return int(self.x.shape[1])

    def tokens(self) -> torch.Tensor:
        """The full token tensor ``(B, T, width)``."""
        b, t, c = self.x.shape
        parts = [self.x]
        n_zero = self.width - c - self.suffix.shape[1]
        if n_zero:
            parts.append(self.x.new_zeros(b, t, n_zero))
        parts.append(self.suffix.to(self.x.dtype).unsqueeze(0).expand(b, -1, -1))
        return torch.cat(parts, dim=2)


class InputStandardizer(nn.Module):
    """Turn raw modality arrays into common-width tokens (no trainable parameters).

    Parameters
    ----------
    spec : ModelSpec
        Tasks, modalities and the suite's sorted modality names (one-hot order).
    width : int, optional
        Token width; at least ``max(channels + positional + n_modalities)`` (the default).

    Attributes
    ----------
    width : int
        Common token width.
    """

    def __init__(self, spec: ModelSpec, width: int | None = None):
        super().__init__()
        self.spec = spec
        self.n_modalities = len(spec.modality_names)
        self._index = {name: i for i, name in enumerate(spec.modality_names)}
        needed = 0
        for task in spec.tasks:
            for m in task.modalities:
                needed = max(needed, m.channels + m.positional_width + self.n_modalities)
        if width is not None and width < needed:
            raise HeteroError(f"token width {width} is too small: the suite needs {needed}")
        self.width = int(width or needed)
        self._slot: dict[tuple[str, str], tuple[int, int]] = {}
        for ti, task in enumerate(spec.tasks):
            for mi, m in enumerate(task.modalities):
                if m.name not in self._index:
                    raise HeteroError(
                        f"task {task.name!r}: modality {m.name!r} missing from modality_names"
                    )
                suffix = self.suffix(m)
                name = f"suffix_{ti}_{mi}"
                self.register_buffer(name, suffix, persistent=False)
                self.register_buffer(f"input_mean_{ti}_{mi}", torch.zeros(m.channels))
                self.register_buffer(f"input_std_{ti}_{mi}", torch.ones(m.channels))
                self._slot[(task.name, m.name)] = (ti, mi)
        # which (task, modality) slots have statistics (0/1 per slot, in slot order)
        self.register_buffer("input_fitted", torch.zeros(len(self._slot), dtype=torch.uint8))
        self._slot_order = {key: i for i, key in enumerate(self._slot)}

    # ------------------------------------------------------------------ statistics
    def is_fitted(self, task: str, modality: str) -> bool:
        """Whether input statistics are set for ``modality`` of ``task``."""
        return bool(self.input_fitted[self._slot_order[(task, modality)]])

    def set_stats(self, task: str, modality: str, mean: Any, std: Any) -> None:
        """Set the per-channel ``mean`` and ``std`` of one input (marks it fitted).

        ``std`` entries at or below ``1e-8`` (constant channels) are replaced by 1.
        """
        ti, mi = self._slot_of(task, modality)
        buf_m = getattr(self, f"input_mean_{ti}_{mi}")
        buf_s = getattr(self, f"input_std_{ti}_{mi}")
        mean = torch.as_tensor(np.asarray(mean, dtype=np.float64), dtype=torch.float32).reshape(-1)
        std = torch.as_tensor(np.asarray(std, dtype=np.float64), dtype=torch.float32).reshape(-1)
        if mean.shape != buf_m.shape or std.shape != buf_s.shape:
            raise HeteroError(
                f"task {task!r}: modality {modality!r}: statistics of {mean.numel()} channels, "
                f"expected {buf_m.numel()}"
            )
        std = torch.where(std > 1e-8, std, torch.ones_like(std))
        with torch.no_grad():
            buf_m.copy_(mean)
            buf_s.copy_(std)
            self.input_fitted[self._slot_order[(task, modality)]] = 1

    def fit_stats(
        self, suite: Any, tasks: Iterable[str] | None = None, refit: bool = False
    ) -> None:
        """Per-channel mean and standard deviation of every input from the train split.

        Parameters
        ----------
        suite : hetero.suite.Suite
            Data (``suite.task(name)``); a modality declared ``standardize: false`` keeps
            the identity.
        tasks : iterable of str, optional
            Tasks to fit (default: all tasks of the model that are in the suite).
        refit : bool
            Recompute inputs that already have statistics (default: keep them, so a
            trained or loaded model is not changed under its weights).
        """
        names = list(tasks) if tasks is not None else self.spec.task_names
        for name in names:
            self.fit_task(suite.task(name), refit=refit)

    def fit_task(self, task: Any, refit: bool = False) -> None:
        """:meth:`fit_stats` for one :class:`hetero.suite.Task` (the model's modalities of it)."""
        spec = self.spec.task(task.name)
        for m in spec.modalities:
            if self.is_fitted(task.name, m.name) and not refit:
                continue
            if not getattr(task.modality(m.name), "standardize", True):
                self.set_stats(task.name, m.name, np.zeros(m.channels), np.ones(m.channels))
                continue
            arrays, _ = task.data.split("train", [m.name])
            mean, std = channel_stats(arrays[m.name], m.channels)
            self.set_stats(task.name, m.name, mean, std)

    def _slot_of(self, task: str, modality: str) -> tuple[int, int]:
        try:
            return self._slot[(task, modality)]
        except KeyError:
            raise HeteroError(f"the model has no modality {modality!r} in task {task!r}") from None

    def modality_index(self, name: str) -> int:
        """One-hot index of a modality name (shared across tasks)."""
        return self._index[name]

    def suffix(self, m: ModalitySpec) -> torch.Tensor:
        """``[positional encoding | one-hot]`` for every token of modality ``m``."""
        pos = positional_encoding(m.positions, m.num_freq_bands, m.max_freq)
        onehot = torch.zeros(pos.shape[0], self.n_modalities)
        onehot[:, self._index[m.name]] = 1.0
        return torch.cat([pos, onehot], dim=1)

    def tokens(self, task: str, modality: str, x: torch.Tensor) -> torch.Tensor:
        """Standardise one modality batch ``x`` of shape ``(B, *positions, channels)``.

        A per-sample shape with the same number of elements is accepted (for example
        ``(B, F)`` for F positions with one channel). Returns ``(B, n_tokens, width)``.
        """
        return self.standardize(task, modality, x).tokens()

    def standardize(self, task: str, modality: str, x: torch.Tensor) -> Standardized:
        """Like :meth:`tokens` but in factored form (:class:`Standardized`)."""
        ti, mi = self._slot_of(task, modality)
        m = self.spec.tasks[ti].modalities[mi]
        batch = x.shape[0]
        per_sample = math.prod(x.shape[1:])
        if per_sample != m.n_tokens * m.channels:
            raise HeteroError(
                f"task {task!r}: modality {modality!r}: expected per-sample shape "
                f"{(*m.positions, m.channels)}, got {tuple(x.shape[1:])}"
            )
        suffix = getattr(self, f"suffix_{ti}_{mi}")
        x = x.reshape(batch, m.n_tokens, m.channels).to(suffix.dtype)
        mean = getattr(self, f"input_mean_{ti}_{mi}")
        std = getattr(self, f"input_std_{ti}_{mi}")
        x = (x - mean) / std
        return Standardized(x, suffix, self.width)

    def forward(self, task: str, inputs: dict[str, torch.Tensor]) -> list[Standardized]:
        """Standardised inputs of every modality of ``task`` in the task's modality order."""
        spec = self.spec.task(task)
        out = []
        for m in spec.modalities:
            if m.name not in inputs:
                raise HeteroError(
                    f"task {task!r}: input for modality {m.name!r} missing "
                    f"(given: {', '.join(sorted(inputs))})"
                )
            out.append(self.standardize(task, m.name, inputs[m.name]))
        return out
