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
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import stepsize
from ._config import GRAM_AUTO_MAX_FEATURES
from .convergence import (
    ErrorModel,
    Moments,
    estimated_error_model,
    exact_error_model,
    standardisation,
    standardisation_inverse,
    standardised_curvature,
)
from .errors import format_suggestion
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
) -> Options:
    """Check the options and fill in fastgd's defaults (``solver="auto"``, ``center``/``scale`` of None)."""
    method = check_choice(method, "method", METHODS)
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
    )


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
        hessian = self.statistics.hessian(shift, scale)[np.ix_(free, free)]
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


def preconditioner(moments: Moments, center: bool, scale: bool) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(shift, scale)`` of the loop's parametrisation (zeros and ones when off)."""
    d = moments.mean_x.shape[0]
    shift = moments.mean_x.copy() if center else np.zeros(d)
    if not scale:
        return shift, np.ones(d)
    spread = moments.std_x if center else moments.rms_x
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
    shift, scale = preconditioner(moments, options.center, options.scale)
    free = np.ones(d + 1, dtype=bool)
    free[-1] = options.fit_intercept
    hessian = None if statistics is None else statistics.hessian(shift, scale)
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
            lipschitz = estimate_lipschitz(shift, scale, not weights_only)
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
