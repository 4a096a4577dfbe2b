"""The Learner protocol: how ``hetero measure`` trains a model on a unit.

A *learner* is any model family that ``hetero measure`` can use to obtain transfer
measurements. The measurement engine never looks inside a model; it only calls the methods
below, in worker processes that may live on other machines. ``hetero`` itself ships a small
numpy reference learner (:mod:`hetero.learners.reference`); ``hetero_models`` ships the
HighMMT probes (torch). Third parties add their own by subclassing :class:`Learner` and
registering the class (:func:`hetero.learners.register_learner` or the ``hetero.learners``
entry-point group).

Protocol
--------
A learner is constructed from keyword parameters only (``get_learner(name, **config)``).
Every parameter must be JSON-able, stored as an attribute of the same name, and returned by
:meth:`Learner.get_config`; the config is part of every run's content key, so two learners
with equal name and config must train identically for equal seeds.

One call of :meth:`Learner.fit` is one *run*:

``fit(task, unit, seed=s)``
    From scratch: train a fresh model for ``unit`` (one modality, or two for an interaction
    unit) on ``task``'s train split, early-stop on the validation loss within
    ``max_epochs``, keep the checkpoint with the lowest validation loss.

``fit(task, unit, seed=s, init_state=state, mode="finetune")``
    Transfer by fine-tuning: initialise the transferable parameters from ``state`` (the
    result of :meth:`export_state` of a fitted source learner), re-initialise the rest (the
    head always, unless ``keep_head=True``, which the engine only passes when source and
    target belong to the same task and the head shapes agree), then train everything as
    from scratch.

``fit(task, unit, seed=s, init_state=state, mode="frozen")``
    Frozen-body probe: take the *body* from ``state`` and keep it fixed; train only the
    unit-specific input projection and a fresh head on the target.

``fit`` returns a :class:`FitResult`: validation loss and metric of the selected checkpoint,
the per-epoch validation-loss curve (``curve[e]`` is the loss after ``e + 1`` epochs; the
budgeted estimator integrates its first K values), the number of epochs trained, whether the
run converged (stopped by patience rather than by the epoch cap) and, for runs that may be
transferred from, the exported state.

``export_state()`` returns the fitted model's transferable state as ``dict[str, ndarray]``:
plain numpy arrays only (no torch tensors, no objects), so it pickles across processes and
round-trips through ``np.savez``. Key names are the learner's own; :meth:`parameter_roles`
tells which key plays which role:

``"input"``
    Unit-specific input projection (its shape depends on the unit's input; may be copied
    when shapes allow, else re-initialised).
``"body"``
    The transferable representation (what ``mode="frozen"`` keeps fixed).
``"head"``
    Task-specific output layer (re-initialised on transfer by default).

``evaluate(task, unit, split)`` gives ``(loss, metric)`` of the fitted model on a split.

Learners that cannot model interaction units set ``supports_interactions = False``;
``hetero measure`` then refuses interaction measurement with a clear message instead of
failing mid-run.

Determinism: all randomness inside ``fit`` must derive from ``seed`` (and the config),
through local generators rather than global seeds. Thread pools are the executor's
business: every fit runs with one thread (``OMP_NUM_THREADS=1`` and friends, threadpoolctl,
``torch.set_num_threads``), in a worker process or, with the serial executor, inside
:func:`hetero.measure.executors.worker_threads`; a learner sets no thread count itself.
"""

from __future__ import annotations

import copy
import inspect
import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hetero.errors import LearnerError

if TYPE_CHECKING:  # pragma: no cover
    from hetero.suite import Task, Unit

__all__ = [
    "FIT_MODES",
    "PARAMETER_ROLES",
    "FitResult",
    "Learner",
    "state_from_bytes",
    "state_to_bytes",
]

#: Ways a run can start (see the module docstring).
FIT_MODES: tuple[str, ...] = ("finetune", "frozen")

#: Roles a transferable parameter can play.
PARAMETER_ROLES: tuple[str, ...] = ("input", "body", "head")

