"""Exceptions raised on bad input.

Every error the user can cause derives from :class:`HeteroError`. Its message is one line
that names the file (when there is one), the field and what was expected; the CLI prints
it on stderr and exits with code 2, without a traceback.
"""

from __future__ import annotations

__all__ = [
    "HeteroError",
    "LearnerError",
    "MatrixFormatError",
    "PlanError",
    "SuiteError",
]


class HeteroError(ValueError):
    """Bad input given to hetero: a file, a field or an argument that is not as expected.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    source : str or path-like, optional
        The file the problem was found in; prefixed to the message.
    """

    def __init__(self, message: str, source: object | None = None):
        self.source = None if source is None else str(source)
        self.detail = message
        text = message if self.source is None else f"{self.source}: {message}"
        super().__init__(" ".join(text.split()))  # always one line


class SuiteError(HeteroError):
    """A suite declaration or its data does not validate."""


class MatrixFormatError(HeteroError):
    """A heterogeneity matrix (file or array) is malformed."""


class PlanError(HeteroError):
    """A grouping plan is malformed or does not fit a suite."""


class LearnerError(HeteroError):
    """A learner name, configuration or capability problem."""
