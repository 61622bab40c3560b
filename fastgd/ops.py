"""Single-pass operations with either backend: predictions, loss and gradients.

These validate their inputs like :func:`fastgd.train` does and return the
same types as :mod:`fastgd.reference`, so the two paths can be compared call
for call.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import backends, validation
from .types import n_features_of, split_params
from .validation import prepare_data


def _parameters(w: ArrayLike, b: float, X: np.ndarray) -> tuple[NDArray[np.float64], float]:
    n_features = n_features_of(X)
    return validation.initial_parameters(w, b, n_features, X.ndim == 1, w_name="w", b_name="b")


def predict(X: ArrayLike, w: ArrayLike, b: float, *, backend: str = "numba") -> NDArray[np.float64]:
    """Predictions ``X @ w + b`` as a float64 array of shape ``(n,)``.

    Examples
    --------
    >>> import numpy as np
    >>> predict(np.array([[1.0, 2.0], [3.0, 4.0]]), [1.0, 1.0], 0.5)
    array([3.5, 7.5])
    """
    runner = backends.get(backend)
    X = validation.as_features(X)
    w_vector, b = _parameters(w, b, X)
    return runner.predict(X, w_vector, b)


def loss_and_gradients(
    X: ArrayLike,
    y: ArrayLike,
    w: ArrayLike,
    b: float,
    *,
    sample_weight: ArrayLike | None = None,
    backend: str = "numba",
) -> tuple[float, float | NDArray[np.float64], float]:
    """Loss and gradients ``(L, dL/dw, dL/db)`` at ``(w, b)`` in one pass.

    Examples
    --------
    >>> import numpy as np
    >>> loss_and_gradients(np.array([1.0, 2.0]), np.array([1.0, 1.0]), 1.0, 0.0)
    (0.5, 2.0, 1.0)
    """
    runner = backends.get(backend)
    data = prepare_data(X, y, sample_weight)
    w_vector, b = _parameters(w, b, data.X)
    params = np.append(w_vector, b)
    grad = np.empty_like(params)
    loss = runner.evaluate(data, params, grad)
    grad_w, grad_b = split_params(grad, data.X.ndim == 1 and np.ndim(w) == 0)
    return float(loss), grad_w, grad_b
