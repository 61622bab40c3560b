"""Automatic step size: ``lr = 1 / L`` for the loss's smoothness constant ``L``.

The mean squared error has Hessian ``2 H`` with ``H = [X 1]^T S [X 1] / sum(S)``
(in the loop's preconditioned coordinates when ``center``/``scale`` are on),
so ``L = 2 * lambda_max(H)``. Gradient descent with step ``1 / L`` decreases
the loss at every iteration and stays stable for any step below ``2 / L``.

Up to :data:`fastgd._config.STATISTICS_MAX_FEATURES` features the setup pass
gives the sufficient statistics, and ``lambda_max`` is exact
(:func:`exact_lipschitz`). Wider data takes power iteration, one fused pass
per step, from a seeded pseudo-random start (never exactly orthogonal to the
top eigenvector, as a vector of ones is for ``x1 = -x2``): the Rayleigh
quotient rises towards ``lambda_max`` and never exceeds it, and we stop when it
changes by less than :data:`POWER_ITERATION_TOLERANCE` between passes. The
step ``1/L`` then keeps a margin of about two; should the estimate still be
too low, the driver halves the step whenever the loss rises
(:mod:`fastgd.driver`), so ``lr="auto"`` does not diverge.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

POWER_ITERATION_TOLERANCE = 1e-3
POWER_ITERATION_MAX_PASSES = 50


def power_iteration_lipschitz(
    data, evaluate: Callable[..., float], n_params: int, *, intercept: bool = True
) -> tuple[float, int]:
    """Estimate ``L = 2 lambda_max(H)`` with passes over the data; returns ``(L, passes)``.

    ``evaluate(data, v, grad)`` (a backend's, :mod:`fastgd.backends`) must
    return ``v' H v`` and write ``2 H v``: ``data`` is an epoch input with
    zero targets, e.g. a :class:`~fastgd.types.DataPass` with
    ``target_factor=0`` or :class:`fastgd.dask.DaskPasses` without targets.
    ``n_params`` is ``d + 1``.

    With ``intercept=False`` the intercept's component is held at zero, which
    gives ``L`` of the weights' block of ``H`` alone: the right constant when
    the intercept is not fitted, or is stepped separately (centred features).

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd import backends
    >>> from fastgd.validation import prepare_data
    >>> x = np.random.default_rng(0).standard_normal(10_000)
    >>> data = prepare_data(x, x)._replace(target_factor=0.0)
    >>> L, passes = power_iteration_lipschitz(data, backends.get("numba").evaluate, 2)
    >>> bool(abs(L - 2.0) < 0.05)   # H is close to the identity for standard normal x
    True
    """
    # A fixed pseudo-random start: deterministic, and never exactly orthogonal
    # to the top eigenvector (a vector of ones is, for features x1 = -x2).
    vector = np.random.default_rng(20240601).standard_normal(n_params)
    if not intercept:
        vector[-1] = 0.0
    vector /= np.linalg.norm(vector)
    hessian_vector = np.empty(n_params)
    estimate = 0.0
    passes = 0
    while passes < POWER_ITERATION_MAX_PASSES:
        passes += 1
        # With zero targets the "loss" at a unit vector v is v^T H v and the "gradient" is 2 H v.
        rayleigh = float(evaluate(data, vector, hessian_vector))
        if not intercept:
            hessian_vector[-1] = 0.0
        converged = abs(rayleigh - estimate) <= POWER_ITERATION_TOLERANCE * rayleigh
        estimate = rayleigh
        norm = np.linalg.norm(hessian_vector)
        if converged or norm == 0.0:
            break
        vector = hessian_vector / norm
    return 2.0 * estimate, passes


def exact_lipschitz(hessian: np.ndarray) -> float:
    """``2 lambda_max(H)`` for a small symmetric ``H``."""
    return 2.0 * float(np.linalg.eigvalsh(hessian)[-1])


# Centred features whose variance is at the level of rounding (constant
# columns, a single row) have a weights' curvature of ~eps^2 times their mean
# squared; 1/L would then be an astronomically large step along directions
# that are pure rounding noise. This floor, far below any real curvature,
# keeps such steps harmless.
CENTRED_CURVATURE_FLOOR = 1e-10


def floor_centred_lipschitz(lipschitz: float, shift: np.ndarray) -> float:
    """``max(L, 2e-10 * |shift|^2)`` for the centring ``shift`` (in the loop's units): see :data:`CENTRED_CURVATURE_FLOOR`."""
    return max(lipschitz, CENTRED_CURVATURE_FLOOR * 2.0 * float(shift @ shift))
