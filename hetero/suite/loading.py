"""Suite files: YAML parsing into a :class:`Suite`, ``.npz`` task data, ``dataset:`` tasks.

The one owner of suite-file interpretation: :func:`load_suite`, :meth:`Suite.from_yaml`,
:meth:`Suite.from_dict` and :func:`hetero.datasets.get_suite` all end in
:func:`suite_from_dict`, which also passes ``data_dir`` to the dataset loaders that read
local copies of public datasets. YAML is parsed only by the guarded reader
:func:`hetero._io.read_yaml` (bounded size and alias expansion); ``.npz`` files are read
with ``allow_pickle=False`` after every member's header has been checked.
"""

from __future__ import annotations

import inspect
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hetero.errors import HeteroError, SuiteError
from hetero.suite._checks import (
    TARGETS,
    _check_name,
    _fail,
    _is_int,
    _join,
    _resolve_objective,
    _unknown_key_reason,
)
from hetero.suite.dataset_registry import DATA_DIR_ENV, DATASETS, DatasetError
from hetero.suite.modality import _modality_decls
from hetero.suite.splits import _parse_split_spec
from hetero.suite.task import Task, _check_match, _check_retrieval_modalities

if TYPE_CHECKING:  # Suite imports this module's functions inside its classmethods
    from hetero.suite.collection import Suite

__all__ = ["suite_from_dict", "suite_from_yaml"]

_SUITE_KEYS = ("name", "description", "tasks")
_NPZ_TASK_KEYS = (
    "name",
    "data",
    "target",
    "modalities",
    "split",
    "loss",
    "metric",
    "higher_is_better",
    "n_classes",
    "match",
    "description",
)
_DATASET_TASK_KEYS = ("name", "dataset", "options", "description")


def suite_from_yaml(
    cls: type[Suite],
    path: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    trust_pickle: bool = False,
) -> Suite:
    """:meth:`Suite.from_yaml`: read ``path`` (guarded) and build the suite."""
    from hetero._io import read_yaml

    path = Path(path).expanduser()
    if not path.exists():
        raise SuiteError("suite file not found", source=path)
    d = read_yaml(path, error=SuiteError)
    if isinstance(d, Mapping) and "name" not in d:
        d = {"name": path.stem, **d}
    return suite_from_dict(
        cls, d, base_dir=path.parent, source=path, data_dir=data_dir, trust_pickle=trust_pickle
    )


def suite_from_dict(
    cls: type[Suite],
    d: Any,
    base_dir: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    trust_pickle: bool = False,
) -> Suite:
    """:meth:`Suite.from_dict`: validate the mapping and build every task."""
    src = None if source is None else str(source)
    base = Path.cwd() if base_dir is None else Path(base_dir)
    if not isinstance(d, Mapping):
        raise SuiteError(
            f"expected a mapping with a 'tasks' list at the top level, got {type(d).__name__}",
            source=src,
        )
    for key in d:
        if key not in _SUITE_KEYS:
            raise SuiteError(_unknown_key_reason(key, _SUITE_KEYS), source=src)
    raw_tasks = d.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise SuiteError(
            f"tasks: expected a non-empty list of tasks, got {raw_tasks!r}", source=src
        )
    raw_tasks = _with_data_dir(raw_tasks, data_dir, d.get("name", "suite"), src)
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for i, td in enumerate(raw_tasks):
        task = _task_from_dict(td, i, base, src, trust_pickle)
        if task.name in seen:
            raise SuiteError(
                f"tasks[{i}].name: duplicate task name '{task.name}' (also tasks[{seen[task.name]}])",
                source=src,
            )
        seen[task.name] = i
        tasks.append(task)
    if "description" in d and not isinstance(d["description"], str):
        raise SuiteError(
            f"description: expected a string, got {type(d['description']).__name__}",
            source=src,
        )
    name = d.get("name", "suite")
    if not isinstance(name, str) or not name:
        raise SuiteError(f"name: expected a non-empty string, got {name!r}", source=src)
    return cls(tasks, name=name, source=src)


