"""Dataset loaders and built-in suites.

Three families of loaders each produce a :class:`hetero.suite.Task`:

- package-shipped real data (no download): ``mfeat``, ``mfeat_pairs`` (two ``mfeat`` views
  as a cross-modal retrieval task), ``watch``, ``mnist5k``, ``sklearn_digits`` and
  ``digits`` (MNIST-5k paired with scikit-learn digits by label);
- loaders of local copies of public datasets (``path=`` / ``data_dir=`` / $HETERO_DATA_DIR):
  ``fsdd``, ``spoken_digits`` (FSDD paired with MNIST-5k by label), ``racketsports``,
  ``citeseer``;
- the MultiBench formats of the HighMMT paper: ``avmnist``, ``affect`` and ``mimic`` (the
  last two are pickles, read only with ``trust_pickle=True``).

Every loader also takes the generic options of :func:`load_task` (``modalities``,
``rename``, ``max_samples``, ``sample_seed``). Built-in suites (``mini``,
``mini_retrieval``, ``full``) are YAML
files in ``hetero/datasets/suites``; see :func:`get_suite`.

The loaders are registered in :data:`DATASETS` (a :class:`hetero.registry.Registry` that
lives in :mod:`hetero.suite.dataset_registry`, so that the suite loader resolves
``dataset:`` names without importing this package). Plug-ins add :class:`DatasetInfo`
records through the ``hetero.datasets`` entry-point group.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hetero.datasets._catalog import GENERIC_OPTIONS, DatasetInfo, register_dataset
from hetero.datasets._common import RawTask
from hetero.suite.dataset_registry import DATA_DIR_ENV, DATASETS, DatasetError

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "GENERIC_OPTIONS",
    "DatasetError",
    "DatasetInfo",
    "RawTask",
    "dataset_info",
    "get_suite",
    "list_datasets",
    "list_suites",
    "load_raw",
    "load_task",
    "register_dataset",
    "suite_path",
]

SUITES_DIR = Path(__file__).resolve().parent / "suites"


def list_datasets() -> list[str]:
    """Names of the registered dataset loaders, sorted."""
    return DATASETS.names()


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of dataset ``name``.

    Raises :class:`DatasetError` for an unknown name, listing the valid ones and suggesting
    the closest.
    """
    return DATASETS.get(name)


def load_raw(
    name: str,
    *,
    modalities: list[str] | None = None,
    rename: dict[str, str] | None = None,
    max_samples: int | None = None,
    sample_seed: int = 0,
    **options: Any,
) -> RawTask:
    """Load dataset ``name`` as a :class:`RawTask` (plain arrays + metadata).

    Same options as :func:`load_task`.
    """
    return dataset_info(name).load_raw(
        modalities=modalities,
        rename=rename,
        max_samples=max_samples,
        sample_seed=sample_seed,
        **options,
    )


def load_task(name: str, **options: Any) -> Any:
    """Load dataset ``name`` as a validated :class:`hetero.suite.Task`.

    Parameters
    ----------
    name : str
        A name from :func:`list_datasets`.
    **options
        The loader's own options (see ``hetero datasets show NAME``) plus the generic ones:
        ``modalities`` (list of names to keep, in order), ``rename`` (``{old: new}``),
        ``max_samples`` (cap on the total number of samples; every split is cut in
        proportion, stratified by class) and ``sample_seed`` (seed of that cut).

    Returns
    -------
    Task
    """
    return dataset_info(name).load_task(**options)


def list_suites() -> list[str]:
    """Names of the built-in suites (YAML files shipped in ``hetero/datasets/suites``)."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def suite_path(name: str) -> Path:
    """The YAML file of built-in suite ``name``."""
    path = SUITES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise DatasetError(f"unknown suite {name!r} (built-in suites: {', '.join(list_suites())})")
    return path


def get_suite(
    name: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    trust_pickle: bool = False,
) -> Any:
    """Load a built-in suite by name (``mini``, ``mini_retrieval``, ``full``) or a suite
    YAML file by path.

    A thin wrapper: the name is resolved to its file, which :func:`hetero.suite.load_suite`
    reads (the one suite loader).

    Parameters
    ----------
    name : str or path-like
        A name from :func:`list_suites`, or the path of a suite YAML file.
    data_dir : path-like, optional
        Folder holding local copies of the path datasets (``fsdd/recordings``,
        ``racketsports/``, ``citeseer/CiteSeer.mat``); default $HETERO_DATA_DIR. Passed to
        every ``dataset:`` task whose loader takes ``data_dir`` and was given no path.
    trust_pickle : bool
        Let loaders that read pickles (``affect``, ``mimic``) unpickle their files. Only the
        caller can allow this (``--trust-pickle``); a suite file cannot.

    Returns
    -------
    Suite
    """
    from hetero.suite import load_suite

    text_name = os.fspath(name)
    is_file = (
        text_name.endswith((".yaml", ".yml"))
        or os.sep in text_name
        or (text_name not in list_suites() and Path(text_name).expanduser().is_file())
    )
    path = Path(text_name).expanduser() if is_file else suite_path(text_name)
    if not path.exists():
        raise DatasetError("suite file not found", source=path)
    return load_suite(path, data_dir=data_dir, trust_pickle=trust_pickle)
