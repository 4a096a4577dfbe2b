"""The registry of dataset loaders that ``dataset: NAME`` suite tasks resolve through.

It lives here, in a leaf module, so that the suite loader finds dataset loaders without
importing :mod:`hetero.datasets`, which imports :mod:`hetero.suite` (the dependency runs one
way: ``hetero.datasets -> hetero.suite``). The built-in loader modules of
:mod:`hetero.datasets` register themselves when the registry imports them on first use;
plug-ins come from the ``hetero.datasets`` entry-point group.

An entry is a :class:`hetero.datasets.DatasetInfo` or any object with the same two methods:
``options()`` (the loader's options and their defaults) and ``load_task(**options)`` (a
validated :class:`hetero.suite.Task`). An entry may also name, in ``data_path``, what it
reads under a data folder (``fsdd/recordings/``): the suite loader passes ``data_dir`` to
the entries whose loader takes one.
"""

from __future__ import annotations

from typing import Any

from hetero.errors import SuiteError
from hetero.registry import Registry

__all__ = ["DATASETS", "DATA_DIR_ENV", "DatasetError"]

#: environment variable naming the folder of local dataset copies (default of ``data_dir``)
DATA_DIR_ENV = "HETERO_DATA_DIR"


class DatasetError(SuiteError):
    """A dataset file or package is missing or malformed, or a loader option is invalid."""


DATASETS: Registry[Any] = Registry(
    "dataset",
    group="hetero.datasets",
    builtins=[
        "hetero.datasets.packaged",
        "hetero.datasets.fsdd",
        "hetero.datasets.racketsports",
        "hetero.datasets.citeseer",
        "hetero.datasets.multibench",
    ],
    error=DatasetError,
)
