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

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import kernels
from ._config import GRAM_BLAS_BLOCK_BYTES, GRAM_BLAS_MIN_FEATURES, GRAM_BLOCK_ROWS, gram_chunk_rows
from .loop import DataPass, GramData


@dataclass(frozen=True)
class SufficientStatistics:
    """Weighted moments of ``z = [x_1, ..., x_d, y]``.

    Attributes
    ----------
    total_weight : float
        ``n``, or the sum of sample weights.
    mean : ndarray, shape (d + 1,)
        Weighted means of the features, then of ``y``.
    scatter : ndarray, shape (d + 1, d + 1)
        ``sum_i s_i (z_i - mean)(z_i - mean)^T``.
    """

    total_weight: float
    mean: NDArray[np.float64]
    scatter: NDArray[np.float64]

    @property
    def n_features(self) -> int:
        return self.mean.shape[0] - 1

    def merge(self, other: SufficientStatistics) -> SufficientStatistics:
        """Statistics of the union of both data sets (Chan, Golub and LeVeque's pairwise update).

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.arange(6.0).reshape(3, 2), np.arange(3.0)
        >>> whole = statistics(X, y, backend="numpy")
        >>> parts = statistics(X[:1], y[:1], backend="numpy").merge(statistics(X[1:], y[1:], backend="numpy"))
        >>> bool(np.allclose(whole.scatter, parts.scatter))
        True
        """
        if other.total_weight == 0:
            return self
        if self.total_weight == 0:
            return other
        total = self.total_weight + other.total_weight
        delta = other.mean - self.mean
        scatter = (
            self.scatter + other.scatter + np.outer(delta, delta) * (self.total_weight * other.total_weight / total)
        )
        return SufficientStatistics(total, self.mean + delta * (other.total_weight / total), scatter)

    def gram_data(self, center: bool) -> GramData:
        """The statistics as the loop's epoch input; ``center`` picks the parametrisation."""
        d = self.n_features
        covariance = self.scatter / self.total_weight
        mean_x = self.mean[:d]
        offset = np.zeros(d) if center else mean_x.copy()
        return GramData(
            np.ascontiguousarray(covariance[:d, :d]),
            covariance[:d, d].copy(),
            float(covariance[d, d]),
            float(self.mean[d]),
            offset,
        )

    def hessian(self, center: bool) -> NDArray[np.float64]:
        """``[X 1]^T S [X 1] / total_weight`` (half the loss's Hessian) in the chosen parametrisation."""
        d = self.n_features
        covariance = self.scatter[:d, :d] / self.total_weight
        offset = np.zeros(d) if center else self.mean[:d]
        hessian = np.empty((d + 1, d + 1))
        hessian[:d, :d] = covariance + np.outer(offset, offset)
        hessian[:d, d] = hessian[d, :d] = offset
        hessian[d, d] = 1.0
        return hessian

    def least_squares(self) -> tuple[NDArray[np.float64], float]:
        """The exact minimiser ``(w, b)`` of the (weighted) mean squared error, for comparison.

        Uses a least-squares solve of the covariance system, so a singular
        covariance (collinear features) gives the minimum-norm solution.
        """
        d = self.n_features
        w = np.linalg.lstsq(self.scatter[:d, :d], self.scatter[:d, d], rcond=None)[0]
        return w, float(self.mean[d] - self.mean[:d] @ w)


def statistics(
    data_or_X, y: ArrayLike | None = None, sample_weight: ArrayLike | None = None, *, backend: str = "numba"
):
    """Sufficient statistics of ``(X, y)`` in one pass.

    ``data_or_X`` is an ``X`` (validated here) or an already validated
    :class:`fastgd.loop.DataPass`.

    Examples
    --------
    >>> import numpy as np
    >>> stats = statistics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]))
    >>> stats.total_weight, stats.mean.tolist()
    (3.0, [2.0, 4.0])
    """
    if isinstance(data_or_X, DataPass):
        data = data_or_X
    else:
        from .training import prepare_data

        data = prepare_data(data_or_X, y, sample_weight)
    if backend == "numpy":
        return reference_statistics(data.X, data.y, data.sample_weight)
    n_features = 1 if data.X.ndim == 1 else data.X.shape[1]
    if n_features >= GRAM_BLAS_MIN_FEATURES:
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
    n_rows, n_features = X.shape
    p = n_features + 1
    block_rows = max(GRAM_BLOCK_ROWS, GRAM_BLAS_BLOCK_BYTES // (8 * p))
    merged = SufficientStatistics(0.0, np.zeros(p), np.zeros((p, p)))
    for start in range(0, n_rows, block_rows):
        stop = min(start + block_rows, n_rows)
        weights = None if sample_weight is None else sample_weight[start:stop]
        if weights is not None and not weights.sum() > 0:
            continue
        block = reference_statistics(X[start:stop], y[start:stop], weights)
        # Exactly symmetric blocks keep the merged matrix exactly symmetric.
        merged = merged.merge(
            SufficientStatistics(block.total_weight, block.mean, 0.5 * (block.scatter + block.scatter.T))
        )
    return merged


def reference_statistics(X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> SufficientStatistics:
    """The same statistics in plain numpy (two passes, O(n d) temporaries): the oracle."""
    X = np.asarray(X, dtype=np.float64)
    Z = np.column_stack([X.reshape(X.shape[0], -1), np.asarray(y, dtype=np.float64)])
    if sample_weight is None:
        total = float(Z.shape[0])
        mean = Z.mean(axis=0)
        Z -= mean  # Z is a fresh copy: centre it in place
        return SufficientStatistics(total, mean, Z.T @ Z)
    weights = np.asarray(sample_weight, dtype=np.float64)
    total = float(weights.sum())
    mean = weights @ Z / total
    Z -= mean
    return SufficientStatistics(total, mean, Z.T @ (Z * weights[:, None]))


def reference_loss_and_gradients(data: GramData, w: NDArray[np.float64], b: float):
    """``(L, dL/dw, dL/db)`` from statistics in numpy; see :func:`fastgd.kernels.gram_loss_and_gradients`."""
    covariance_times_w = data.cov_xx @ w
    delta = b + data.offset @ w - data.mean_y
    loss = max(w @ covariance_times_w - 2.0 * data.cov_xy @ w + data.var_y + delta**2, 0.0)
    return float(loss), 2.0 * (covariance_times_w - data.cov_xy) + 2.0 * delta * data.offset, 2.0 * delta
