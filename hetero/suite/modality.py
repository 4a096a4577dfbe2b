"""Modality: one input of a task, its kind and its layout (positions x channels).

Array layout: ``(samples, *positional axes, channels)``. By default the last per-sample axis
holds the channels and the earlier ones are positions, except a 1-D per-sample shape
``(F,)``: of kind ``table`` it is one feature vector (one position with F channels), of any
other kind F positions with one channel. ``positional_axes`` overrides this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetero.errors import SuiteError
from hetero.suite._checks import (
    _RESERVED,
    MODALITY_KINDS,
    _check_name,
    _fail,
    _finite_float,
    _is_int,
    _join,
    _unknown_key_reason,
)

__all__ = ["Modality"]

_MODALITY_KEYS = (
    "name",
    "kind",
    "array",
    "shape",
    "positional_axes",
    "num_freq_bands",
    "max_freq",
    "standardize",
)


def _modality_field_problem(
    name: Any,
    kind: Any,
    shape: Any,
    positional_axes: Any,
    num_freq_bands: Any,
    max_freq: Any,
    standardize: Any = True,
) -> tuple[str, str] | None:
    """Return (field, reason) for the first invalid Modality field, or None."""
    why = _check_name(name)
    if why is not None:
        return "name", why
    if name in _RESERVED:
        return "name", f"'{name}' is reserved for npz keys ({_join(_RESERVED)}); pick another name"
    if kind not in MODALITY_KINDS:
        return "kind", f"unknown kind {kind!r}; expected one of: {_join(MODALITY_KINDS)}"
    if not isinstance(shape, tuple) or not all(_is_int(s) and s > 0 for s in shape):
        return "shape", f"expected a tuple of positive ints, got {shape!r}"
    if positional_axes is not None:
        if not _is_int(positional_axes) or positional_axes < 0:
            return "positional_axes", f"expected an int >= 0 or null, got {positional_axes!r}"
        if shape and positional_axes > len(shape):
            return (
                "positional_axes",
                f"{positional_axes} exceeds the {len(shape)} per-sample axes of shape {shape}",
            )
    if not _is_int(num_freq_bands) or num_freq_bands < 0:
        return "num_freq_bands", f"expected an int >= 0, got {num_freq_bands!r}"
    if (
        isinstance(max_freq, bool)
        or not isinstance(max_freq, (int, float, np.integer, np.floating))
        or not _finite_float(max_freq)
        or float(max_freq) <= 0
    ):
        return "max_freq", f"expected a positive finite number, got {max_freq!r}"
    if not isinstance(standardize, (bool, np.bool_)):
        return "standardize", f"expected true or false, got {standardize!r}"
    return None


@dataclass(frozen=True)
class Modality:
    """One input modality of a task.

    Parameters
    ----------
    name : str
        Modality name. The same name in two tasks denotes the same modality (it shares its
        embedding index in HighMMT), so it must have the same ``kind`` and ``channels``.
    kind : str, default "other"
        One of :data:`MODALITY_KINDS`.
    shape : tuple of int, default ()
        Per-sample shape as stored; filled from the data by :meth:`Task.from_arrays`.
    positional_axes : int or None, default None
        How many leading axes of ``shape`` are positions; the remaining axes are flattened
        into channels. None applies the layout rule: all but the last axis are positions,
        except a 1-D shape ``(F,)``: one feature vector (one position, F channels) when
        ``kind`` is ``"table"``, else F positions with one channel.
    num_freq_bands : int, default 6
        Fourier bands used to encode positions (``hetero_models``).
    max_freq : float, default 10.0
        Highest Fourier frequency (``hetero_models``).
    standardize : bool, default True
        Whether learners standardise this input per channel with statistics of the
        training split (``hetero_models``: the probes and ``hetero train``). Set False for
        inputs that are already on a meaningful common scale (e.g. one-hot or count
        features that should stay sparse).
    """

    name: str
    kind: str = "other"
    shape: tuple[int, ...] = ()
    positional_axes: int | None = None
    num_freq_bands: int = 6
    max_freq: float = 10.0
    standardize: bool = True

    def __post_init__(self) -> None:
        shape = self.shape
        if isinstance(shape, (list, np.ndarray)):
            shape = tuple(int(s) for s in shape)
            object.__setattr__(self, "shape", shape)
        problem = _modality_field_problem(
            self.name,
            self.kind,
            shape,
            self.positional_axes,
            self.num_freq_bands,
            self.max_freq,
            self.standardize,
        )
        if problem is not None:
            raise SuiteError(f"modality {self.name!r}: {problem[0]}: {problem[1]}")
        object.__setattr__(self, "shape", tuple(int(s) for s in shape))
        if self.positional_axes is not None:
            object.__setattr__(self, "positional_axes", int(self.positional_axes))
        object.__setattr__(self, "num_freq_bands", int(self.num_freq_bands))
        object.__setattr__(self, "max_freq", float(self.max_freq))
        object.__setattr__(self, "standardize", bool(self.standardize))

    @property
    def effective_positional_axes(self) -> int:
        """Number of leading per-sample axes that are positions (after the default rule)."""
        if self.positional_axes is not None:
            return self.positional_axes
        if len(self.shape) <= 1:
            return 0 if self.kind == "table" else len(self.shape)
        return len(self.shape) - 1

    @property
    def positions(self) -> tuple[int, ...]:
        """Sizes of the positional axes (``()`` = a single position)."""
        return self.shape[: self.effective_positional_axes]

    @property
    def n_positions(self) -> int:
        """Number of positions (tokens) per sample: the product of :attr:`positions`."""
        return math.prod(self.positions)

    @property
    def channels(self) -> int:
        """Features per position: the product of the non-positional axes."""
        return math.prod(self.shape[self.effective_positional_axes :])

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict description (JSON-able), including the derived layout."""
        return {
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "positional_axes": self.positional_axes,
            "positions": list(self.positions),
            "channels": self.channels,
            "num_freq_bands": self.num_freq_bands,
            "max_freq": self.max_freq,
            "standardize": self.standardize,
        }


