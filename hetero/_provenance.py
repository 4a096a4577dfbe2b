"""Provenance records attached to every result file (package version, config, seeds)."""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from typing import Any

__all__ = ["provenance"]


def provenance(**config: Any) -> dict[str, Any]:
    """Return a provenance dict: hetero/python/numpy versions, UTC time and ``config``.

    Parameters
    ----------
    **config
        The parameters, inputs and seeds that produced the result.
    """
    import numpy as np

    from hetero import __version__

    return {
        "hetero_version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": sys.platform,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": config,
    }
