"""Sufficient statistics: one pass over the data, then O(d^2) per iteration.

For least squares, everything gradient descent needs is in the weighted
means and the centred scatter matrix of ``z = [x, y]``. :func:`statistics`
computes them in one fused parallel pass (:func:`fastgd.kernels.sufficient_statistics`);
after that an iteration costs ``O(d^2)`` instead of ``O(n d)`` and follows
exactly the trajectory of data-pass gradient descent (up to rounding).

The right choice when ``n >> d`` and ``d`` is up to a few thousand (the
statistics take ``(d+1)^2`` floats, the pass ``O(n d^2)`` flops). Not the right
choice for very wide data (``d`` in the tens of thousands), where ``O(n d^2)``
flops and ``O(d^2)`` memory cost more than many ``O(n d)`` passes.

Statistics from separate pieces of data combine exactly with
:meth:`SufficientStatistics.merge`, which is how :mod:`fastgd.dask` uses them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import kernels, reference
from ._config import (
    GRAM_BLAS_BLOCK_BYTES,
    GRAM_BLAS_MIN_FEATURES,
    GRAM_BLOCK_ROWS,
    GRAM_KERNEL_MIN_ROWS,
    gram_chunk_rows,
)
from .types import BACKENDS, DataPass, Moments, SufficientStatistics, n_features_of
from .validation import prepare_data


def statistics(
    data_or_X, y: ArrayLike | None = None, sample_weight: ArrayLike | None = None, *, backend: str = "numba"
):
    """Sufficient statistics of ``(X, y)`` in one pass.

    ``data_or_X`` is an ``X`` (validated here) or an already validated
    :class:`fastgd.types.DataPass`; ``backend`` picks the kernel pass or the numpy reference.

    Examples
    --------
    >>> import numpy as np
    >>> stats = statistics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]))
    >>> stats.total_weight, stats.mean.tolist()
    (3.0, [2.0, 4.0])
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    data = data_or_X if isinstance(data_or_X, DataPass) else prepare_data(data_or_X, y, sample_weight)
    if backend == "numpy":
        return reference_statistics(data.X, data.y, data.sample_weight)
    return kernel_statistics(data)


def kernel_statistics(data: DataPass) -> SufficientStatistics:
    """The kernel path's statistics pass: the numba kernel, or BLAS row blocks for wide or short data."""
    n_features = n_features_of(data.X)
    if n_features >= GRAM_BLAS_MIN_FEATURES or data.X.shape[0] < GRAM_KERNEL_MIN_ROWS:
        return _blocked_blas_statistics(data.X, data.y, data.sample_weight)
    weight, mean, scatter = kernels.sufficient_statistics(
        data.X, data.y, data.sample_weight, gram_chunk_rows(data.X.shape[0], n_features), GRAM_BLOCK_ROWS
    )
    return SufficientStatistics(float(weight), mean, scatter)


def _blocked_blas_statistics(X, y, sample_weight) -> SufficientStatistics:
    """The statistics of wide data: :func:`reference_statistics` per row block, merged in order.

    Each block of about ``GRAM_BLAS_BLOCK_BYTES`` becomes a float64 copy whose
    centred scatter is one BLAS matrix product, so temporaries stay
    block-sized and memory traffic is one read of the data. Blocks of zero
    total weight are skipped. The results do not depend on numba's thread
    count; BLAS may round differently with its own thread count.
    """
    n_rows = X.shape[0]
    p = n_features_of(X) + 1
    block_rows = max(GRAM_BLOCK_ROWS, GRAM_BLAS_BLOCK_BYTES // (8 * p))
    merged = SufficientStatistics(0.0, np.zeros(p), np.zeros((p, p)))
    for start in range(0, n_rows, block_rows):
        stop = min(start + block_rows, n_rows)
        weights = None if sample_weight is None else sample_weight[start:stop]
        if weights is not None and not weights.sum() > 0:
            continue
        with np.errstate(over="ignore", invalid="ignore"):  # squares beyond float64: fastgd.setup says so clearly
            block = reference_statistics(X[start:stop], y[start:stop], weights)
        # Exactly symmetric blocks keep the merged matrix exactly symmetric.
        merged = merged.merge(
            SufficientStatistics(block.total_weight, block.mean, 0.5 * (block.scatter + block.scatter.T))
        )
    return merged


def reference_statistics(X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> SufficientStatistics:
    """The same statistics in plain numpy (a few passes, O(n d) temporaries): the oracle.

    The means are taken of the deviations from the first row, which are
    exact for data close to it, so a column far from zero (an intercept of
    1e9, a calendar year) keeps its mean to half an ulp instead of the
    ``log2(n)`` ulps of a plain sum.
    """
    X = np.asarray(X, dtype=np.float64)
    Z = np.column_stack([X.reshape(X.shape[0], -1), np.asarray(y, dtype=np.float64)])
    origin = Z[0].copy()
    Z -= origin  # Z is a fresh copy: work in place
    if sample_weight is None:
        total = float(Z.shape[0])
        shift = Z.mean(axis=0)
        Z -= shift
        return SufficientStatistics(total, origin + shift, Z.T @ Z)
    weights = np.asarray(sample_weight, dtype=np.float64)
    total = float(weights.sum())
    shift = weights @ Z / total
    Z -= shift
    return SufficientStatistics(total, origin + shift, Z.T @ (Z * weights[:, None]))


def column_moments(data: DataPass) -> Moments:
    """Means and spreads of every column of ``[X, y]`` in one pass, without the cross products.

    For data too wide for :func:`statistics`: row blocks of about
    ``GRAM_BLAS_BLOCK_BYTES`` become float64 copies whose centred sums of
    squares merge exactly (Chan, Golub and LeVeque), so large means cost no
    precision. O(n d) work and block-sized temporaries.
    """
    X, y, weights_all = data.X, data.y, data.sample_weight
    n_rows = X.shape[0]
    n_columns = n_features_of(X) + 1
    block_rows = max(GRAM_BLOCK_ROWS, GRAM_BLAS_BLOCK_BYTES // (8 * n_columns))
    total = 0.0
    mean = np.zeros(n_columns)
    squares = np.zeros(n_columns)
    for start in range(0, n_rows, block_rows):
        stop = min(start + block_rows, n_rows)
        block = np.column_stack([np.asarray(X[start:stop], dtype=np.float64).reshape(stop - start, -1), y[start:stop]])
        weights = np.ones(stop - start) if weights_all is None else weights_all[start:stop]
        block_total = float(weights.sum())
        if not block_total > 0:
            continue
        block_mean = weights @ block / block_total
        block -= block_mean
        block_squares = weights @ (block * block)
        merged = total + block_total
        delta = block_mean - mean
        squares += block_squares + delta * delta * (total * block_total / merged)
        mean += delta * (block_total / merged)
        total = merged
    if not total > 0:
        zeros = np.zeros(n_columns - 1)
        return Moments(0.0, zeros, zeros.copy(), zeros.copy(), 0.0, 0.0)
    second = squares / total
    with np.errstate(over="ignore"):  # refused with a clear message by fastgd.setup
        rms = np.sqrt(second[:-1] + mean[:-1] ** 2)
    return Moments(
        total_weight=total,
        mean_x=mean[:-1].copy(),
        std_x=np.sqrt(second[:-1]),
        rms_x=rms,
        mean_y=float(mean[-1]),
        var_y=float(second[-1]),
    )


# The loss and gradients from statistics, in numpy (kept under this name; it lives in fastgd.reference).
reference_loss_and_gradients = reference.statistics_loss_and_gradients
