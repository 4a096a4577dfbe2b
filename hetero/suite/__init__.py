"""Suites of multimodal tasks: modalities, tasks, units, YAML + npz loading and validation.

A :class:`Suite` is a list of :class:`Task` objects. Each task holds one array per
:class:`Modality` (first axis = samples), the targets ``y`` and train / val / test index
arrays. A *unit* is one (task, modality) pair, labelled ``task/modality``; an *interaction
unit* is one unordered pair of modalities of a task, labelled ``task/modA+modB`` with the two
names in alphabetical order.

Suites are declared in Python (:meth:`Task.from_arrays`, :class:`Suite`) or in YAML
(:func:`load_suite`), where each task points at an ``.npz`` file (one array per modality,
``y``, optional ``train_idx`` / ``val_idx`` / ``test_idx``) or at a dataset loader::

    name: my-suite               # optional; defaults to the file's stem
    tasks:
      - name: speech
        data: speech.npz         # relative to the YAML file
        target: multiclass       # multiclass | binary | multilabel | regression | retrieval
        modalities:
          - {name: audio, kind: audio}
          - {name: lips, kind: video}
        split: {val: 0.2, test: 0.2, seed: 0}   # used when the npz has no index arrays
      - name: digits
        dataset: mfeat           # hetero.datasets.load_task("mfeat", **options)
        options: {views: [image, fourier]}
      - name: lookup             # cross-modal retrieval between two modalities
        data: lookup.npz         # row i of 'sketch' and row i of 'photo' belong together
        target: retrieval
        match: pair              # pair (default; y optional) | label (y = class labels)
        modalities: [{name: sketch, kind: image}, {name: photo, kind: image}]

Array layout: ``(samples, *positional axes, channels)``. By default the last per-sample axis
holds the channels and the earlier ones are positions, except a 1-D per-sample shape
``(F,)``, which is F positions with one channel. ``positional_axes`` overrides this.

Defaults per target (overridable with ``loss:``, ``metric:``, ``higher_is_better:``):

============ ======================= ========== ================ ==========================
target       loss                    metric     higher_is_better n_outputs
============ ======================= ========== ================ ==========================
multiclass   cross_entropy           accuracy   True             number of classes K
binary       binary_cross_entropy    accuracy   True             1
multilabel   binary_cross_entropy    f1_macro   True             number of label columns
regression   mse                     mse        False            number of target columns
retrieval    info_nce                recall@1   True             2 (one embedding per side)
============ ======================= ========== ================ ==========================

A *retrieval* task has exactly two modalities, the query side ``a`` (declared first) and
the gallery side ``b``, whose rows correspond. Its objective is the symmetric InfoNCE loss
(CLIP) between the two sides' embeddings; its metrics (:func:`hetero.scoring.task_metrics`)
rank, for every query of a split, all gallery items of the same split: ``recall@1``,
``recall@5``, ``recall@10`` and ``mrr`` (mean reciprocal rank of the first match) are means
of the two directions, ``recall@1_a2b`` / ``mrr_b2a`` ... each direction alone. ``match:
pair`` (default): row i of ``a`` matches row i of ``b`` only; ``y`` is optional and, when
given (one integer per sample), only stratifies the split: the task stores the row indices
``0..n-1`` as ``y``. ``match: label``: ``y`` (required) holds class labels and any item
with the query's label is a match. Every split needs at least two samples. A retrieval
task's units are its two modalities; a unit's loss still compares the two sides (how a
learner sees the other side is the learner's choice: see :mod:`hetero.learners.reference`
and :mod:`hetero_models.probes`), so its fingerprint covers both modalities.

Binary tasks default to accuracy rather than AUROC because accuracy is defined on every
split, including a small test split that happens to hold a single class.

Every problem the user can cause raises :class:`hetero.errors.SuiteError` with a one-line
message naming the file, the task, the field and what was expected. ``.npz`` files are read
with ``allow_pickle=False``: they are never unpickled.

Modules: :mod:`~hetero.suite.modality` (:class:`Modality`), :mod:`~hetero.suite.units`
(:class:`Unit` and the label format), :mod:`~hetero.suite.data` (:class:`TaskData`),
:mod:`~hetero.suite.task` (:class:`Task`), :mod:`~hetero.suite.collection`
(:class:`Suite`), :mod:`~hetero.suite.splits` (seeded, stratified splits),
:mod:`~hetero.suite.loading` (YAML + npz + ``dataset:`` tasks) and
:mod:`~hetero.suite.dataset_registry` (the registry ``dataset:`` names resolve through).
"""

from __future__ import annotations

from hetero.suite._checks import (
    DEFAULT_SPLIT,
    LOSSES,
    MATCH_MODES,
    METRICS,
    MODALITY_KINDS,
    SPLIT_NAMES,
    TARGETS,
)
from hetero.suite.collection import Suite, load_suite
from hetero.suite.data import TaskData
from hetero.suite.modality import Modality
from hetero.suite.splits import fraction_split
from hetero.suite.task import Task
from hetero.suite.units import Unit

__all__ = [
    "DEFAULT_SPLIT",
    "LOSSES",
    "MATCH_MODES",
    "METRICS",
    "MODALITY_KINDS",
    "SPLIT_NAMES",
    "TARGETS",
    "Modality",
    "Suite",
    "Task",
    "TaskData",
    "Unit",
    "fraction_split",
    "load_suite",
]

# The public classes keep the module path they always had (reprs, pickles, docs).
for _cls in (Modality, Suite, Task, TaskData, Unit):
    _cls.__module__ = __name__
del _cls
