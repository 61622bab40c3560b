"""Training on data larger than memory: :func:`train_stream` reads row blocks, a pass at a time.

A source is a data file (CSV, ``.npy``, Parquet: :func:`fastgd.io.iter_blocks`
reads it in blocks of about ``block_bytes`` of values), or Python: a callable
returning a fresh iterator of ``(X, y)`` or ``(X, y, sample_weight)`` blocks
on every call, or an iterable of them (a one-shot iterator allows one pass).

* ``solver="gram"`` (the default) reads the source **once**: each block's
  sufficient statistics merge exactly (:meth:`SufficientStatistics.merge`), and
  the iterations run on them in ``O(d^2)`` each (:func:`fastgd.train_statistics`).
  The result equals in-memory training with ``solver="gram"`` to rounding.
* ``solver="data"`` reads it once for the setup and again for every
  iteration: each epoch is the sum of the blocks' fused kernel passes
  (:class:`fastgd.blocks.BlockPasses`), as in :mod:`fastgd.dask`.

Memory: one block at a time (its values, and the reader's buffers for it),
whatever the source's size; ``block_bytes`` (default 16 MiB) sets it. Bad
cells are reported at their place in the file (line or row), and a file that
changes between passes stops the run.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import backends, gram, io, validation
from ._config import GRAM_AUTO_MAX_FEATURES, STATISTICS_MAX_FEATURES
from .blocks import BlockPasses, gradient_sums, plan_on_blocks
from .convergence import Moments
from .driver import Callback, Epochs, run_descent
from .setup import learning_rate_option, run_options
from .training import check_tol, numba_threads, train_statistics
from .types import DataPass, SufficientStatistics, TrainResult, n_features_of

__all__ = ["DEFAULT_BLOCK_BYTES", "RowStream", "train_stream"]

# Values per block: the block, a copy of its features and the reader's buffers stay within a few times this.
DEFAULT_BLOCK_BYTES = 16 << 20

# progress=None shows the bar of bytes read for files larger than this.
AUTO_PROGRESS_BYTES = 64 << 20

Block = tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.float64] | None]


class RowStream:
    """A source of row blocks that can be read again, pass after pass.

    ``open_pass()`` returns an iterator of ``(data, first_row, bytes_read)``
    with ``data`` a validated :class:`~fastgd.types.DataPass` of one block.
    Built by :meth:`from_file` or :meth:`from_python`.
    """

    def __init__(
        self,
        open_blocks: Callable[[], Iterator[tuple[Block, int, int]]],
        *,
        reusable: bool,
        total_bytes: int,
        description: str,
        feature_names: list[str] | None = None,
        target_name: str | None = None,
        path: Path | None = None,
    ):
        self._open_blocks = open_blocks
        self.reusable = reusable
        self.total_bytes = total_bytes
        self.description = description
        self.feature_names = feature_names
        self.target_name = target_name
        self.path = path
        self.passes = 0
        self.n_rows: int | None = None
        self.n_features: int | None = None
        self.one_dimensional: bool | None = None
        self._file_state = _file_state(path)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        target: str,
        features: Sequence[str] | None = None,
        *,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        reader: str = "auto",
        sep: str | None = None,
        encoding: str | None = None,
    ) -> RowStream:
        """The target and feature columns of a CSV, ``.npy`` or Parquet file (names as :func:`fastgd.io.load_training_data`)."""
        names = io.training_columns(path, target, features, sep=sep, encoding=encoding)
        found = Path(path)

        def open_blocks() -> Iterator[tuple[Block, int, int]]:
            for values, first_row, bytes_read in io.iter_blocks(
                found, names, block_bytes=block_bytes, reader=reader, sep=sep, encoding=encoding
            ):
                yield (np.ascontiguousarray(values[:, :-1]), values[:, -1].copy(), None), first_row, bytes_read

        return cls(
            open_blocks, reusable=True, total_bytes=found.stat().st_size, description=str(found),
            feature_names=names[:-1], target_name=names[-1], path=found,
        )  # fmt: skip

    @classmethod
    def from_python(cls, blocks: Callable[[], Iterable[Any]] | Iterable[Any]) -> RowStream:
        """Blocks from Python: a callable returning a fresh iterable each pass, or an iterable (one pass if an iterator)."""
        if callable(blocks):
            make = blocks
            reusable = True
        elif isinstance(blocks, Iterable):
            reusable = iter(blocks) is not blocks  # a list can be read again; a generator cannot

            def make():
                return blocks
        else:
            raise TypeError(
                "source must be a data file's path, a callable returning an iterable of (X, y) or (X, y, "
                f"sample_weight) blocks, or such an iterable; got {type(blocks).__name__}"
            )

        def open_blocks() -> Iterator[tuple[Block, int, int]]:
            first_row = 0
            done_bytes = 0
            for index, block in enumerate(make()):
                if not isinstance(block, tuple) or len(block) not in (2, 3):
                    raise TypeError(
                        f"block {index} of the source is a {type(block).__name__}; each block must be a tuple "
                        "(X, y) or (X, y, sample_weight)"
                    )
                X, y, weights = block if len(block) == 3 else (*block, None)
                X = np.asarray(X)
                done_bytes += X.nbytes
                yield (X, y, weights), first_row, done_bytes
                first_row += X.shape[0] if X.ndim else 0

        return cls(open_blocks, reusable=reusable, total_bytes=0, description="the Python source")

    def open_pass(self) -> Iterator[tuple[DataPass, int, int]]:
        """One pass: validated blocks in order. The first pass records rows and features; later ones must match."""
        if self.passes > 0 and not self.reusable:
            raise ValueError(
                "the source is a one-shot iterator, read once already: solver='data' reads the data every "
                "iteration, so pass a callable that returns a fresh iterator each time (or a list), or use "
                "solver='gram', which reads it once"
            )
        if _file_state(self.path) != self._file_state:
            raise ValueError(f"{self.path} changed during training; training stops rather than mix two data sets")
        self.passes += 1
        rows = 0
        for index, ((X, y, weights), first_row, bytes_read) in enumerate(self._open_blocks()):
            if np.ndim(X) >= 1 and np.shape(X)[0] == 0:
                continue  # an empty block (a filter that kept nothing) adds nothing
            if self.one_dimensional is None:
                self.one_dimensional = np.ndim(X) == 1  # 1-D X: one feature, and w a float, as fastgd.train has it
            data = _validated_block(X, y, weights, index, first_row, self.path is None)
            features = n_features_of(data.X)
            if self.n_features is None:
                self.n_features = features
            elif features != self.n_features:
                raise ValueError(
                    f"block {index} (from row {first_row}) has {features} feature(s), the first block had "
                    f"{self.n_features}; every block needs the same columns"
                )
            rows += data.X.shape[0]
            yield data, first_row, bytes_read
        if _file_state(self.path) != self._file_state:
            raise ValueError(f"{self.path} changed while it was read; training stops rather than mix two data sets")
        if self.n_rows is None:
            self.n_rows = rows
        elif rows != self.n_rows:
            raise ValueError(
                f"{self.description} gave {rows:,} rows in pass {self.passes}, {self.n_rows:,} in the first; "
                "training stops rather than mix two data sets"
            )


def _file_state(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _validated_block(X, y, weights, index: int, first_row: int, check_values: bool) -> DataPass:
    """One block as a :class:`DataPass`, its NaN, infinity or negative weight named by row of the whole source."""
    where = f" (in block {index} of the source)"
    try:
        data = validation.prepare_data(X, y, weights, check_values=False)
    except ValueError as error:
        raise ValueError(f"{error}{where}") from None
    if check_values:  # a file's blocks were checked by their reader, with the file's line numbers
        validation.check_finite(data.X, "X", first_row, where)
        validation.check_finite(data.y, "y", first_row, where)
    if data.sample_weight is not None:
        validation.check_finite(data.sample_weight, "sample_weight", first_row, where)
        validation.check_non_negative_weights(data.sample_weight, first_row, where)
    return data


class StreamPasses(BlockPasses):
    """:class:`fastgd.blocks.BlockPasses` over a :class:`RowStream`: each epoch reads the source once more."""

    def __init__(self, stream: RowStream, total_weight, shift, scale, *, targets: bool = True, progress=None):
        super().__init__(total_weight, shift, scale, targets=targets)
        self.stream = stream
        self.progress = progress

    def block_sums(self, params: NDArray[np.float64], targets: bool) -> list[NDArray[np.float64]]:
        if self.progress is not None:
            self.progress.start_pass(self.stream.passes + 1)
        sums = []
        for data, _, bytes_read in self.stream.open_pass():
            sums.append(gradient_sums(data.X, data.y, data.sample_weight, params, targets))
            if self.progress is not None:
                self.progress.update_to(bytes_read)
        return sums


def train_stream(
    source: str | os.PathLike | RowStream | Callable[[], Iterable[Any]] | Iterable[Any],
    *,
    iterations: int,
    target: str | None = None,
    features: Sequence[str] | None = None,
    solver: str = "gram",
    method: str = "auto",
    lr: float | str = "auto",
    tol: float | None = None,
    loss_threshold: float | None = None,
    center: bool | None = None,
    scale: bool | None = None,
    fit_intercept: bool = True,
    alpha: float = 0.0,
    l1_ratio: float = 0.0,
    w0: ArrayLike | None = None,
    b0: float = 0.0,
    callback: Callback | None = None,
    callback_every: int = 100,
    n_threads: int | None = None,
    progress: bool | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    reader: str = "auto",
    sep: str | None = None,
    encoding: str | None = None,
) -> TrainResult:
    """Fit ``y ≈ X @ w + b`` on data read in row blocks, in bounded memory, however large the source.

    Parameters
    ----------
    source : path, callable, iterable or RowStream
        A CSV, ``.npy`` or Parquet file (with ``target`` and optionally
        ``features``, as :func:`fastgd.io.load_training_data` names
        columns); or a callable returning a fresh iterable of ``(X, y)`` or
        ``(X, y, sample_weight)`` blocks on each call; or such an iterable (a
        one-shot iterator, e.g. a generator, allows ``solver="gram"`` only).
    iterations, lr, tol, loss_threshold, method, center, scale, fit_intercept, alpha, l1_ratio, w0, b0, n_threads :
        As in :func:`fastgd.train` (``method="auto"``: conjugate gradients, or
        FISTA with an L1 penalty). ``loss_threshold`` applies to
        ``solver="data"`` only.
    solver : {"gram", "data", "auto"}
        ``"gram"``: one pass over the source in all, then ``O(d^2)`` per
        iteration (up to a few thousand features). ``"data"``: a pass per
        iteration. ``"auto"``: ``"gram"`` up to 2,048 features, as in memory.
    callback, callback_every :
        As in :func:`fastgd.train` (``solver="data"`` only).
    progress : bool, optional
        A bar of bytes read per pass on stderr (needs tqdm). ``None``: when
        stderr is a terminal and the file is over 64 MiB.
    block_bytes : int
        About how many bytes of values a block holds (the memory bound).
    reader, sep, encoding :
        For CSV files, as in :func:`fastgd.io.load_training_data`.

    Returns
    -------
    TrainResult
        With ``backend="stream"``; ``passes`` counts the passes over the source.

    Examples
    --------
    >>> import numpy as np, fastgd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((10_000, 2)); y = X @ [1.0, -2.0] + 3.0
    >>> def blocks():  # read again on every call, as a file would be
    ...     for start in range(0, 10_000, 3_000):
    ...         yield X[start:start + 3_000], y[start:start + 3_000]
    >>> result = fastgd.train_stream(blocks, iterations=100)
    >>> np.round(result.w, 6).tolist(), round(result.b, 6), result.passes
    ([1.0, -2.0], 3.0, 1)
    """
    if solver not in ("gram", "data", "auto"):
        raise ValueError(f"solver must be one of ('gram', 'data', 'auto') for a stream, got {solver!r}")
    wants_passes = callback is not None or loss_threshold is not None
    if solver == "auto" and wants_passes:
        solver = "data"  # they act on passes over the data
    if solver == "gram" and wants_passes:
        raise ValueError(
            "callback and loss_threshold act on passes over the data: with solver='gram' the source is read once "
            "and the iterations run on its statistics; use solver='data', or leave them out"
        )
    validation.check_count(block_bytes, "block_bytes")
    if isinstance(source, RowStream):
        stream = source
    elif isinstance(source, (str, os.PathLike)):
        if target is None:
            raise ValueError("target is needed to read a file: the name of the column to predict")
        stream = RowStream.from_file(
            source, target, features, block_bytes=max(1, block_bytes), reader=reader, sep=sep, encoding=encoding
        )
    else:
        if target is not None or features is not None:
            raise ValueError("target and features name a file's columns; a Python source yields (X, y) blocks")
        stream = RowStream.from_python(source)
    iterations = validation.check_iterations(iterations)
    check_tol(tol)
    from .progress import ByteProgress

    if progress is None and stream.total_bytes <= AUTO_PROGRESS_BYTES:
        progress = False  # None: ByteProgress shows the bar when stderr is a terminal
    started = time.perf_counter()
    with numba_threads(n_threads), ByteProgress(stream.total_bytes, enabled=progress) as bar:
        bar_or_none = bar if bar.enabled else None
        statistics, moments = _setup_pass(stream, "data" if solver == "auto" else solver, bar_or_none)
        if solver == "auto":  # as in memory: the statistics solver up to GRAM_AUTO_MAX_FEATURES
            solver = "gram" if stream.n_features <= GRAM_AUTO_MAX_FEATURES else "data"
        if solver == "gram":
            result = train_statistics(
                statistics, iterations=iterations, tol=tol, method=method, lr=lr, center=center, scale=scale,
                fit_intercept=fit_intercept, alpha=alpha, l1_ratio=l1_ratio, w0=w0, b0=b0,
            )  # fmt: skip
            result = dataclasses.replace(
                result, backend="stream", passes=stream.passes, seconds=time.perf_counter() - started
            )
            return _one_dimensional(result) if stream.one_dimensional else result
        result = _train_on_passes(
            stream, statistics, moments, bar_or_none, started, iterations=iterations, lr=lr, tol=tol,
            loss_threshold=loss_threshold, method=method, center=center, scale=scale, fit_intercept=fit_intercept,
            alpha=alpha, l1_ratio=l1_ratio, w0=w0, b0=b0, callback=callback, callback_every=callback_every,
        )  # fmt: skip
        return _one_dimensional(result) if stream.one_dimensional else result


def _one_dimensional(result: TrainResult) -> TrainResult:
    """``result`` as :func:`fastgd.train` gives it for 1-D ``X``: ``w`` a float."""
    return dataclasses.replace(result, w=float(np.asarray(result.w).reshape(-1)[0]))


def _setup_pass(stream: RowStream, solver: str, bar) -> tuple[SufficientStatistics | None, Moments]:
    """The first pass: the merged statistics (up to 2,048 features, or for the gram solver) or column moments."""
    statistics: SufficientStatistics | None = None
    moments: Moments | None = None
    if bar is not None:
        bar.start_pass(1)
    for data, _, bytes_read in stream.open_pass():
        wide = n_features_of(data.X) > STATISTICS_MAX_FEATURES and solver == "data"
        with np.errstate(invalid="ignore", over="ignore"):  # overflowing squares are refused by fastgd.setup
            if wide:
                part = gram.column_moments(data)
                moments = part if moments is None else moments.merge(part)
            else:
                block = gram.statistics(data)
                statistics = block if statistics is None else statistics.merge(block)
        if bar is not None:
            bar.update_to(bytes_read)
    if statistics is None and moments is None:
        raise ValueError(f"{stream.description} holds no rows")
    if statistics is not None:
        if not statistics.total_weight > 0:
            raise ValueError("sample_weight sums to zero; at least one sample needs a positive weight")
        moments = Moments.from_statistics(statistics)
    return statistics, moments


def _train_on_passes(stream, statistics, moments, bar, started, *, iterations, lr, tol, loss_threshold, method,
                     center, scale, fit_intercept, alpha, l1_ratio, w0, b0, callback, callback_every) -> TrainResult:  # fmt: skip
    """``solver="data"``: the shared loop over :class:`StreamPasses`, run as Python (one pass per epoch)."""
    n_features = stream.n_features
    options, w_start, b_start = run_options(
        lr=learning_rate_option(lr), method=method, solver="data", center=center, scale=scale,
        fit_intercept=fit_intercept, alpha=alpha, l1_ratio=l1_ratio, n_features=n_features, w0=w0, b0=b0,
        one_dimensional=False,
    )  # fmt: skip
    plan, data_passes, hessian_passes, setup_passes = plan_on_blocks(
        options, moments, statistics,
        lambda shift, scale, targets: StreamPasses(
            stream, moments.total_weight, shift, scale, targets=targets, progress=bar
        ),
    )  # fmt: skip
    epochs = Epochs(data_passes, hessian_passes, backends.get("numpy"), 1, "stream", "data")
    epochs.setup_passes = setup_passes
    return run_descent(
        epochs, plan, w_start=w_start, b_start=b_start, iterations=iterations,
        loss_threshold=validation.check_loss_threshold(loss_threshold), tol=check_tol(tol), record_params=False,
        callback=callback, callback_every=max(1, validation.check_count(callback_every, "callback_every")),
        one_dimensional=False, started=started,
    )  # fmt: skip