TransferState = dict[str, np.ndarray]


@dataclass
class FitResult:
    """Outcome of one :meth:`Learner.fit` call (one run).

    Attributes
    ----------
    val_loss : float
        Validation loss of the selected (best) checkpoint.
    val_metric : float
        The task's metric (``task.metric``) of that checkpoint on the validation split.
    curve : list of float
        Validation loss after each epoch, ``curve[e]`` after ``e + 1`` epochs.
    epochs : int
        Epochs trained.
    best_epoch : int
        1-based epoch of the selected checkpoint.
    converged : bool
        True when training stopped because the validation loss stopped improving (patience),
        False when it hit ``max_epochs``.
    state : dict of str to ndarray or None
        The transferable state of the selected checkpoint (:meth:`Learner.export_state`),
        filled when ``fit`` was called with ``return_state=True``.
    info : dict
        Anything else worth recording (JSON-able), e.g. train loss, learning rate.
    """

    val_loss: float
    val_metric: float
    curve: list[float]
    epochs: int
    best_epoch: int
    converged: bool
    state: TransferState | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def closed_form(cls, score: float, mode: str, info: dict[str, Any]) -> FitResult:
        """The result of a closed-form fit (``ridge`` / ``logme``): nothing trained, so one
        "epoch", converged, no metric and no state; ``info`` records the mode."""
        return cls(val_loss=score, val_metric=float("nan"), curve=[score], epochs=1,
                   best_epoch=1, converged=True, state=None,
                   info={**info, "closed_form": mode})  # fmt: skip

    def __post_init__(self) -> None:
        self.val_loss = float(self.val_loss)
        self.val_metric = float(self.val_metric)
        self.curve = [float(v) for v in self.curve]
        self.epochs = int(self.epochs)
        self.best_epoch = int(self.best_epoch)
        self.converged = bool(self.converged)
        if not np.isfinite(self.val_loss):
            raise LearnerError(f"fit returned a non-finite validation loss ({self.val_loss})")
        if self.state is not None:
            check_state(self.state)