def _with_data_dir(
    raw_tasks: list[Any], data_dir: str | os.PathLike | None, suite: Any, src: str | None
) -> list[Any]:
    """Pass the data folder to the ``dataset:`` tasks whose loader reads local copies.

    The folder is ``data_dir``, else $HETERO_DATA_DIR, and goes to every task whose loader
    takes ``data_dir`` and that names neither ``path`` nor ``data_dir`` in its options.
    Without a folder such tasks are listed in one error, before any data is read. The
    mapping is not modified: the tasks that get a folder are copied.
    """
    base = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    out: list[Any] = []
    needs: list[str] = []
    reads: list[str] = []
    for td in raw_tasks:
        out.append(td)
        # Malformed entries are left for _task_from_dict, which names the field.
        if not isinstance(td, Mapping) or not isinstance(td.get("dataset"), str):
            continue
        if "name" in td and _check_name(td["name"]) is not None:
            continue
        options = td.get("options") or {}
        if not isinstance(options, Mapping) or "path" in options or "data_dir" in options:
            continue
        if td["dataset"] not in DATASETS:
            continue
        try:
            entry = DATASETS.get(td["dataset"])
            takes_data_dir = "data_dir" in entry.options()
        except (HeteroError, AttributeError):
            continue  # a broken plug-in: the task's own loading reports it
        if not takes_data_dir:
            continue
        if base is None:
            needs.append(str(td.get("name", td["dataset"])))
            what = getattr(entry, "data_path", "")
            if what and what not in reads:
                reads.append(what)
        else:
            out[-1] = {**td, "options": {**options, "data_dir": os.fspath(base)}}
    if needs:
        holding = (
            ", ".join(reads[:-1]) + " and " + reads[-1] if len(reads) > 1 else "".join(reads)
        ) or "their data"
        raise DatasetError(
            f"suite '{suite}' reads local copies of public datasets (tasks: "
            f"{', '.join(needs)}): pass data_dir=... (--data-dir) or set {DATA_DIR_ENV} to a "
            f"folder holding {holding}",
            source=src,
        )
    return out


def _task_from_dict(
    td: Any, i: int, base: Path, src: str | None, trust_pickle: bool = False
) -> Task:
    if not isinstance(td, Mapping):
        raise SuiteError(
            f"tasks[{i}]: expected a mapping with name, data, target, modalities; got {td!r}",
            source=src,
        )
    label = td.get("name") if isinstance(td.get("name"), str) else f"tasks[{i}]"
    if "description" in td and not isinstance(td["description"], str):
        raise _fail(
            src, label, "description", f"expected a string, got {type(td['description']).__name__}"
        )
    if "dataset" in td and "data" in td:
        raise _fail(src, label, "data", "give either 'data: FILE.npz' or 'dataset: NAME', not both")
    if "dataset" in td:
        return _task_from_dataset(td, str(label), src, trust_pickle)
    for key in td:
        if key not in _NPZ_TASK_KEYS:
            raise _fail(src, label, None, _unknown_key_reason(key, _NPZ_TASK_KEYS))
    if "name" not in td:
        raise _fail(src, None, f"tasks[{i}].name", "missing; expected the task name")
    why = _check_name(td["name"])
    if why is not None:
        raise _fail(src, None, f"tasks[{i}].name", why)
    name = td["name"]
    if "data" not in td:
        raise _fail(src, name, "data", "missing; expected 'data: FILE.npz' or 'dataset: NAME'")
    if "target" not in td:
        raise _fail(src, name, "target", f"missing; expected one of: {_join(TARGETS)}")
    if td["target"] not in TARGETS:
        raise _fail(
            src,
            name,
            "target",
            f"unknown target {td['target']!r}; expected one of: {_join(TARGETS)}",
        )
    mods = td.get("modalities")
    if mods is None or (isinstance(mods, list) and not mods):
        raise _fail(
            src,
            name,
            "modalities",
            "no modalities; expected a list like [{name: audio, kind: audio}]",
        )
    if not isinstance(mods, list):
        raise _fail(src, name, "modalities", f"expected a list of modalities, got {mods!r}")
    if "split" in td:  # report problems of the declaration against the YAML file
        _parse_split_spec(td["split"], source=src, task=name)
    resolved = _resolve_objective(
        td["target"], td.get("loss"), td.get("metric"), td.get("higher_is_better")
    )
    if isinstance(resolved[0], tuple):
        raise _fail(src, name, *resolved[0])
    _check_match(src, name, td["target"], td.get("match"))
    _check_retrieval_modalities(src, name, td["target"], len(mods))
    n_classes = td.get("n_classes")
    if n_classes is not None and (
        td["target"] != "multiclass" or not _is_int(n_classes) or n_classes < 2
    ):
        raise _fail(
            src, name, "n_classes", f"expected an int >= 2 for a multiclass task, got {n_classes!r}"
        )
    data = td["data"]
    if not isinstance(data, str) or not data:
        raise _fail(src, name, "data", f"expected a path to an .npz file, got {data!r}")
    path = Path(data).expanduser()
    if not path.is_absolute():
        path = base / path
    if isinstance(mods, list):  # declaration errors name the YAML, before the data is read
        _modality_decls(mods, src, name)
    arrays = _read_npz(path, name, yaml_source=src)
    npz_src = str(path)
    idx = {k: arrays.pop(k) for k in ("train_idx", "val_idx", "test_idx") if k in arrays}
    y = arrays.pop("y", None)
    return Task.from_arrays(
        name,
        arrays,
        y,
        target=td["target"],
        modalities=mods,
        train_idx=idx.get("train_idx"),
        val_idx=idx.get("val_idx"),
        test_idx=idx.get("test_idx"),
        split=td.get("split"),
        n_classes=td.get("n_classes"),
        loss=td.get("loss"),
        metric=td.get("metric"),
        higher_is_better=td.get("higher_is_better"),
        source=npz_src,
        copy=False,
        match=td.get("match"),
    )