def _modality_decls(
    modalities: Sequence[Modality | Mapping[str, Any] | str], src: str | None, name: str
) -> list[tuple[Modality, str, str]]:
    """Validate declared modalities: (Modality without shape check, array key, key's field).

    Only the declaration is checked (not the arrays), so a suite file's modality errors are
    reported against the YAML before its data file is read.
    """
    decls: list[tuple[Modality, str, str]] = []  # (modality, array key, field of the key)
    for i, m in enumerate(modalities):
        fld = f"modalities[{i}]"
        if isinstance(m, Modality):
            decls.append((m, m.name, f"{fld}.name"))
            continue
        if isinstance(m, str):
            m = {"name": m}
        if not isinstance(m, Mapping):
            raise _fail(src, name, fld, f"expected a Modality, a mapping or a name, got {m!r}")
        for key in m:
            if key not in _MODALITY_KEYS:
                raise _fail(src, name, fld, _unknown_key_reason(key, _MODALITY_KEYS))
        if "name" not in m:
            raise _fail(src, name, f"{fld}.name", "missing; expected the modality name")
        fields = {k: v for k, v in m.items() if k != "array"}
        if "shape" in fields:
            if not isinstance(fields["shape"], (list, tuple)):
                raise _fail(
                    src,
                    name,
                    f"{fld}.shape",
                    f"expected a list of positive ints, got {fields['shape']!r}",
                )
            fields["shape"] = tuple(fields["shape"])
        full = {
            "kind": "other",
            "shape": (),
            "positional_axes": None,
            "num_freq_bands": 6,
            "max_freq": 10.0,
            "standardize": True,
            **fields,
        }
        problem = _modality_field_problem(
            full["name"],
            full["kind"],
            full["shape"],
            full["positional_axes"],
            full["num_freq_bands"],
            full["max_freq"],
            full["standardize"],
        )
        if problem is not None:
            raise _fail(src, name, f"{fld}.{problem[0]}", problem[1])
        key = m.get("array", m["name"])
        key_fld = f"{fld}.array" if "array" in m else f"{fld}.name"
        if not isinstance(key, str) or not key:
            raise _fail(src, name, f"{fld}.array", f"expected an array name, got {key!r}")
        decls.append((Modality(**full), key, key_fld))
    if not decls:
        raise _fail(src, name, "modalities", "no modalities; expected at least one")
    seen: set[str] = set()
    for i, (m, _, _) in enumerate(decls):
        if m.name in seen:
            raise _fail(src, name, f"modalities[{i}].name", f"duplicate modality name '{m.name}'")
        seen.add(m.name)
    return decls