def check_state(state: Any) -> TransferState:
    """Validate that ``state`` is a ``dict[str, np.ndarray]`` of numeric arrays."""
    if not isinstance(state, dict):
        raise LearnerError(f"a transferable state must be a dict, got {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(key, str):
            raise LearnerError(f"state key {key!r} is not a string")
        if not isinstance(value, np.ndarray) or value.dtype == object:
            raise LearnerError(
                f"state[{key!r}] must be a numeric numpy array, got {type(value).__name__}"
            )
    return state


def state_to_bytes(state: TransferState) -> bytes:
    """Serialise a transferable state to ``.npz`` bytes (no pickle)."""
    check_state(state)
    buf = io.BytesIO()
    np.savez(buf, **state)  # type: ignore[arg-type]  # numpy's stub types the first kwarg
    return buf.getvalue()


def state_from_bytes(data: bytes) -> TransferState:
    """Inverse of :func:`state_to_bytes`."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


class Learner:
    """Base class of learners (see the module docstring for the full protocol).

    Subclasses set :attr:`name`, :attr:`supports_interactions` and implement :meth:`fit`,
    :meth:`evaluate`, :meth:`export_state` and :meth:`parameter_roles`. Parameters go
    through ``__init__`` as keyword arguments stored under the same attribute names
    (scikit-learn style), which gives :meth:`get_config` and :meth:`clone` for free.

    Attributes
    ----------
    name : str
        Registry name (``hetero measure --learner NAME``).
    supports_interactions : bool
        Whether ``fit`` accepts interaction units (two modalities).
    max_epochs : int
        Every learner takes ``max_epochs`` (``hetero measure --max-epochs``).
    """

    name: ClassVar[str] = "learner"
    supports_interactions: ClassVar[bool] = False
    #: Parameters added after measurements were stored, with the value that reproduces
    #: them: a config entry at that value is left out of run keys, so stored runs are found.
    key_neutral: ClassVar[dict[str, Any]] = {}

    @classmethod
    def key_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` as it enters run keys (entries at their :attr:`key_neutral` value
        dropped)."""
        neutral = cls.key_neutral
        return {k: v for k, v in config.items() if not (k in neutral and v == neutral[k])}

    # -- configuration ---------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_config(self) -> dict[str, Any]:
        """The constructor parameters as a JSON-able dict (part of every run key)."""
        config = {name: getattr(self, name) for name in self._param_names()}
        try:
            json.dumps(config, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise LearnerError(f"learner {self.name!r}: config is not JSON-able ({exc})") from None
        return config

    def clone(self, **overrides: Any) -> Learner:
        """A fresh, unfitted learner with the same config (``overrides`` replace entries)."""
        config = copy.deepcopy(self.get_config())
        unknown = set(overrides) - set(config)
        if unknown:
            raise LearnerError(
                f"learner {self.name!r}: unknown parameter(s) {sorted(unknown)} "
                f"(valid: {', '.join(sorted(config))})"
            )
        config.update(overrides)
        return type(self)(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    # -- the protocol ----------------------------------------------------------------------
    def fit(
        self,
        task: Task,
        unit: Unit,
        *,
        seed: int = 0,
        init_state: TransferState | None = None,
        mode: str = "finetune",
        keep_head: bool = False,
        max_epochs: int | None = None,
        return_state: bool = False,
    ) -> FitResult:
        """Train on ``unit`` of ``task`` (one run); see the module docstring.

        Parameters
        ----------
        task : Task
            The task holding the unit's data (``task.data``) and its target.
        unit : Unit
            ``Unit(task.name, (modality,))`` or an interaction unit with two modalities.
        seed : int
            Seed of every random choice in this run (initialisation, batch order).
        init_state : dict of str to ndarray, optional
            Transferred state from a fitted source learner; None trains from scratch.
        mode : {"finetune", "frozen"}
            How to use ``init_state``: fine-tune everything, or keep the body fixed and train
            only the input projection and head.
        keep_head : bool
            Keep the transferred head instead of re-initialising it (same task only).
        max_epochs : int, optional
            Overrides the configured epoch cap for this run (the budgeted estimator).
        return_state : bool
            Fill :attr:`FitResult.state` with :meth:`export_state` of the best checkpoint.
        """
        raise NotImplementedError

    def evaluate(self, task: Task, unit: Unit, split: str = "val") -> tuple[float, float]:
        """``(loss, metric)`` of the fitted model on ``split`` ("train", "val", "test")."""
        raise NotImplementedError

    def export_state(self) -> TransferState:
        """The fitted model's transferable parameters as numpy arrays (copies)."""
        raise NotImplementedError

    def parameter_roles(self) -> dict[str, str]:
        """Map each :meth:`export_state` key to its role in :data:`PARAMETER_ROLES`."""
        raise NotImplementedError

    # -- helpers for subclasses and the engine ---------------------------------------------
    def check_unit(self, task: Task, unit: Unit) -> None:
        """Raise LearnerError if this learner cannot fit ``unit`` (e.g. interactions)."""
        if len(unit.modalities) > 1 and not self.supports_interactions:
            raise LearnerError(
                f"learner {self.name!r} does not support interaction units "
                f"(got {unit.label}); measure without interactions or pick another learner"
            )
        if unit.task != task.name:
            raise LearnerError(f"unit {unit.label} does not belong to task {task.name!r}")

    @staticmethod
    def check_mode(mode: str) -> str:
        if mode not in FIT_MODES:
            raise LearnerError(f"fit mode {mode!r} is not one of {', '.join(FIT_MODES)}")
        return mode

    def check_fit(
        self, task: Task, unit: Unit, mode: str, init_state: TransferState | None
    ) -> None:
        """The argument checks every :meth:`fit` starts with (unit, mode, frozen source)."""
        self.check_unit(task, unit)
        self.check_mode(mode)
        if mode == "frozen" and init_state is None:
            raise LearnerError("mode='frozen' needs an init_state (the body to freeze)")
