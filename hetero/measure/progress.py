"""A progress line for :func:`hetero.measure.measure` in Python and notebooks.

:class:`ProgressLine` is a pair of ``on_start`` / ``on_event`` hooks that keeps one line
on a text stream (stderr by default) up to date: runs done of the total, how many came
from the store, failed or were skipped, elapsed time and an estimate of the time left.
It rewrites the line with a carriage return, which terminals and Jupyter's output areas
both honour, and needs nothing beyond the standard library (no widget, no rich, no tqdm).

``measure(progress=None)`` shows it when running inside a Jupyter kernel and stays
quiet in plain scripts and library use; ``progress=True`` shows it anywhere and
``progress=False`` never. The CLI has its own rich progress bar.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["ProgressLine", "combine", "in_notebook", "want_progress"]


def in_notebook() -> bool:
    """Whether the code runs inside a Jupyter (IPython) kernel."""
    if "ipykernel" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def want_progress(progress: bool | None) -> bool:
    """``progress`` resolved: None means "in a notebook" (:func:`in_notebook`)."""
    return in_notebook() if progress is None else bool(progress)


def _clock(seconds: float) -> str:
    h, rest = divmod(max(0, round(seconds)), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressLine:
    """One self-updating progress line: ``runs 12/36 (3 cached) 0:05 eta 0:10``.

    Parameters
    ----------
    stream : text stream, optional
        Where to write (default: ``sys.stderr`` at the time of each write).
    min_interval : float
        Seconds between two redraws (the last event always redraws).
    clock : callable, optional
        Monotonic time source (tests).

    Attributes
    ----------
    total_ : int
        Runs announced by ``start`` so far (several batches add up).
    counts_ : dict of str -> int
        Finished runs by status (``ok``, ``cached``, ``failed``, ``skipped``).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        min_interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream = stream
        self.min_interval = min_interval
        self.clock = clock
        self.total_ = 0
        self.counts_: dict[str, int] = {}
        self._t0: float | None = None
        self._drawn = -float("inf")
        self._width = 0

    @property
    def done_(self) -> int:
        """Runs finished (any status but ``retry``)."""
        return sum(self.counts_.values())

    def start(self, total: int) -> None:
        """``on_start`` hook: ``total`` more runs are scheduled."""
        if self._t0 is None:
            self._t0 = self.clock()
        self.total_ += int(total)
        self._draw(force=True)

    def event(self, ev: Any) -> None:
        """``on_event`` hook: one run finished (a ``retry`` is not counted)."""
        status = getattr(ev, "status", "ok")
        if status == "retry":
            return
        self.counts_[status] = self.counts_.get(status, 0) + 1
        self._draw(force=self.done_ >= self.total_)

    def line(self) -> str:
        """The current text of the line."""
        done, total = self.done_, self.total_
        elapsed = 0.0 if self._t0 is None else self.clock() - self._t0
        extra = ", ".join(
            f"{self.counts_[k]} {k}" for k in ("cached", "failed", "skipped") if self.counts_.get(k)
        )
        text = f"runs {done}/{total}" + (f" ({extra})" if extra else "")
        text += f" {_clock(elapsed)}"
        trained = done - self.counts_.get("cached", 0)
        if 0 < done < total and trained > 0:
            # cached runs cost nothing: the rate is that of the runs that trained
            text += f" eta {_clock(elapsed / trained * (total - done))}"
        return text

    def _draw(self, *, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._drawn < self.min_interval:
            return
        self._drawn = now
        text = self.line()
        stream = self.stream or sys.stderr
        stream.write("\r" + text.ljust(self._width))
        stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._t0 is None:
            return
        self._draw(force=True)
        (self.stream or sys.stderr).write("\n")
        (self.stream or sys.stderr).flush()
        self._t0 = None


def combine(*hooks: Callable[[Any], None] | None) -> Callable[[Any], None] | None:
    """One hook calling each of ``hooks`` that is not None, in order (None if none is)."""
    present = [h for h in hooks if h is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def call(arg: Any) -> None:
        for hook in present:
            hook(arg)

    return call
