"""Exceptions raised on bad input.

Every error the user can cause derives from :class:`HeteroError`. Its message is one line
that names the file (when there is one), the field and what was expected; the CLI prints
it on stderr and exits with code 2, without a traceback.
"""

from __future__ import annotations

__all__ = [
    "HeteroError",
    "HeteroWarning",
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

    #: Longest message kept; a value quoted from a huge input is cut, not printed whole.
    max_length = 1000

    def __init__(self, message: str, source: object | None = None):
        self.source = None if source is None else str(source)
        self.detail = message
        text = message if self.source is None else f"{self.source}: {message}"
        text = " ".join(text.split())  # always one line
        if len(text) > self.max_length:
            text = text[: self.max_length - 25] + " ... (message truncated)"
        super().__init__(text)


class SuiteError(HeteroError):
    """A suite declaration or its data does not validate."""


class MatrixFormatError(HeteroError):
    """A heterogeneity matrix (file or array) is malformed."""


class PlanError(HeteroError):
    """A grouping plan is malformed or does not fit a suite."""


class LearnerError(HeteroError):
    """A learner name, configuration or capability problem."""


class HeteroWarning(UserWarning):
    """Input that hetero can use but that is probably not what was meant.

    The CLI prints each as one ``warning:`` line on stderr.
    """
