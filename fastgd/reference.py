"""Reference path: linear regression's loss and gradients in plain numpy.

Written to read like the math, not to be fast. It is the oracle the kernels
are tested against, and what to call when a result looks wrong::

    y_hat = X @ w + b
    L     = mean((y_hat - y) ** 2)
    dL/dw = (2 / n) * X.T @ (y_hat - y)
    dL/db = (2 / n) * sum(y_hat - y)

With sample weights ``s`` every mean becomes a weighted mean,
``L = sum(s * (y_hat - y) ** 2) / sum(s)``, and the gradients follow.

``X`` has shape ``(n,)`` (one feature, ``w`` a scalar) or ``(n, d)`` (``w`` of
shape ``(d,)``). All arithmetic is float64, whatever the input dtype. These
functions do not validate their inputs; :func:`fastgd.train` and the functions
in :mod:`fastgd.ops` do.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _as_float64(a: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(a, dtype=np.float64)


def predict(X: ArrayLike, w: ArrayLike, b: float) -> NDArray[np.float64]:
    """Predictions ``X @ w + b`` as float64.

    Examples
    --------
    >>> predict(np.array([1.0, 2.0]), 3.0, 1.0)
    array([4., 7.])
    """
    X = _as_float64(X)
    if X.ndim == 1:
        return X * float(w) + b
    return X @ _as_float64(w) + b


def _residuals(X, y, w, b) -> NDArray[np.float64]:
    return predict(X, w, b) - _as_float64(y)


def mse(X: ArrayLike, y: ArrayLike, w: ArrayLike, b: float, sample_weight: ArrayLike | None = None) -> float:
    """Mean squared error ``mean((X @ w + b - y) ** 2)``, weighted if asked.

    Examples
    --------
    >>> mse(np.array([1.0, 2.0]), np.array([1.0, 1.0]), 1.0, 0.0)
    0.5
    """
    return loss_and_gradients(X, y, w, b, sample_weight)[0]


def gradients(
    X: ArrayLike, y: ArrayLike, w: ArrayLike, b: float, sample_weight: ArrayLike | None = None
) -> tuple[float | NDArray[np.float64], float]:
    """Gradients ``(dL/dw, dL/db)`` of the (weighted) mean squared error.

    ``dL/dw`` is a float for one-dimensional ``X`` and an array of shape
    ``(d,)`` otherwise.

    Examples
    --------
    >>> gradients(np.array([1.0, 2.0]), np.array([1.0, 1.0]), 1.0, 0.0)
    (2.0, 1.0)
    """
    return loss_and_gradients(X, y, w, b, sample_weight)[1:]


def loss_and_gradients(
    X: ArrayLike, y: ArrayLike, w: ArrayLike, b: float, sample_weight: ArrayLike | None = None
) -> tuple[float, float | NDArray[np.float64], float]:
    """Loss and both gradients: ``(L, dL/dw, dL/db)``.

    Examples
    --------
    >>> loss_and_gradients(np.array([1.0, 2.0]), np.array([1.0, 1.0]), 1.0, 0.0)
    (0.5, 2.0, 1.0)
    """
    X = _as_float64(X)
    residuals = _residuals(X, y, w, b)
    if sample_weight is None:
        total_weight = residuals.shape[0]
        weighted = residuals
    else:
        sample_weight = _as_float64(sample_weight)
        total_weight = np.sum(sample_weight)
        weighted = sample_weight * residuals
    loss = float(weighted @ residuals / total_weight)
    scaled = (2.0 / total_weight) * weighted
    grad_w = float(X @ scaled) if X.ndim == 1 else X.T @ scaled
    grad_b = float(np.sum(scaled))
    return loss, grad_w, grad_b


def statistics_loss_and_gradients(data, w: NDArray[np.float64], b: float):
    """``(L, dL/dw, dL/db)`` from sufficient statistics (a :class:`fastgd.types.GramData`); see :func:`fastgd.kernels.gram_loss_and_gradients`."""
    covariance_times_w = data.cov_xx @ w
    delta = b + data.offset @ w - data.mean_y
    loss = max(w @ covariance_times_w - 2.0 * data.cov_xy @ w + data.var_y + delta**2, 0.0)
    return float(loss), 2.0 * (covariance_times_w - data.cov_xy) + 2.0 * delta * data.offset, 2.0 * delta
