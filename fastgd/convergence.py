"""How far a run is from the least-squares optimum, in units that do not depend on the data's scale.

Users compare coefficients, so the convergence test measures coefficients:
the error of a weight in **standardised units** is
``|w_j - w*_j| * std(x_j) / std(y)`` (the change in the prediction, in
standard deviations of ``y``, per standard deviation of ``x_j``), and the
intercept's is the error of the prediction at the feature means over
``std(y)``. ``TrainResult.coef_error`` is the largest of them.

In those units the loss is ``L = L* + std(y)^2 e^T blockdiag(R, 1) e`` with
``R`` the features' correlation matrix, so the error follows from the
gradient: ``e = blockdiag(R, 1)^+ g~ / (2 std(y)^2)`` for the standardised
gradient ``g~``.

* With the sufficient statistics at hand (``d`` up to
  :data:`fastgd._config.STATISTICS_MAX_FEATURES`; every solver computes them
  then), ``R`` is known and the error is **exact** (:func:`exact_error_model`);
  the loop tests it at every iteration.
* Without them (wider data), ``R``'s smallest eigenvalue is unknown: the
  loop stops on a bound that uses a guess of it, and the final check runs a
  Lanczos process on ``R`` from the final gradient (a pass per step) that
  gives the error exactly once it spans the gradient's Krylov space, and an
  estimate before (:func:`lanczos_error`).

Directions along which ``R`` is singular (exactly collinear columns, a
constant column) do not change the fit; they are left out of the error, and
the coefficients then are *a* least-squares solution, not a unique one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .types import Moments

# Eigenvalues of the standardised Hessian below this fraction of the largest
# are treated as exact zeros: the statistics themselves are only accurate to
# about 1e-15 relative, so such directions carry rounding noise, not data.
SINGULAR_RCOND = 1e-13

# A Lanczos process stops when its next vector has less than this fraction
# of the norm it started with: the Krylov space is then invariant.
LANCZOS_BREAKDOWN = 1e-10
LANCZOS_MAX_STEPS = 40


def feature_units(moments: Moments) -> NDArray[np.float64]:
    """Each feature's standard deviation, or 1 where it is zero (a constant column is not standardised)."""
    spread = moments.std_x.copy()
    constant = ~(spread > 1e-300)
    spread[constant] = 1.0
    return spread


def standardisation(moments: Moments, shift: NDArray[np.float64], scale: NDArray[np.float64]) -> NDArray[np.float64]:
    """``T`` with ``e = T @ delta`` for a change ``delta`` of the loop parameters ``[v, c]``.

    The loop's model is ``(x - shift) . (scale * v) + c``, so ``w = scale * v``
    and the prediction at the feature means is ``(mean_x - shift) . w + c``.
    """
    d = shift.shape[0]
    sigma_y = moments.target_scale
    T = np.zeros((d + 1, d + 1))
    T[np.arange(d), np.arange(d)] = scale * feature_units(moments) / sigma_y
    T[d, :d] = (moments.mean_x - shift) * scale / sigma_y
    T[d, d] = 1.0 / sigma_y
    return T


