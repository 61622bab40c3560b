"""A progress bar for :func:`fastgd.train`, built on its callback hook.

:func:`fastgd.train` calls ``callback(iteration, loss, w, b)`` every
``callback_every`` iterations and after the last one; between two calls the
compiled loop runs uninterrupted. :class:`ProgressBar` is such a callback: it
moves a `tqdm <https://tqdm.github.io>`_ bar and shows the current loss.
:func:`choose_callback_every` picks how often to report so that the bar costs
nothing measurable: about 100 updates per run, but never so often that the
round trip out of the compiled loop (a few microseconds) weighs on the run.

tqdm is optional (``pip install fastgd[progress]``) and imported only when a
bar is actually shown.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from collections.abc import Callable
from typing import IO, Any

__all__ = ["ProgressBar", "choose_callback_every", "progress_available"]

# About this many bar updates per run are plenty for the eye.
TARGET_UPDATES = 100

# Leaving the compiled loop, calling back into Python and updating the bar
# costs ~4 microseconds (measured on a 2-core EPYC). Reporting no more often
# than once per this many elements (rows x features) swept, about a
# millisecond of epochs, keeps that under 1% of the run even on tiny data.
MIN_ELEMENTS_PER_UPDATE = 1 << 20

# Fixed cost of one compiled iteration on tiny data, in elements' worth of
# work: a 30-row problem still costs about as much as ~300 elements.
_ITERATION_OVERHEAD_ELEMENTS = 256


def choose_callback_every(total_iterations: int, n_elements: int | None = None) -> int:
    """Iterations between progress updates for a run of ``total_iterations``.

    Parameters
    ----------
    total_iterations : int
        The iteration cap of the run.
    n_elements : int, optional
        Rows times features of the data. When given, updates are spaced so
        that each one follows at least ~1 ms of compiled work, so small data
        is not slowed down by its progress bar.

    Returns
    -------
    int
        At least 1, at most ``max(1, total_iterations)``.

    Examples
    --------
    >>> choose_callback_every(20_000)
    200
    >>> choose_callback_every(30, n_elements=10_000_000)
    1
    >>> choose_callback_every(20_000, n_elements=30)
    3667
    """
    total_iterations = max(1, int(total_iterations))
    every = math.ceil(total_iterations / TARGET_UPDATES)
    if n_elements is not None:
        work_per_iteration = max(1, int(n_elements)) + _ITERATION_OVERHEAD_ELEMENTS
        every = max(every, math.ceil(MIN_ELEMENTS_PER_UPDATE / work_per_iteration))
    return min(every, total_iterations)


def progress_available() -> bool:
    """Whether tqdm is installed (without importing it)."""
    return importlib.util.find_spec("tqdm") is not None


def _is_terminal(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _terminal_width(stream: IO[str]) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


def _wants_bar(enabled: bool | None, file: IO[str]) -> bool:
    """``enabled``, with ``None`` meaning: when ``file`` is a terminal and tqdm is installed."""
    if enabled is None:
        return _is_terminal(file) and progress_available()
    if enabled and not progress_available():
        raise ImportError("the progress bar needs tqdm: pip install fastgd[progress] (or pip install tqdm)")
    return bool(enabled)


def _new_bar(total: int, file: IO[str], options: dict[str, Any]) -> Any:
    """A tqdm bar on ``file``."""
    from tqdm.auto import tqdm

    if "ncols" not in options:
        # Follow the terminal's width, except where it reports no size (a bare
        # pseudo-terminal says 0 x 0, and tqdm would then draw nothing).
        width = _terminal_width(file)
        options = {**options, **({"dynamic_ncols": True} if width else {"ncols": 80, "nrows": 24})}
    return tqdm(total=total, file=file, **options)


class ProgressBar:
    """A tqdm progress bar that is also a :func:`fastgd.train` callback.

    Parameters
    ----------
    total_iterations : int
        The run's iteration cap (the bar's 100%).
    enabled : bool, optional
        ``None`` (the default) shows the bar only when ``file`` is a terminal
        and tqdm is installed; ``True`` always shows it (and needs tqdm);
        ``False`` never does, and then the object only forwards to
        ``callback``.
    callback : callable, optional
        A user callback ``callback(iteration, loss, w, b)`` to chain: it is
        called after the bar moves, and its return value is passed on, so
        returning ``False`` still stops training.
    description : str
        Text in front of the bar.
    file : text stream, optional
        Where the bar is drawn (default ``sys.stderr``).
    **tqdm_options
        Passed on to ``tqdm.tqdm`` (e.g. ``leave=False``, ``mininterval``).

    Examples
    --------
    >>> import numpy as np, fastgd
    >>> from fastgd.progress import ProgressBar, choose_callback_every
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> with ProgressBar(5000, enabled=False) as bar:
    ...     result = fastgd.train(x, 3 * x + 2, lr=0.5, iterations=5000,
    ...                           callback=bar, callback_every=choose_callback_every(5000, x.size))
    >>> round(result.w, 6)
    3.0
    """

    def __init__(
        self,
        total_iterations: int,
        *,
        enabled: bool | None = None,
        callback: Callable[..., bool | None] | None = None,
        description: str = "training",
        file: IO[str] | None = None,
        **tqdm_options: Any,
    ) -> None:
        self.total_iterations = int(total_iterations)
        self.callback = callback
        self.file = sys.stderr if file is None else file
        self.enabled = _wants_bar(enabled, self.file)
        self.last_loss: float | None = None
        self._bar = None
        if self.enabled:
            options = {"desc": description, "unit": "it", "leave": True, **tqdm_options}
            self._bar = _new_bar(self.total_iterations, self.file, options)

    def __call__(self, iteration: int, loss: float, w: Any, b: float) -> bool | None:
        """Move the bar to ``iteration + 1`` and show ``loss``; then call the chained callback."""
        self.last_loss = loss
        if self._bar is not None:
            # refresh=False: tqdm redraws at most every `mininterval` seconds anyway.
            self._bar.set_postfix(loss=f"{loss:.6g}", refresh=False)
            self._bar.update(iteration + 1 - self._bar.n)
        if self.callback is not None:
            return self.callback(iteration, loss, w, b)
        return None

    def note(self, message: str) -> None:
        """Print ``message`` on the bar's stream, above the bar when one is drawn."""
        if self._bar is not None:
            self._bar.write(message, file=self.file)
        else:
            print(message, file=self.file, flush=True)

    def exclude_pause(self) -> None:
        """Leave the time since the bar last moved (e.g. compiling) out of its rate and time estimates."""
        if self._bar is not None:
            self._bar.unpause()

    def close(self) -> None:
        """Draw the final state and release the terminal line (idempotent).

        A run that converged before its iteration cap ends the bar at the
        iterations it ran, drawn as complete.
        """
        if self._bar is not None:
            if 0 < self._bar.n < self._bar.total:
                self._bar.total = self._bar.n
                self._bar.refresh()
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ByteProgress:
    """A tqdm bar of bytes read, one pass over a streamed source at a time (:func:`fastgd.train_stream`).

    ``enabled`` as for :class:`ProgressBar`. Each pass restarts the bar at 0
    with ``pass k`` in front; ``update_to`` moves it to the bytes read so far.
    """

    def __init__(self, total_bytes: int, *, enabled: bool | None = None, file: IO[str] | None = None) -> None:
        self.total_bytes = max(1, int(total_bytes))
        self.file = sys.stderr if file is None else file
        self._bar = None
        if _wants_bar(enabled, self.file):
            options = {"unit": "B", "unit_scale": True, "unit_divisor": 1024, "desc": "reading", "leave": False}
            self._bar = _new_bar(self.total_bytes, self.file, options)

    @property
    def enabled(self) -> bool:
        return self._bar is not None

    def start_pass(self, number: int) -> None:
        if self._bar is not None:
            self._bar.reset(total=self.total_bytes)
            self._bar.set_description(f"pass {number}")  # drawn now: once a pass

    def update_to(self, bytes_read: int) -> None:
        if self._bar is not None:
            self._bar.update(min(bytes_read, self.total_bytes) - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ByteProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