def _read_npz(path: Path, task: str, *, yaml_source: str | None) -> dict[str, np.ndarray]:
    from hetero._io import check_npy_member

    if not path.exists():
        raise _fail(yaml_source, task, "data", f"file not found: {path}")
    if path.is_dir():
        raise _fail(yaml_source, task, "data", f"{path} is a directory; expected an .npz file")
    if not path.is_file():
        raise _fail(yaml_source, task, "data", f"{path} is not a regular file (a FIFO or device?)")
    src = str(path)

    def error(message: str, source: object = None) -> SuiteError:
        return _fail(src, task, "data", message)

    expected = "expected an .npz file written by numpy.savez"
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
        # Every member's header is read and checked before numpy allocates anything.
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with zf.open(info) as member:
                    check_npy_member(member, info.file_size, name=key, path=src, error=error)
        npz = np.load(path, allow_pickle=False)
        with npz:
            return {key: npz[key] for key in npz.files}
    except HeteroError:  # a member's own one-line message (check_npy_member)
        raise
    except zipfile.BadZipFile:
        if magic == b"\x93NUMPY":
            raise error(
                "holds a single array (.npy); expected an .npz archive of named arrays"
            ) from None
        raise error(f"not a zip archive; {expected}") from None
    except (OSError, ValueError, EOFError, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise error(f"cannot read npz ({' '.join(str(exc).split())}); {expected}") from None


def _task_from_dataset(
    td: Mapping[str, Any], label: str, src: str | None, trust_pickle: bool = False
) -> Task:
    for key in td:
        if key not in _DATASET_TASK_KEYS:
            if key in _NPZ_TASK_KEYS:
                raise _fail(
                    src,
                    label,
                    None,
                    f"key '{key}' is not valid with 'dataset:' (the loader sets it); "
                    f"valid keys: {_join(sorted(_DATASET_TASK_KEYS))}",
                )
            raise _fail(src, label, None, _unknown_key_reason(key, _DATASET_TASK_KEYS))
    dataset = td["dataset"]
    if not isinstance(dataset, str) or not dataset:
        raise _fail(src, label, "dataset", f"expected a dataset name, got {dataset!r}")
    options = td.get("options") or {}
    if not isinstance(options, Mapping):
        raise _fail(src, label, "options", f"expected a mapping of loader options, got {options!r}")
    if "trust_pickle" in options:
        # Unpickling runs code: only the person running the command may allow it.
        raise _fail(
            src,
            label,
            "options.trust_pickle",
            "a suite file cannot allow unpickling; the person running the command opts in "
            "with --trust-pickle (trust_pickle=True in Python)",
        )
    if "name" in td:
        why = _check_name(td["name"])
        if why is not None:
            raise _fail(src, None, "name", why)
    try:
        entry = DATASETS.get(dataset)  # unknown names: the valid ones and the closest
    except HeteroError as exc:
        raise _fail(src, label, "dataset", str(exc)) from None
    load_task = getattr(entry, "load_task", None)
    if load_task is None:
        raise _fail(
            src,
            label,
            "dataset",
            f"dataset '{dataset}' is registered as a {type(entry).__name__}; expected an "
            "entry with load_task() (a hetero.datasets.DatasetInfo)",
        )
    if trust_pickle:
        try:
            takes_trust = "trust_pickle" in entry.options()
        except (HeteroError, AttributeError):
            takes_trust = False  # load_task below says what is wrong
        if takes_trust:
            options = {**options, "trust_pickle": True}
    try:
        inspect.signature(load_task).bind(**options)
    except TypeError as exc:
        raise _fail(
            src, label, "options", f"invalid options for dataset '{dataset}' ({exc})"
        ) from None
    except ValueError:
        pass  # no introspectable signature
    try:
        task = load_task(**options)
    except HeteroError as exc:
        raise _fail(src, label, "dataset", str(exc)) from exc
    if not isinstance(task, Task):
        raise _fail(
            src,
            label,
            "dataset",
            f"loader for '{dataset}' returned {type(task).__name__}; expected a Task",
        )
    if "name" in td and td["name"] != task.name:
        task = task.rename(td["name"])
    return task
