"""Train on data that lives in a Dask cluster: ``fastgd.dask.train``.

The data is cut into row blocks (the chunks of a ``dask.array``) and
persisted once in the workers' memory. Every pass over the data is then one
round trip to the scheduler: one small task per row block runs the same fused
numba kernel as in-memory training (:func:`fastgd.kernels.fused_loss_and_gradients`)
on its block and returns its raw partial sums as a numpy array of ``d + 2``
floats; the client adds them up in block order (so the result does not depend
on which worker finished first) and steps the parameters. The iterations are
driven by the very loop in-memory training uses (:func:`fastgd.training.run_descent`).

What each pass costs, for ``n`` rows, ``d`` features and ``k`` row blocks:

* ``solver="data"``: one setup pass (it validates every block, sums the
  weights, and with ``lr="auto"`` computes the sufficient statistics, with
  ``center=True`` alone the column means), then one pass and one round trip
  per iteration, plus one for the final loss. Each round trip ships ``d + 1`` floats to each block's task
  and ``d + 2`` floats back.
* ``solver="gram"``: one pass in total. Each block returns its sufficient
  statistics (``(d + 1)^2`` floats), merged exactly on the client; the
  iterations then run compiled on the client in ``O(d^2)`` each, with no
  further traffic.

This module imports :mod:`dask`; ``import fastgd`` does not import it.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import dask
import dask.array as da
import numpy as np
from dask.core import flatten
from numpy.typing import ArrayLike, NDArray

from . import backends, gram, kernels, validation
from ._config import STATISTICS_MAX_FEATURES, chunk_rows_for, parallel_for
from .blocks import BlockPasses, gradient_sums, plan_on_blocks
from .convergence import Moments
from .driver import Callback, Epochs, TrainResult, run_descent
from .loop import DataPass
from .setup import learning_rate_option, run_options
from .training import check_tol, numba_threads
from .types import n_features_of

__all__ = ["DaskPasses", "RechunkWarning", "RowBlocks", "train"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class RechunkWarning(UserWarning):
    """``X`` was chunked along its columns, so it was re-chunked into whole rows (a full copy of the data)."""


def train(
    X: da.Array,
    y: da.Array | ArrayLike,
    *,
    lr: float | str = "auto",
    iterations: int,
    loss_threshold: float | None = None,
    tol: float | None = None,
    method: str = "gd",
    solver: str = "data",
    center: bool | None = None,
    scale: bool | None = None,
    fit_intercept: bool = True,
    alpha: float = 0.0,
    l1_ratio: float = 0.0,
    sample_weight: da.Array | ArrayLike | None = None,
    w0: ArrayLike | None = None,
    b0: float = 0.0,
    record_params: bool = False,
    callback: Callback | None = None,
    callback_every: int = 100,
    n_threads: int | None = None,
    scheduler: Any = None,
) -> TrainResult:
    """Fit ``y ≈ X @ w + b`` by full-batch gradient descent on data held by Dask.

    Takes the arguments of :func:`fastgd.train` (less ``backend`` and
    ``progress``; plus ``scheduler``) and returns the same
    :class:`~fastgd.TrainResult`, with ``backend="dask"``, the same
    convergence test and the same checks. Results equal in-memory training
    on the same data up to rounding.

    Parameters
    ----------
    X : dask.array.Array, shape (n,) or (n, d)
        Features, chunked by rows. Column chunks are merged into one (with a
        :class:`RechunkWarning`: that copies the data). float32 and float64
        stay as they are; other numeric dtypes become float64.
    y : dask.array.Array or array_like, shape (n,)
        Targets; re-chunked to ``X``'s row chunks when they differ (an
        in-memory array is cut into them).
    lr, iterations, loss_threshold, tol, method, solver, center, scale, fit_intercept, alpha, l1_ratio, w0, b0, record_params, callback, callback_every :
        As in :func:`fastgd.train`. The setup pass computes the sufficient
        statistics (up to 2,048 features; else the columns' moments), so
        ``lr="auto"`` is exact. Each ``solver="data"`` iteration is one pass
        over the data and one round trip to the scheduler;
        ``solver="gram"`` costs one pass in all.
    sample_weight : dask.array.Array or array_like, shape (n,), optional
        Non-negative weights, re-chunked like ``y``.
    n_threads : int, optional
        numba threads for each block task (default: the worker's numba
        setting). With several single-threaded Dask workers per machine,
        ``n_threads=1`` avoids oversubscribing the cores.
    scheduler : optional
        Passed to :func:`dask.persist` and :func:`dask.compute`: ``"threads"``,
        ``"processes"``, ``"synchronous"``, a ``distributed.Client``, or None
        for Dask's default (the active ``distributed.Client``, if any).

    Returns
    -------
    TrainResult
        ``passes`` counts passes over the data; with ``solver="data"`` each
        is one round trip to the scheduler. ``seconds`` includes loading
        (persisting) the data into the workers.

    Raises
    ------
    TypeError
        If ``X`` is not a dask array, or a dtype is not numeric.
    ValueError
        If shapes do not match, chunk sizes are unknown, or a block holds a
        NaN or infinity (the message names the row), or a negative weight.
    DivergenceError
        As :func:`fastgd.train`.

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastgd.dask
    >>> x = da.from_array(np.linspace(0.0, 1.0, 1000), chunks=250)
    >>> result = fastgd.dask.train(x, 3.0 * x + 2.0, solver="gram", method="cg", iterations=100, scheduler="threads")
    >>> round(result.w, 6), round(result.b, 6), result.passes
    (3.0, 2.0, 1)
    """
    fixed_lr = learning_rate_option(lr)
    iterations = validation.check_iterations(iterations)
    threshold = validation.check_loss_threshold(loss_threshold)
    tol_value = check_tol(tol)
    callback_every = max(1, validation.check_count(callback_every, "callback_every"))
    if n_threads is not None and validation.check_count(n_threads, "n_threads") < 1:
        raise ValueError(f"n_threads must be at least 1, got {n_threads}")
    X, y, sample_weight = _as_row_blocks(X, y, sample_weight)
    one_dimensional = X.ndim == 1
    n_features = 1 if one_dimensional else X.shape[1]
    options, w_start, b_start = run_options(
        lr=fixed_lr, method=method, solver=solver, center=center, scale=scale, fit_intercept=fit_intercept,
        alpha=alpha, l1_ratio=l1_ratio, n_features=n_features, w0=w0, b0=b0, one_dimensional=one_dimensional,
    )  # fmt: skip

    python_loop = backends.get("numpy")
    started = time.perf_counter()
    # Loaded into the workers' memory once; every later pass reads it from there.
    X, y, sample_weight = dask.persist(X, y, sample_weight, scheduler=scheduler)
    blocks = RowBlocks(X, y, sample_weight, scheduler=scheduler, n_threads=n_threads)
    statistics = None
    if options.solver == "gram" or n_features <= STATISTICS_MAX_FEATURES:
        statistics = blocks.statistics()
        total_weight = statistics.total_weight
    else:
        moments = blocks.moments()
        total_weight = moments.total_weight
    if not total_weight > 0:
        raise ValueError("sample_weight sums to zero; at least one sample needs a positive weight")
    if statistics is not None:
        moments = Moments.from_statistics(statistics)
    plan, data_passes, hessian_passes, setup_passes = plan_on_blocks(
        options, moments, statistics,
        lambda shift, scale, targets: DaskPasses(blocks, moments.total_weight, shift, scale, targets=targets),
    )  # fmt: skip
    if options.solver == "gram":
        gram_data = statistics.gram_data(plan.shift, plan.scale)
        epochs = Epochs(
            gram_data, gram_data._replace(cov_xy=np.zeros(n_features), var_y=0.0, mean_y=0.0), backends.get("numba"),
            0, "dask", "gram", check=data_passes, check_backend=python_loop,
        )  # fmt: skip
    else:
        # The passes are Python objects (each epoch a round trip): the numpy backend runs their loop.
        epochs = Epochs(data_passes, hessian_passes, python_loop, 1, "dask", "data")
    epochs.setup_passes = setup_passes
    return run_descent(
        epochs,
        plan,
        w_start=w_start,
        b_start=b_start,
        iterations=iterations,
        loss_threshold=threshold,
        tol=tol_value,
        record_params=record_params,
        callback=callback,
        callback_every=callback_every,
        one_dimensional=one_dimensional,
        started=started,
    )


class RowBlocks:
    """Persisted row blocks of ``X``, ``y`` and the weights; runs one task per block per pass.

    Empty blocks are left out. :meth:`map` is the only place that talks to
    the scheduler: one round trip per call, results in block order. Under
    ``dask.distributed`` it submits straight to the persisted blocks' futures
    (``Client.map`` then ``Client.gather``), which skips building and
    optimising a task graph each time; other schedulers get one
    :func:`dask.compute` of one delayed task per block.
    """

    def __init__(self, X: da.Array, y: da.Array, sample_weight: da.Array | None, *, scheduler=None, n_threads=None):
        # Names this run's blocks in the workers' registries of blocks they have checked (_recheck).
        self.token = uuid.uuid4().hex
        self.fingerprints: list[tuple] = []
        starts = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(int)
        keep = [i for i in range(len(X.chunks[0])) if starts[i + 1] > starts[i]]
        self.first_rows = [int(starts[i]) for i in keep]
        self.scheduler = scheduler
        self.n_threads = n_threads
        self.client = _distributed_client(scheduler)
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        if self.client is not None:
            from distributed import futures_of

            by_key = {future.key: future for future in futures_of(arrays)}
            parts = [[by_key[key] for key in flatten(array.__dask_keys__())] for array in arrays]
        else:
            parts = [list(array.to_delayed().ravel()) for array in arrays]
        if sample_weight is None:
            parts.append([None] * len(parts[0]))
        self.blocks = [(parts[0][i], parts[1][i], parts[2][i]) for i in keep]

    def map(self, function: Callable[..., Any], *arguments: Any) -> list[Any]:
        """``[function(X_k, y_k, weights_k, *arguments) for each block k]``, in one round trip.

        Each task first makes sure its block is the one the setup pass checked
        (:func:`_recheck`): a block Dask recomputed is validated again and must
        hold the same data.
        """
        per_block = [
            (self.token, index, first_row, fingerprint, function, *arguments)
            for index, (first_row, fingerprint) in enumerate(zip(self.first_rows, self.fingerprints, strict=True))
        ]
        return self._run(_checked_call, per_block)

    def statistics(self) -> gram.SufficientStatistics:
        """Validate every block and merge their sufficient statistics in block order (one pass)."""
        block_stats = self._map_validated(_block_statistics)
        merged = block_stats[0]
        for stats in block_stats[1:]:
            merged = merged.merge(stats)
        return merged

    def moments(self) -> Moments:
        """Validate every block; merge their column moments in block order (one pass)."""
        parts = self._map_validated(_block_moments)
        merged = parts[0]
        for part in parts[1:]:
            merged = merged.merge(part)
        return merged

    def _map_validated(self, function: Callable[[DataPass], Any]) -> list[Any]:
        """The setup pass: validate every block, note its fingerprint, run ``function`` on it."""
        arguments = [
            (self.token, index, first_row, function, self.n_threads) for index, first_row in enumerate(self.first_rows)
        ]
        results = self._run(_validated_call, arguments)
        self.fingerprints = [fingerprint for _, fingerprint in results]
        return [result for result, _ in results]

    def _run(self, function: Callable[..., Any], per_block_arguments: list[tuple]) -> list[Any]:
        calls = [(*block, *arguments) for block, arguments in zip(self.blocks, per_block_arguments, strict=True)]
        if self.client is not None:
            futures = self.client.map(function, *zip(*calls, strict=True), pure=False)
            return self.client.gather(futures)
        task = dask.delayed(function, pure=False)
        return list(dask.compute(*[task(*call) for call in calls], scheduler=self.scheduler))


def _distributed_client(scheduler: Any):
    """The ``distributed.Client`` that ``scheduler`` resolves to, or None for the local schedulers."""
    try:
        from distributed import Client
    except ImportError:
        return None
    if isinstance(scheduler, Client):
        return scheduler
    get = dask.base.get_scheduler(scheduler=scheduler)
    owner = getattr(get, "__self__", None)
    return owner if isinstance(owner, Client) else None


class DaskPasses(BlockPasses):
    """:class:`fastgd.blocks.BlockPasses` over persisted row blocks: each epoch one round trip to the scheduler."""

    def __init__(
        self,
        blocks: RowBlocks,
        total_weight: float,
        shift: NDArray[np.float64],
        scale: NDArray[np.float64],
        *,
        targets: bool = True,
    ):
        super().__init__(total_weight, shift, scale, targets=targets)
        self.blocks = blocks

    def block_sums(self, params: NDArray[np.float64], targets: bool) -> list[NDArray[np.float64]]:
        return self.blocks.map(_block_gradient_sums, params, targets, self.blocks.n_threads)


# ---------------------------------------------------------------------------
# Input checks on the client: shapes, dtypes and chunks are known there.
# ---------------------------------------------------------------------------


def _as_row_blocks(X, y, sample_weight) -> tuple[da.Array, da.Array, da.Array | None]:
    if not isinstance(X, da.Array):
        raise TypeError(
            f"X must be a dask.array.Array, got {type(X).__name__}; for in-memory data use fastgd.train, "
            "or wrap it with dask.array.from_array(X, chunks=(rows_per_block, -1))"
        )
    validation.check_dtype(X.dtype, "X")
    if X.ndim not in (1, 2):
        raise ValueError(
            f"X must be 1-D of shape (n,) for one feature or 2-D of shape (n, d); got {X.ndim}-D with shape {X.shape}"
        )
    if any(np.isnan(size) for sizes in X.chunks for size in sizes):
        raise ValueError("X has unknown chunk sizes (NaN); call X.compute_chunk_sizes() first")
    if X.shape[0] == 0:
        raise ValueError("X is empty (0 rows); training needs at least one sample")
    if X.ndim == 2 and X.shape[1] == 0:
        raise ValueError(f"X has {X.shape[0]} rows but zero features (shape {X.shape}); pass at least one column")
    if X.ndim == 2 and len(X.chunks[1]) > 1:
        warnings.warn(
            f"X is chunked along its columns ({len(X.chunks[1])} column blocks); fastgd needs whole rows, so it is "
            "re-chunked into one column block, which copies the data. Chunk by rows only, e.g. "
            "X.rechunk({1: -1}) once before training, or chunks=(rows_per_block, -1) when creating it.",
            RechunkWarning,
            stacklevel=3,
        )
        X = X.rechunk({1: -1})
    if X.dtype not in _FLOAT_DTYPES or not X.dtype.isnative:
        X = X.astype(np.float64)
    y = _as_row_vector(y, "y", X)
    if X.dtype == np.float64 or y.dtype not in _FLOAT_DTYPES or not y.dtype.isnative:
        y = y.astype(np.float64)
    if sample_weight is not None:
        sample_weight = _as_row_vector(sample_weight, "sample_weight", X).astype(np.float64)
    return X, y, sample_weight


def _as_row_vector(values, name: str, X: da.Array) -> da.Array:
    """``values`` as a 1-D dask array of ``X``'s length, cut into ``X``'s row chunks."""
    if not isinstance(values, da.Array):
        values = np.asarray(values)
    validation.check_dtype(values.dtype, name)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape (n,); got shape {values.shape}")
    if values.shape[0] != X.shape[0]:
        raise ValueError(
            f"X and {name} have mismatched lengths: X has {X.shape[0]} rows but {name} has {values.shape[0]}; "
            f"pass one value per row of X"
        )
    if not isinstance(values, da.Array):
        return da.from_array(values, chunks=(X.chunks[0],))
    if any(np.isnan(size) for size in values.chunks[0]):
        raise ValueError(f"{name} has unknown chunk sizes (NaN); call {name}.compute_chunk_sizes() first")
    return values if values.chunks[0] == X.chunks[0] else values.rechunk({0: X.chunks[0]})


# ---------------------------------------------------------------------------
# Tasks: these run in the workers, one per row block.
# ---------------------------------------------------------------------------


def _block_gradient_sums(X, y, sample_weight, params, targets, n_threads) -> NDArray[np.float64]:
    """:func:`fastgd.blocks.gradient_sums` of one block, on the worker's numba threads."""
    kernels.start_threading_layer()
    with numba_threads(n_threads), kernels.layer_lock():
        return gradient_sums(X, y, sample_weight, params, targets)


def _block_statistics(data: DataPass) -> gram.SufficientStatistics:
    return gram.statistics(data)


def _block_moments(data: DataPass) -> Moments:
    return gram.column_moments(data)


# Per worker process: (run token, block index) -> the identity of the block object that worker last checked.
_CHECKED_BLOCKS: dict[tuple[str, int], tuple[int, int]] = {}


def _identity(X: np.ndarray) -> tuple[int, int]:
    return id(X), X.__array_interface__["data"][0]


def _fingerprint(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> tuple:
    """Rows and the sums and sums of squares of the block's values: the same data gives the same numbers."""
    parts = [X.shape[0]]
    for values in (X, y) if sample_weight is None else (X, y, sample_weight):
        flat = np.asarray(values, dtype=np.float64).reshape(-1)
        parts += [float(np.sum(flat)), float(flat @ flat)]
    return tuple(parts)


def _check_block(X, y, sample_weight, block_index: int, first_row: int) -> tuple:
    """Validate one block (finite values, non-negative weights) as in-memory training would; its fingerprint."""
    where = f" (in row block {block_index})"
    validation.check_finite(X, "X", first_row, where)
    validation.check_finite(y, "y", first_row, where)
    if sample_weight is not None:
        validation.check_finite(sample_weight, "sample_weight", first_row, where)
        validation.check_non_negative_weights(sample_weight, first_row, f" (row block {block_index})")
    return _fingerprint(X, y, sample_weight)


def _validated_call(X, y, sample_weight, token: str, block_index: int, first_row: int, function, n_threads):
    """The setup pass of one block: check it, remember it, run ``function`` on it; ``(result, fingerprint)``."""
    fingerprint = _check_block(X, y, sample_weight, block_index, first_row)
    _CHECKED_BLOCKS[token, block_index] = _identity(X)
    n_features = n_features_of(X)
    total_weight = float(X.shape[0]) if sample_weight is None else float(sample_weight.sum())
    data = DataPass(
        X, y, sample_weight, total_weight, np.zeros(0), np.zeros(0), chunk_rows_for(n_features), 1.0,
        parallel_for(X.size),
    )  # fmt: skip
    with numba_threads(n_threads), kernels.layer_lock():
        return function(data), fingerprint


def _recheck(X, y, sample_weight, token: str, block_index: int, first_row: int, expected: tuple) -> None:
    """Check a block this worker has not seen in this run (Dask recomputed or moved it) like a new one.

    It must pass validation and hold the data the setup pass saw: a source
    that yields other values on recompute (a file rewritten since, a random
    generator without a seed) would otherwise mix two data sets silently.
    """
    key = (token, block_index)
    if _CHECKED_BLOCKS.get(key) == _identity(X):
        return
    if _check_block(X, y, sample_weight, block_index, first_row) != expected:
        raise ValueError(
            f"row block {block_index} (from row {first_row}) holds different data than when training started: Dask "
            "recomputed it (a worker was lost?) from a source that now yields other values. Training stops rather "
            "than mix two data sets; make the source reproducible (or persist the data) and train again"
        )
    _CHECKED_BLOCKS[key] = _identity(X)


def _checked_call(X, y, sample_weight, token, block_index, first_row, fingerprint, function, *arguments):
    _recheck(X, y, sample_weight, token, block_index, first_row, fingerprint)
    return function(X, y, sample_weight, *arguments)
