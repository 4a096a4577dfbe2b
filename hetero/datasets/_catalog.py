"""Dataset records: :class:`DatasetInfo` and the decorator that registers a loader.

Every loader module registers its loaders in :data:`hetero.suite.dataset_registry.DATASETS`
with :func:`register_dataset`; the registry imports the built-in modules on first use, and
plug-ins add records through the ``hetero.datasets`` entry-point group (an entry point that
loads a :class:`DatasetInfo`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hetero.datasets._common import RawTask
from hetero.suite.dataset_registry import DATASETS, DatasetError

__all__ = ["GENERIC_OPTIONS", "DatasetInfo", "register_dataset"]

GENERIC_OPTIONS = ("modalities", "rename", "max_samples", "sample_seed")

F = TypeVar("F", bound=Callable[..., RawTask])


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset loader.

    Attributes
    ----------
    name : str
        Name used by :func:`hetero.datasets.load_task` and ``dataset:`` in suite YAML.
    module, function : str
        Where the loader function is (imported on first use, so that a plug-in's
        dependencies load only when its dataset is loaded).
    origin : str
        ``package`` (shipped in a PyPI package), ``path`` (a local copy of a public dataset)
        or ``multibench`` (a MultiBench-format file).
    requires : str
        What must be present (a pip requirement or the expected folder/file).
    summary : str
        One line on the task.
    data_path : str
        What the loader reads under ``data_dir`` (``fsdd/recordings/``); empty for loaders
        that take no ``data_dir``.
    """

    name: str
    module: str
    function: str
    origin: str
    requires: str
    summary: str
    data_path: str = ""

    def loader(self) -> Callable[..., RawTask]:
        """The loader function."""
        return getattr(importlib.import_module(self.module), self.function)

    def options(self) -> dict[str, Any]:
        """Loader options and their defaults (``inspect.Parameter.empty`` when required)."""
        sig = inspect.signature(self.loader())
        return {n: p.default for n, p in sig.parameters.items() if p.kind is not p.VAR_KEYWORD}

    def load_raw(
        self,
        *,
        modalities: list[str] | None = None,
        rename: dict[str, str] | None = None,
        max_samples: int | None = None,
        sample_seed: int = 0,
        **options: Any,
    ) -> RawTask:
        """Load the dataset as a :class:`RawTask`; see :func:`hetero.datasets.load_task`."""
        valid = self.options()
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise DatasetError(
                f"dataset '{self.name}': unknown option(s) {', '.join(unknown)} "
                f"(loader options: {', '.join(valid) or 'none'}; "
                f"generic: {', '.join(GENERIC_OPTIONS)})"
            )
        required = [
            k for k, v in valid.items() if v is inspect.Parameter.empty and k not in options
        ]
        if required:
            raise DatasetError(f"dataset '{self.name}': option(s) {', '.join(required)} required")
        raw = self.loader()(**options)
        if modalities is not None:
            raw = raw.select_modalities(
                [modalities] if isinstance(modalities, str) else list(modalities)
            )
        if rename:
            raw = raw.rename(dict(rename))
        if max_samples is not None:
            raw = raw.subsample(int(max_samples), int(sample_seed))
        return raw

    def load_task(self, **options: Any) -> Any:
        """Load the dataset as a validated :class:`hetero.suite.Task`."""
        return self.load_raw(**options).to_task()


def register_dataset(
    name: str, *, origin: str, requires: str, summary: str, data_path: str = ""
) -> Callable[[F], F]:
    """Decorator: register the decorated loader as dataset ``name`` (returned unchanged)."""

    def register(loader: F) -> F:
        info = DatasetInfo(
            name, loader.__module__, loader.__name__, origin, requires, summary, data_path
        )
        DATASETS.register(name, info)
        return loader

    return register
