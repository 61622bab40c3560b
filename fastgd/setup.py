"""Setting up a run: which options apply, the setup pass, the preconditioner, step sizes, the error model.

Every front end (in-memory :func:`fastgd.train`, :func:`fastgd.dask.train`,
the estimator and the command line) resolves its options with
:func:`resolve_options` and builds a :class:`Plan` with :func:`make_plan`
from the data's moments (and, up to
:data:`~fastgd._config.STATISTICS_MAX_FEATURES` features, its sufficient
statistics). Only how the epochs read the data differs between them.

The preconditioner is the model's parametrisation ``(x - shift) . (scale * v) + c``:
with ``center`` the shift is each feature's mean, with ``scale`` the scale
is one over each feature's spread (standard deviation when centred, root
mean square otherwise). Together they are ``StandardScaler`` inside the
kernels, with no copy of ``X``; results are always reported as ``w = scale * v``
and ``b = c - shift . w`` for the original features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import stepsize, validation
from ._config import GRAM_AUTO_MAX_FEATURES
from .convergence import (
    ErrorModel,
    Moments,
    estimated_error_model,
    exact_error_model,
    feature_units,
    standardisation,
    standardisation_inverse,
    standardised_curvature,
)
from .errors import format_suggestion
from .loop import add_penalty, minimum_norm_subgradient
from .types import METHODS, SOLVERS

# A loss below loss_scale * LOSS_FLOOR_FRACTION (mean(y^2) times this) is
# rounding: growth checks allow for it, so a start at the exact optimum
# (loss ~ 0) does not read as divergence.
LOSS_FLOOR_FRACTION = 1e-12

# Conjugate gradients on the data recompute the gradient from the data at
# least this often (and every d + 1 iterations), so the recurrence's
# rounding cannot build up; on statistics every iteration is exact.
CG_REFRESH_MIN = 8


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming ``name``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _check_flag(value: object, name: str) -> bool | None:
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    raise TypeError(f"{name} must be True, False or None (fastgd chooses), got {value!r}")


@dataclass(frozen=True)
class Options:
    """The options of one run, after fastgd's choices were filled in.

    ``lr`` is None for the automatic step. ``fastgd_chooses`` is True when
    the settings are fastgd's (automatic step, or conjugate gradients): the
    preconditioner is then on unless switched off. ``center_given`` and
    ``scale_given`` record whether the caller set them, so advice keeps them.
    """

    method: str
    solver: str
    center: bool
    scale: bool
    fit_intercept: bool
    lr: float | None
    center_given: bool
    scale_given: bool
    alpha: float = 0.0
    l1_ratio: float = 0.0

    @property
    def penalised(self) -> bool:
        return self.alpha > 0.0

    @property
    def ridge_weight(self) -> float:
        """``alpha (1 - l1_ratio)``: the ridge part's curvature on every weight (in scikit-learn's units)."""
        return self.alpha * (1.0 - self.l1_ratio)

    @property
    def has_l1(self) -> bool:
        return self.alpha > 0.0 and self.l1_ratio > 0.0

    @property
    def fastgd_chooses(self) -> bool:
        return self.lr is None or self.method == "cg"


def resolve_options(
    *,
    method: str,
    solver: str,
    center: bool | None,
    scale: bool | None,
    fit_intercept: bool,
    lr: float | None,
    n_features: int,
    alpha: float = 0.0,
    l1_ratio: float = 0.0,
) -> Options:
    """Check the options and fill in fastgd's defaults (``solver="auto"``, ``center``/``scale`` of None).

    ``method="auto"`` is conjugate gradients, or Nesterov's method (FISTA)
    with an L1 penalty or a learning rate, which conjugate gradients cannot take.
    """
    alpha, l1_ratio = check_penalty(alpha, l1_ratio)
    has_l1 = alpha > 0.0 and l1_ratio > 0.0
    if method == "auto":  # conjugate gradients take neither an L1 penalty nor a learning rate
        method = "nesterov" if has_l1 or lr is not None else "cg"
    method = check_choice(method, "method", METHODS)
    if method == "cg" and has_l1:
        raise ValueError(
            f"{format_suggestion({'method': 'cg'})} minimises smooth losses only, and an L1 penalty "
            f"({format_suggestion({'l1_ratio': l1_ratio})}) is not smooth: use "
            f"{format_suggestion({'method': 'nesterov'})} (FISTA, accelerated proximal gradient) or "
            f"{format_suggestion({'method': 'gd'})}, or {format_suggestion({'l1_ratio': 0})} for ridge"
        )
    solver = check_choice(solver, "solver", SOLVERS)
    center_given, scale_given = _check_flag(center, "center"), _check_flag(scale, "scale")
    if method == "cg" and lr is not None:
        raise ValueError(
            f"{format_suggestion({'method': 'cg'})} chooses the exact step length at every iteration and takes no "
            f"learning rate: leave {format_suggestion({'lr': 'auto'})}, or use {format_suggestion({'method': 'gd'})} "
            f"or {format_suggestion({'method': 'nesterov'})} with a learning rate"
        )
    if not fit_intercept and center_given:
        raise ValueError("fit_intercept=False holds b at 0: pass neither center=True nor a non-zero b0")
    chooses = lr is None or method == "cg"
    if solver == "auto":
        solver = "gram" if n_features <= GRAM_AUTO_MAX_FEATURES else "data"
    return Options(
        method=method,
        solver=solver,
        center=(chooses and fit_intercept) if center_given is None else center_given,
        scale=chooses if scale_given is None else scale_given,
        fit_intercept=fit_intercept,
        lr=lr,
        center_given=center_given is not None,
        scale_given=scale_given is not None,
        alpha=alpha,
        l1_ratio=l1_ratio,
    )


def learning_rate_option(lr: object) -> float | None:
    """``None`` for ``lr="auto"`` (fastgd's step), else the checked learning rate."""
    return None if isinstance(lr, str) and lr == "auto" else validation.check_learning_rate(lr)


def run_options(
    *,
    lr: float | None,
    method: str,
    solver: str,
    center: bool | None,
    scale: bool | None,
    fit_intercept: bool,
    alpha: float,
    l1_ratio: float,
    n_features: int,
    w0,
    b0: float,
    one_dimensional: bool,
) -> tuple[Options, NDArray[np.float64], float]:
    """Every front end's options and starting point: :func:`resolve_options` and the checked ``w0``, ``b0``."""
    options = resolve_options(
        method=method, solver=solver, center=center, scale=scale, fit_intercept=fit_intercept, lr=lr,
        n_features=n_features, alpha=alpha, l1_ratio=l1_ratio,
    )  # fmt: skip
    w_start, b_start = validation.initial_parameters(w0, b0, n_features, one_dimensional)
    if not fit_intercept and b_start != 0.0:
        raise ValueError("fit_intercept=False holds b at 0: pass neither center=True nor a non-zero b0")
    return options, w_start, b_start


def check_penalty(alpha: object, l1_ratio: object) -> tuple[float, float]:
    """``(alpha, l1_ratio)`` as floats: ``alpha`` finite and non-negative, ``l1_ratio`` in ``[0, 1]``."""
    values = []
    for name, value, low, high in (("alpha", alpha, 0.0, np.inf), ("l1_ratio", l1_ratio, 0.0, 1.0)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a number, got {value!r}")
        number = float(value)
        if not (low <= number <= high and np.isfinite(number)):
            allowed = "a finite number >= 0" if name == "alpha" else "a number from 0 (ridge) to 1 (lasso)"
            raise ValueError(f"{name} must be {allowed}, got {value!r}")
        values.append(number)
    return values[0], values[1]


def penalty_vectors(options: Options, scale: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The penalty in loop coordinates: ``(ridge, l1)`` with ``penalty = sum(ridge p^2) + sum(l1 |p|)``.

    fastgd's loss is ``mean((y_hat - y)^2)``, twice the data term of
    scikit-learn's ``ElasticNet``, so the whole objective is doubled: the
    penalty on the original weights is ``2 alpha l1_ratio |w|_1 +
    alpha (1 - l1_ratio) |w|^2``. With ``w = scale * v`` that is
    ``ridge_j = alpha (1 - l1_ratio) scale_j^2`` and ``l1_j = 2 alpha l1_ratio
    scale_j`` for the weights, and 0 for the intercept (never penalised).
    Empty arrays for a part that is absent.
    """
    ridge = np.zeros(0)
    l1 = np.zeros(0)
    if options.alpha > 0.0 and options.l1_ratio < 1.0:
        ridge = np.append(options.alpha * (1.0 - options.l1_ratio) * scale**2, 0.0)
    if options.alpha > 0.0 and options.l1_ratio > 0.0:
        l1 = np.append(2.0 * options.alpha * options.l1_ratio * scale, 0.0)
    return ridge, l1


@dataclass
class Plan:
    """What the loop needs for one run, and how to read its results.

    ``shift`` and ``scale`` define the loop's parametrisation (see the module
    docstring). ``steps`` are the per-parameter step sizes (for conjugate
    gradients, 1 for fitted parameters and 0 for a fixed intercept).
    ``hessian`` is half the loss's Hessian in loop coordinates when the
    statistics exist. ``loss_floor`` is the loss that counts as rounding.
    """

    options: Options
    moments: Moments
    shift: NDArray[np.float64]
    scale: NDArray[np.float64]
    steps: NDArray[np.float64]
    lipschitz: float | None
    errors: ErrorModel
    hessian: NDArray[np.float64] | None
    loss_floor: float
    refresh_every: int
    statistics: Any = None
    ridge: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    l1: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def penalty(self, params: NDArray[np.float64], grad: NDArray[np.float64]) -> float:
        """The penalty at loop parameters ``params``, its smooth part's gradient added to ``grad``."""
        return float(add_penalty(params, grad, self.ridge, self.l1))

    def optimality(self, params: NDArray[np.float64], grad: NDArray[np.float64]) -> NDArray[np.float64]:
        """What the convergence test measures: the gradient, or with an L1 penalty the minimum-norm subgradient."""
        if not self.l1.shape[0]:
            return grad
        return minimum_norm_subgradient(params, grad, self.l1, np.empty_like(grad))

    @property
    def free(self) -> NDArray[np.bool_]:
        return self.errors.free

    def to_original(self, params: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map ``[v, c]`` (one row, or a history of rows) to the original model's ``[w, b]``."""
        original = np.array(params, dtype=np.float64, copy=True)
        original[..., :-1] *= self.scale
        original[..., -1] -= original[..., :-1] @ self.shift
        return original

    def from_original(self, w: NDArray[np.float64], b: float) -> NDArray[np.float64]:
        """The loop parameters ``[v, c]`` of the model ``x . w + b`` (a scale of 0 cannot occur)."""
        return np.append(w / self.scale, b + self.shift @ w)

    def _curvatures(self, shift, scale, steps) -> NDArray[np.float64]:
        """Eigenvalues of ``2 D^1/2 H D^1/2`` (``D = diag(steps)``) over the fitted parameters, from the statistics."""
        free = self.free
        hessian = self.statistics.hessian(shift, scale)
        ridge, _ = penalty_vectors(self.options, scale)
        if ridge.shape[0]:
            hessian = hessian + np.diag(ridge)
        hessian = hessian[np.ix_(free, free)]
        root = np.sqrt(steps[free])
        values = np.linalg.eigvalsh(2.0 * root[:, None] * hessian * root[None, :])
        return values[values > 1e-13 * values[-1]]

    def condition(self, shift: NDArray[np.float64], scale: NDArray[np.float64], steps: NDArray[np.float64]) -> float:
        """Condition number of ``2 D^1/2 H D^1/2`` in the parametrisation ``(shift, scale)`` (NaN without statistics)."""
        if self.statistics is None:
            return float("nan")
        kept = self._curvatures(shift, scale, steps)
        return float(kept[-1] / kept[0]) if kept.size else 1.0

    def gd_rate_condition(self) -> float:
        """``1 / (1 - rho)`` for plain gradient descent's contraction ``rho`` with this plan's steps."""
        if self.statistics is None:
            return float("nan")
        kept = self._curvatures(self.shift, self.scale, self.steps)
        rho = float(np.max(np.abs(1.0 - kept))) if kept.size else 0.0
        return 1.0 / (1.0 - rho) if rho < 1.0 else float("inf")


def preconditioner(
    moments: Moments, center: bool, scale: bool, ridge_weight: float = 0.0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(shift, scale)`` of the loop's parametrisation (zeros and ones when off).

    ``ridge_weight`` is ``alpha (1 - l1_ratio)``: ridge adds it to each
    weight's curvature, so the scale is ``1 / sqrt(spread^2 + ridge_weight)``,
    which keeps the diagonal of the objective's Hessian at 1 however the
    penalty compares with a feature's spread (a column of scale 1e-8 under
    ``alpha = 1`` is all penalty).
    """
    d = moments.mean_x.shape[0]
    shift = moments.mean_x.copy() if center else np.zeros(d)
    if not scale:
        return shift, np.ones(d)
    spread = moments.std_x if center else moments.rms_x
    if ridge_weight > 0.0:
        spread = np.sqrt(spread**2 + ridge_weight)
    factors = np.ones(d)
    # A constant (centred) or all-zero column has no spread: leave it unscaled.
    usable = spread > 1e-300
    factors[usable] = 1.0 / spread[usable]
    if not np.all(np.isfinite(factors)):
        raise ValueError("a feature's spread is too small to scale it (subnormal values); multiply X by a power of 10")
    return shift, factors


def make_plan(
    options: Options,
    moments: Moments,
    statistics=None,
    estimate_lipschitz: Callable[[NDArray[np.float64], NDArray[np.float64], bool], float] | None = None,
) -> Plan:
    """The plan for a run, from the data's moments and (when they exist) its sufficient statistics.

    ``estimate_lipschitz(shift, scale, intercept)`` is called for the
    automatic step size when there are no statistics (power iteration).
    """
    _check_finite_moments(moments, statistics)
    d = moments.mean_x.shape[0]
    shift, scale = preconditioner(moments, options.center, options.scale, options.ridge_weight)
    free = np.ones(d + 1, dtype=bool)
    free[-1] = options.fit_intercept
    ridge, l1 = penalty_vectors(options, scale)
    hessian = None if statistics is None else statistics.hessian(shift, scale)
    if hessian is not None and ridge.shape[0]:
        hessian = hessian + np.diag(ridge)  # the objective's half Hessian: ridge adds its curvature
    lipschitz = None
    if options.method == "cg":
        steps = free.astype(np.float64)
    elif options.lr is not None:
        steps = np.where(free, options.lr, 0.0)
    else:
        weights_only = options.center or not options.fit_intercept
        if hessian is not None:
            lipschitz = stepsize.exact_lipschitz(hessian[:d, :d] if weights_only else hessian)
        else:
            # Ridge's curvature at most adds to the largest eigenvalue (Weyl's inequality).
            lipschitz = estimate_lipschitz(shift, scale, not weights_only) + 2.0 * float(np.max(ridge, initial=0.0))
        if options.center:
            lipschitz = stepsize.floor_centred_lipschitz(lipschitz, shift * scale)
        if not (np.isfinite(lipschitz) and lipschitz >= 0):
            raise ValueError(
                "the automatic step size overflowed: the features' squares exceed float64's range; "
                "divide X by a power of 10 (the coefficients scale back by the same factor)"
            )
        # L = 0 only for all-zero (or, centred, constant) features, whose gradient is 0: any step will do.
        lr = 1.0 / lipschitz if lipschitz > 0 else 1.0
        steps = np.where(free, lr, 0.0)
        if options.center:
            steps[-1] = 0.5  # centred, the intercept's curvature is exactly 2: this step solves for it
    T = standardisation(moments, shift, scale)
    T_inverse = standardisation_inverse(moments, shift, scale)
    if statistics is not None:
        curvature = standardised_curvature(statistics, moments, options.fit_intercept)
        if options.ridge_weight > 0.0:
            # alpha (1 - l1_ratio) |w|^2 with w_j = e_j std(y) / std(x_j), over std(y)^2.
            d_range = np.arange(d)
            curvature[d_range, d_range] += options.ridge_weight / feature_units(moments) ** 2
        errors = exact_error_model(curvature, T, T_inverse, free, moments.target_scale)
    else:
        errors = estimated_error_model(T, T_inverse, free, moments.target_scale, 1.0)
    return Plan(
        options=options,
        moments=moments,
        shift=shift,
        scale=scale,
        steps=steps,
        lipschitz=lipschitz,
        errors=errors,
        hessian=hessian,
        loss_floor=LOSS_FLOOR_FRACTION * moments.loss_scale,
        refresh_every=1 if options.solver == "gram" else max(CG_REFRESH_MIN, d + 1),
        statistics=statistics,
        ridge=ridge,
        l1=l1,
    )


def _check_finite_moments(moments: Moments, statistics) -> None:
    values = [moments.std_x, moments.rms_x, np.array([moments.var_y, moments.mean_y])]
    if statistics is not None:
        values.append(statistics.scatter)
    if all(np.all(np.isfinite(value)) for value in values):
        return
    columns = np.flatnonzero(~np.isfinite(moments.rms_x))
    where = f"column {int(columns[0])} of X" if columns.size else "y"
    raise ValueError(
        f"the squares of {where} overflow float64 (values above about 1e154): divide it by a power of 10 "
        "before training (the coefficients scale back by the same factor)"
    )