def standardisation_inverse(
    moments: Moments, shift: NDArray[np.float64], scale: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``T^-1``, written out: ``T`` is ``[[D, 0], [r, 1]] / std(y)``, so its inverse is ``std(y) [[D^-1, 0], [-r D^-1, 1]]``."""
    d = shift.shape[0]
    sigma_y = moments.target_scale
    units = feature_units(moments)
    inverse = np.zeros((d + 1, d + 1))
    inverse[np.arange(d), np.arange(d)] = sigma_y / (scale * units)
    inverse[d, :d] = -sigma_y * (moments.mean_x - shift) / units
    inverse[d, d] = sigma_y
    return inverse


def standardised_curvature(statistics, moments: Moments, fit_intercept: bool) -> NDArray[np.float64]:
    """Half the loss's Hessian in standardised units, over ``std(y)^2``, for the fitted parameters.

    With an intercept it is ``blockdiag(R, 1)``, ``R`` the correlation
    matrix taken straight from the centred scatter, so a feature whose mean
    dwarfs its spread (a calendar year, a reading of 54089.0520 +- 0.0004)
    loses nothing to cancellation. Without one the weights' curvature is the
    uncentred ``E[x x^T]`` in units of the spreads.
    """
    d = statistics.n_features
    covariance = statistics.scatter[:d, :d] / statistics.total_weight
    units = feature_units(moments)
    if not fit_intercept:
        return (covariance + np.outer(moments.mean_x, moments.mean_x)) / np.outer(units, units)
    curvature = np.zeros((d + 1, d + 1))
    curvature[:d, :d] = covariance / np.outer(units, units)
    curvature[d, d] = 1.0
    return curvature


@dataclass(frozen=True)
class ErrorModel:
    """Maps the loop's gradient to the standardised coefficient error.

    ``matrix @ grad`` is the error vector when ``exact`` (its largest entry is
    the error, ``max_norm``); otherwise a vector whose Euclidean norm bounds
    the error if ``R``'s smallest eigenvalue is at least ``curvature_guess``.
    ``standardise`` is ``T`` and ``inverse`` its inverse; ``eigenvalues`` are
    those of ``blockdiag(R, 1)`` over the fitted parameters (exact models only).
    """

    matrix: NDArray[np.float64]
    exact: bool
    standardise: NDArray[np.float64]
    inverse: NDArray[np.float64]
    free: NDArray[np.bool_]
    target_scale: float
    eigenvalues: NDArray[np.float64] | None = None
    curvature_guess: float = 1.0
    curvature: NDArray[np.float64] | None = None

    @property
    def max_norm(self) -> bool:
        return self.exact

    def error(self, grad: NDArray[np.float64]) -> float:
        vector = self.matrix @ grad
        return float(np.max(np.abs(vector))) if self.exact else float(np.linalg.norm(vector))

    @property
    def condition_number(self) -> float:
        """``lambda_max / lambda_min`` of ``blockdiag(R, 1)`` over its non-zero eigenvalues (exact models)."""
        if self.eigenvalues is None:
            return float("nan")
        kept = self.eigenvalues[self.eigenvalues > SINGULAR_RCOND * self.eigenvalues.max()]
        return float(kept.max() / kept.min())


def _free_block(matrix: NDArray[np.float64], free: NDArray[np.bool_]) -> NDArray[np.float64]:
    return matrix[np.ix_(free, free)]


def exact_error_model(
    curvature: NDArray[np.float64],
    standardise: NDArray[np.float64],
    inverse: NDArray[np.float64],
    free: NDArray[np.bool_],
    target_scale: float,
) -> ErrorModel:
    """The exact error map, from the standardised curvature of :func:`standardised_curvature`.

    With ``delta = H^+ g / 2`` in loop coordinates and ``e = T delta``:
    in standardised units ``H~ = T^-T H T^-1 = std(y)^2 curvature``, so
    ``e = curvature^+ T^-T g / (2 std(y)^2)``. The pseudo-inverse is taken
    there, where its cut-off means the same on every data set.
    """
    p = standardise.shape[0]
    # Jacobi-scaled first (a unit diagonal), so that a ridge penalty dwarfing a feature's spread, which
    # adds alpha / std(x_j)^2 to one diagonal entry, leaves the cut-off meaning the same. With an
    # intercept and no penalty the diagonal is already 1 (0 for constant columns, left unscaled).
    diagonal = np.diag(curvature).copy()
    jacobi = np.where(diagonal > 0.0, 1.0 / np.sqrt(np.where(diagonal > 0.0, diagonal, 1.0)), 1.0)
    values, vectors = np.linalg.eigh(curvature * np.outer(jacobi, jacobi))
    top = values[-1] if values.size else 0.0
    keep = values > SINGULAR_RCOND * top
    pseudo_inverse = jacobi[:, None] * ((vectors[:, keep] / values[keep]) @ vectors[:, keep].T) * jacobi[None, :]
    matrix = np.zeros((p, p))
    rows = np.flatnonzero(free)
    matrix[np.ix_(rows, rows)] = pseudo_inverse @ _free_block(inverse, free).T / (2.0 * target_scale**2)
    return ErrorModel(
        matrix=matrix,
        exact=True,
        standardise=standardise,
        inverse=inverse,
        free=free,
        target_scale=target_scale,
        eigenvalues=np.maximum(values, 0.0),
        curvature=curvature,
    )


def support_error(model: ErrorModel, params: NDArray[np.float64], optimality: NDArray[np.float64]) -> float:
    """The coefficient error with an L1 penalty: the error map restricted to the active parameters.

    A lasso coefficient at exactly 0 whose subgradient condition holds stays
    0 at the optimum, so the error lives on the active set: the non-zero
    parameters, those whose minimum-norm subgradient is not 0, and the
    intercept. There the penalty is smooth, and the error is the curvature
    of that block solved against the standardised subgradient. The full
    pseudo-inverse would drop directions along which the data are flat (more
    features than rows, a constant column) although the L1 penalty is not:
    a singular active block means the run is not at the optimum yet (inf).
    """
    free = model.free
    active = free & ((params != 0.0) | (optimality != 0.0))
    active[-1] = free[-1]
    rows = np.flatnonzero(free)
    in_free = active[rows]
    if not in_free.any():
        return 0.0
    block = model.curvature[np.ix_(in_free, in_free)]
    gradient = (model.inverse[np.ix_(free, free)].T @ optimality[free])[in_free] / (2.0 * model.target_scale**2)
    diagonal = np.diag(block).copy()
    if not np.all(diagonal > 0.0):
        return float("inf")
    jacobi = 1.0 / np.sqrt(diagonal)
    values, vectors = np.linalg.eigh(block * np.outer(jacobi, jacobi))
    if not values[0] > SINGULAR_RCOND * values[-1]:
        return float("inf")
    error = jacobi * (vectors @ ((vectors.T @ (jacobi * gradient)) / values))
    return float(np.max(np.abs(error)))


def estimated_error_model(
    standardise: NDArray[np.float64],
    inverse: NDArray[np.float64],
    free: NDArray[np.bool_],
    target_scale: float,
    curvature_guess: float,
) -> ErrorModel:
    """The bound ``|g~_w| / (2 std(y)^2 lambda) (+) |g~_b| / (2 std(y)^2)`` for a guess ``lambda`` of ``lambda_min(R)``."""
    p = standardise.shape[0]
    rows = np.flatnonzero(free)
    divisors = np.full(rows.shape[0], 2.0 * target_scale**2 * curvature_guess)
    if free[-1]:
        divisors[-1] = 2.0 * target_scale**2  # the intercept's curvature is exactly 1 in these units
    matrix = np.zeros((p, p))
    matrix[np.ix_(rows, rows)] = _free_block(inverse, free).T / divisors[:, None]
    return ErrorModel(
        matrix=matrix,
        exact=False,
        standardise=standardise,
        inverse=inverse,
        free=free,
        target_scale=target_scale,
        curvature_guess=curvature_guess,
    )


def lanczos_error(
    model: ErrorModel,
    grad: NDArray[np.float64],
    hessian_vector: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    max_steps: int = LANCZOS_MAX_STEPS,
    active: NDArray[np.bool_] | None = None,
) -> tuple[float, float, int]:
    """The standardised error at ``grad`` without the statistics: ``(error, smallest Ritz value, passes)``.

    ``hessian_vector(u)`` returns ``H u`` (half the loss's Hessian, loop
    coordinates) with one pass over the data. A Lanczos process with full
    reorthogonalisation runs on ``R`` from the weights' standardised
    gradient ``g~_w``. ``R^-1 g~_w`` lies in the Krylov space of ``g~_w``, so
    once the process breaks down (the space is invariant; at the latest
    after ``d`` steps) the solution it gives is exact. Before that the
    estimate is the larger of that solution and ``|g~_w| / theta_min``, with
    ``theta_min`` the smallest Ritz value (at least ``lambda_min``, so this
    is an estimate, not a bound).

    ``active`` (an L1 penalty's active parameters, loop coordinates) runs
    the process on ``R``'s block of the active weights alone, as
    :func:`support_error` does with the statistics; a singular block there
    gives an infinite error.
    """
    free = model.free
    T_inv = _free_block(model.inverse, free)
    sigma2 = model.target_scale**2
    g_free = grad[free]
    standardised_gradient = T_inv.T @ g_free
    n_free = g_free.shape[0]
    has_intercept = bool(free[-1])
    n_weights = n_free - 1 if has_intercept else n_free
    intercept_error = abs(standardised_gradient[-1]) / (2 * sigma2) if has_intercept else 0.0
    mask = np.ones(n_weights) if active is None else active[free][:n_weights].astype(np.float64)
    g_w = standardised_gradient[:n_weights] * mask
    norm = float(np.linalg.norm(g_w))
    if n_weights == 0 or norm == 0.0:
        return intercept_error, float("nan"), 0

    def apply_correlation(vector: NDArray[np.float64]) -> NDArray[np.float64]:
        standardised = np.zeros(n_free)
        standardised[:n_weights] = vector * mask
        loop_vector = np.zeros(grad.shape[0])
        loop_vector[free] = T_inv @ standardised
        product = hessian_vector(loop_vector)[free]
        return (T_inv.T @ product)[:n_weights] * mask / sigma2

    basis = [g_w / norm]
    alphas: list[float] = []
    betas: list[float] = []
    passes = 0
    invariant = False
    for _ in range(min(max_steps, n_weights)):
        w = apply_correlation(basis[-1])
        passes += 1
        alphas.append(float(basis[-1] @ w))
        for q in basis:  # full reorthogonalisation: the basis is tiny
            w -= (q @ w) * q
        beta = float(np.linalg.norm(w))
        if beta <= LANCZOS_BREAKDOWN * max(1.0, abs(alphas[-1])) or len(basis) == n_weights:
            invariant = True
            break
        betas.append(beta)
        basis.append(w / beta)
    k = len(alphas)
    tridiagonal = np.diag(alphas) + np.diag(betas[: k - 1], 1) + np.diag(betas[: k - 1], -1)
    ritz = np.linalg.eigvalsh(tridiagonal)
    top = max(float(ritz[-1]), 1e-300)
    positive = ritz > SINGULAR_RCOND * top
    rhs = np.zeros(k)
    rhs[0] = norm
    values, vectors = np.linalg.eigh(tridiagonal)
    keep = values > SINGULAR_RCOND * top
    solution = np.array(basis[:k]).T @ ((vectors[:, keep] / values[keep]) @ (vectors[:, keep].T @ rhs))
    weights_error = float(np.max(np.abs(solution))) / (2 * sigma2)
    theta_min = float(ritz[positive].min()) if positive.any() else float("nan")
    if not invariant and positive.any():
        weights_error = max(weights_error, norm / (2 * sigma2 * theta_min))
    if active is not None and not positive.all():
        weights_error = float("inf")  # the active weights' curvature is singular: not at the optimum
    return max(weights_error, intercept_error), theta_min, passes


# ---------------------------------------------------------------------------
# How many iterations a method needs, for advice that works when followed.
# ---------------------------------------------------------------------------


def iterations_needed(method: str, rate_condition: float, reduction: float, n_free: int) -> float:
    """Iterations from the start for ``method`` to shrink the error ``reduction``-fold.

    ``rate_condition`` is the condition number that governs the method's
    rate: ``1 / (1 - rho)`` for gradient descent's contraction ``rho`` (the
    condition number with the step ``1/L``), the Hessian's for Nesterov and
    conjugate gradients. The figures are the textbook rates with a margin
    (gradient descent: ``kappa log r``; Nesterov with restart:
    ``3 sqrt(kappa) log r``; conjugate gradients: ``sqrt(kappa)/2 log(2 sqrt(kappa) r)``,
    and at most a few sweeps of ``n_free`` steps while ``kappa < 1e8``, since
    rounding delays its finite termination).
    """
    kappa = max(rate_condition, 1.0)
    log_reduction = math.log(max(reduction, math.e))
    if method == "gd":
        estimate = kappa * log_reduction
    elif method == "nesterov":
        estimate = 3.0 * math.sqrt(kappa) * log_reduction
    else:
        estimate = 0.5 * math.sqrt(kappa) * math.log(2.0 * math.sqrt(kappa) * max(reduction, 1.0))
        if kappa < 1e8:  # worse conditioned, rounding spoils the finite termination
            estimate = min(estimate, 4.0 * n_free)
    return 1.5 * estimate + 10.0


def elastic_net_duality_gap(
    statistics, w: NDArray[np.float64], b: float, alpha: float, l1_ratio: float, fit_intercept: bool = True
) -> float:
    """The elastic net's duality gap at ``(w, b)``, in scikit-learn's units, from the sufficient statistics.

    The objective is scikit-learn's ``ElasticNet`` one, ``P = |r|^2 / (2 W) +
    h(w)`` with ``h(w) = l1 |w|_1 + l2 / 2 |w|^2`` (``l1 = alpha l1_ratio``,
    ``l2 = alpha (1 - l1_ratio)``), residuals ``r = y - X w - b`` and total
    weight ``W``. At the intercept's optimum ``b*`` for these weights the
    dual point is the centred residual, and the gap is Fenchel-Young's
    ``h(w) + h*(u) - w.u`` for ``u = X_c' S r_c / W``, where ``h*(u) =
    sum((|u_j| - l1)_+^2) / (2 l2)``. Without a ridge part ``h*`` is finite
    only for ``|u_j| <= l1``, so the residual is scaled into that set first
    (the construction of scikit-learn's coordinate descent, whose
    ``dual_gap_`` this equals). With both parts the smaller gap is taken.
    ``P(w, b) - P(w, b*)`` is the residuals' mean squared over 2; the sum
    bounds ``P(w, b) - P*``. Without an intercept (``b`` held at 0) the
    moments are the raw ones and there is no such term. Every term is a
    weighted moment: ``O(d^2)``, no pass over the data.
    """
    d = statistics.n_features
    covariance = statistics.scatter / statistics.total_weight
    if not fit_intercept:
        covariance = covariance + np.outer(statistics.mean, statistics.mean)
    cov_xx, cov_xy, var_y = covariance[:d, :d], covariance[:d, d], float(covariance[d, d])
    w = np.asarray(w, dtype=np.float64).reshape(d)
    l1_weight, l2_weight = alpha * l1_ratio, alpha * (1.0 - l1_ratio)
    fitted = cov_xx @ w
    correlation = cov_xy - fitted  # u
    penalty = l1_weight * float(np.sum(np.abs(w))) + 0.5 * l2_weight * float(w @ w)
    gaps = []
    if l2_weight > 0.0:
        excess = np.maximum(np.abs(correlation) - l1_weight, 0.0)
        gaps.append(penalty + float(excess @ excess) / (2.0 * l2_weight) - float(w @ correlation))
    if l1_weight > 0.0:
        residual_squares = max(0.0, var_y - 2.0 * float(w @ cov_xy) + float(w @ fitted))  # |r_c|^2 / W
        worst = float(np.max(np.abs(correlation - l2_weight * w), initial=0.0))
        factor = 1.0 if worst <= l1_weight else l1_weight / worst
        gap = 0.5 * residual_squares * (1.0 + factor**2) if factor < 1.0 else residual_squares
        gap += l1_weight * float(np.sum(np.abs(w))) - factor * (var_y - float(w @ cov_xy))
        gaps.append(gap + 0.5 * l2_weight * (1.0 + factor**2) * float(w @ w))
    mean_residual = float(statistics.mean[d] - statistics.mean[:d] @ w - b) if fit_intercept else 0.0
    return max(0.0, min(gaps)) + 0.5 * mean_residual**2


def optimal_loss(statistics, fit_intercept: bool) -> float:
    """The least-squares optimum of the (weighted) mean squared error, from the statistics; NaN where unreliable.

    It is the Schur complement of the features in the second moments of
    ``[x, y]`` (centred with an intercept, raw without), taken as the last
    pivot of a Cholesky factorisation of their correlation matrix: backward
    stable, so it is accurate to about ``eps`` times that matrix's condition
    number in units of ``var(y)``. Below a margin over that (a near-perfect
    fit), or for a singular matrix (collinear columns), it is NaN.
    """
    d = statistics.n_features
    moments = statistics.scatter / statistics.total_weight
    if not fit_intercept:
        moments = moments + np.outer(statistics.mean, statistics.mean)
    diagonal = np.diag(moments).copy()
    if not (np.all(np.isfinite(moments)) and np.all(diagonal > 0.0)):
        return float("nan")
    root = np.sqrt(diagonal)
    correlation = moments / np.outer(root, root)
    try:
        factor = np.linalg.cholesky(correlation)
    except np.linalg.LinAlgError:
        return float("nan")
    pivot = float(factor[d, d]) ** 2  # 1 - R^2 (uncentred without an intercept)
    pivots = np.diag(factor)[:d] ** 2
    reliable = 1e3 * (d + 1) * np.finfo(np.float64).eps / max(float(np.min(pivots, initial=1.0)), 1e-300)
    return pivot * float(diagonal[d]) if pivot > reliable else float("nan")
