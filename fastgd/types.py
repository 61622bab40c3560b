"""The types every part of fastgd shares, and the names of its options: a leaf module.

It imports nothing of fastgd, so any module may import it. What lives here:

* the option tables: backends, methods (name -> the loop's code), solvers;
* what an epoch reads: :class:`DataPass` (the data, in the loop's
  parametrisation) and :class:`GramData` (sufficient statistics);
* the loop's settings and state (:class:`LoopSettings`, :class:`LoopState`);
* the statistics of a data set: :class:`SufficientStatistics` and :class:`Moments`;
* what training returns and raises: :class:`TrainResult`,
  :class:`ConvergenceWarning`, :class:`DivergenceError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

# --- option tables ---------------------------------------------------------------------------------

BACKENDS = ("numba", "numpy")
SOLVERS = ("data", "gram", "auto")

# A suggestion of options, e.g. {"method": "cg", "iterations": 40} (worded per interface by fastgd.errors).
Suggestion = Mapping[str, Any]

# Status codes returned by descent_loop.
RUNNING = 0
DIVERGED = 1
REACHED_THRESHOLD = 2
CONVERGED = 3

# Methods: the loop's code for each name.
GRADIENT_DESCENT = 0
NESTEROV = 1
CONJUGATE_GRADIENT = 2
METHOD_CODES = {"gd": GRADIENT_DESCENT, "nesterov": NESTEROV, "cg": CONJUGATE_GRADIENT}
METHODS = tuple(METHOD_CODES)

# The default convergence tolerance: the largest error of a standardised
# coefficient, |w_j - w*_j| * std(x_j) / std(y), allowed at the end of a run.
DEFAULT_TOL = 1e-6


# --- what an epoch reads ------------------------------------------------------------------------------


class DataPass(NamedTuple):
    """Everything an epoch needs to pass over the data once.

    The targets are ``target_factor * y``: with a factor of 0 they are zero,
    and the epoch's gradient is a Hessian-vector product. ``total_weight`` is ``n`` without sample weights
    and their sum with them. ``shift`` is empty, or the values to subtract
    from each column on the fly; ``scale`` is empty, or one factor per
    feature. The model is then ``(x - shift) . (scale * v) + c`` for loop
    parameters ``[v, c]``. ``chunk_rows`` is the kernels' fixed reduction
    chunk and ``parallel`` ``None`` (chunks one after the other) or ``True``
    (on threads), never ``False``: the kernels pick by type
    (:func:`fastgd._config.parallel_for`; both unused by numpy).
    """

    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    total_weight: float
    shift: np.ndarray
    scale: np.ndarray
    chunk_rows: int
    target_factor: float = 1.0
    parallel: bool | None = None


class GramData(NamedTuple):
    """Sufficient statistics of the data, for O(d^2) epochs (see :mod:`fastgd.gram`).

    In the loop's parametrisation ``x' . v + c`` with ``x'`` the transformed
    features, ``cov_xx`` and ``cov_xy`` are the covariances of ``x'`` (with
    itself, with ``y``), ``var_y`` the variance of ``y``, and ``offset`` the
    mean of ``x'``. All zero ``cov_xy``, ``var_y`` and ``mean_y`` make the
    epoch a Hessian-vector product.
    """

    cov_xx: np.ndarray
    cov_xy: np.ndarray
    var_y: float
    mean_y: float
    offset: np.ndarray


class LoopSettings(NamedTuple):
    """What the loop does at each iteration; fixed for a whole run.

    ``steps`` holds one step size per parameter (0 for a parameter held fixed;
    conjugate gradients use only which are zero). The loop stops when the
    loss is non-finite, above ``divergence_factor * loss_0 + loss_floor``
    or, for plain gradient descent, above the previous loss beyond rounding
    (DIVERGED); at most ``loss_threshold`` (REACHED_THRESHOLD, -1 for none);
    or when the error estimate ``error_norm(error_matrix @ grad)`` is at most
    ``error_tol`` (CONVERGED, -1 for never), the norm being the largest
    absolute entry when ``error_max_norm`` and the Euclidean one otherwise.

    A penalty adds ``sum(ridge * p**2) + sum(l1 * |p|)`` to the loss at the
    loop parameters ``p`` (each array empty when that part is absent): the
    ridge part enters the gradient, the L1 part a soft-thresholding after
    each step (proximal gradient), and the convergence test then takes the
    minimum-norm subgradient instead of the gradient.
    """

    method: int
    steps: np.ndarray
    loss_threshold: float
    divergence_factor: float
    loss_floor: float
    error_matrix: np.ndarray
    error_max_norm: bool
    error_tol: float
    refresh_every: int
    ridge: np.ndarray
    l1: np.ndarray


class LoopState(NamedTuple):
    """Everything that carries over from one loop call to the next (all arrays, updated in place).

    ``params`` is the current iterate and ``point`` where the latest loss
    and gradient were taken (equal but for Nesterov's look-ahead);
    ``last_good`` is the latest point whose loss passed the checks.
    ``momentum`` is FISTA's ``t``; ``last_loss`` the previous loss.
    Conjugate gradients keep a ``direction``, its Hessian product
    ``curvature_direction`` (``2 H p``), the previous gradient, the loss by
    recurrence (``cg_loss``) and whether ``grad`` is a true gradient of the
    data (``grad_is_true``, 1.0 or 0.0). ``since_refresh`` counts iterations
    since the gradient was last recomputed, ``passes`` epochs run;
    ``first_error`` and ``first_grad_norm`` describe iteration 0.
    ``optimality`` holds the minimum-norm subgradient of a run with an L1
    penalty (what its convergence test measures; zero exactly at the optimum).
    """

    params: np.ndarray
    previous: np.ndarray
    point: np.ndarray
    grad: np.ndarray
    last_good: np.ndarray
    direction: np.ndarray
    curvature_direction: np.ndarray
    old_grad: np.ndarray
    momentum: np.ndarray
    last_loss: np.ndarray
    cg_loss: np.ndarray
    grad_is_true: np.ndarray
    since_refresh: np.ndarray
    passes: np.ndarray
    first_error: np.ndarray
    first_grad_norm: np.ndarray
    loss_history: np.ndarray
    params_history: np.ndarray
    optimality: np.ndarray


def new_state(params: np.ndarray, iterations: int, record_params: bool) -> LoopState:
    """A fresh :class:`LoopState` starting at ``params`` with room for ``iterations`` iterations."""
    n_params = params.shape[0]
    return LoopState(
        params=params.copy(),
        previous=params.copy(),
        point=params.copy(),
        grad=np.zeros(n_params),
        last_good=params.copy(),
        direction=np.zeros(n_params),
        curvature_direction=np.zeros(n_params),
        old_grad=np.zeros(n_params),
        momentum=np.ones(1),
        last_loss=np.full(1, np.inf),
        cg_loss=np.zeros(1),
        grad_is_true=np.zeros(1),
        since_refresh=np.zeros(1, dtype=np.int64),
        passes=np.zeros(1, dtype=np.int64),
        first_error=np.full(1, np.nan),
        first_grad_norm=np.full(1, np.nan),
        loss_history=np.empty(iterations),
        params_history=np.empty((iterations if record_params else 0, n_params)),
        optimality=np.zeros(n_params),
    )


# --- statistics -----------------------------------------------------------------------------------


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

    def is_finite(self) -> bool:
        """Whether the weight, the means and the scatter are all finite numbers."""
        return bool(np.isfinite(self.total_weight) and np.isfinite(self.mean).all() and np.isfinite(self.scatter).all())

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

    def gram_data(self, shift: NDArray[np.float64], scale: NDArray[np.float64]) -> GramData:
        """The statistics as the loop's epoch input, for the model ``(x - shift) . (scale * v) + c``.

        ``shift`` and ``scale`` have one entry per feature (zeros and ones
        for the plain model ``x . w + b``).
        """
        d = self.n_features
        covariance = self.scatter / self.total_weight
        return GramData(
            np.ascontiguousarray(covariance[:d, :d] * np.outer(scale, scale)),
            covariance[:d, d] * scale,
            float(covariance[d, d]),
            float(self.mean[d]),
            (self.mean[:d] - shift) * scale,
        )

    def hessian(self, shift: NDArray[np.float64], scale: NDArray[np.float64]) -> NDArray[np.float64]:
        """Half the loss's Hessian, ``E_s[z z^T]`` for ``z = [(x - shift) * scale, 1]``, of size ``(d+1, d+1)``."""
        d = self.n_features
        offset = (self.mean[:d] - shift) * scale
        hessian = np.empty((d + 1, d + 1))
        hessian[:d, :d] = self.scatter[:d, :d] / self.total_weight * np.outer(scale, scale) + np.outer(offset, offset)
        hessian[:d, d] = hessian[d, :d] = offset
        hessian[d, d] = 1.0
        return hessian

    def feature_spread(self, centred: bool) -> NDArray[np.float64]:
        """Each feature's weighted standard deviation (``centred``) or root mean square."""
        d = self.n_features
        second_moment = np.diag(self.scatter)[:d] / self.total_weight
        if not centred:
            second_moment = second_moment + self.mean[:d] ** 2
        return np.sqrt(np.maximum(second_moment, 0.0))

    def target_moments(self) -> tuple[float, float]:
        """The weighted mean and variance of ``y``."""
        return float(self.mean[-1]), max(float(self.scatter[-1, -1] / self.total_weight), 0.0)

    def least_squares(self) -> tuple[NDArray[np.float64], float]:
        """The exact minimiser ``(w, b)`` of the (weighted) mean squared error, for comparison.

        Uses a least-squares solve of the covariance system, so a singular
        covariance (collinear features) gives the minimum-norm solution.
        """
        d = self.n_features
        w = np.linalg.lstsq(self.scatter[:d, :d], self.scatter[:d, d], rcond=None)[0]
        return w, float(self.mean[d] - self.mean[:d] @ w)


@dataclass(frozen=True)
class Moments:
    """Weighted means and spreads of the features and of the target.

    ``std_x`` is each feature's standard deviation, ``rms_x`` its root mean
    square; ``var_y`` the target's variance.
    """

    total_weight: float
    mean_x: NDArray[np.float64]
    std_x: NDArray[np.float64]
    rms_x: NDArray[np.float64]
    mean_y: float
    var_y: float

    @classmethod
    def from_statistics(cls, stats) -> Moments:
        """The moments inside a :class:`fastgd.SufficientStatistics`."""
        d = stats.n_features
        # Values whose squares overflow give infinities here; fastgd.setup refuses them with a clear message.
        with np.errstate(over="ignore", invalid="ignore"):
            mean_y, var_y = stats.target_moments()
            return cls(
                stats.total_weight, stats.mean[:d].copy(), stats.feature_spread(True), stats.feature_spread(False),
                mean_y, var_y,
            )  # fmt: skip

    def merge(self, other: Moments) -> Moments:
        """The moments of both data sets together (Chan, Golub and LeVeque's pairwise update)."""
        if other.total_weight == 0:
            return self
        if self.total_weight == 0:
            return other
        total = self.total_weight + other.total_weight
        share = other.total_weight / total
        cross = self.total_weight * share

        def combine(mean_a, var_a, mean_b, var_b):
            delta = mean_b - mean_a
            squares = self.total_weight * var_a + other.total_weight * var_b + delta * delta * cross
            return mean_a + delta * share, squares / total

        mean_x, var_x = combine(self.mean_x, self.std_x**2, other.mean_x, other.std_x**2)
        mean_y, var_y = combine(self.mean_y, self.var_y, other.mean_y, other.var_y)
        return Moments(total, mean_x, np.sqrt(var_x), np.sqrt(var_x + mean_x**2), float(mean_y), float(var_y))

    @property
    def target_scale(self) -> float:
        """``std(y)``; for a constant ``y`` its magnitude, and 1 for ``y = 0`` (the unit then is absolute)."""
        for value in (math.sqrt(self.var_y), abs(self.mean_y)):
            if value > 0 and math.isfinite(value):
                return value
        return 1.0

    @property
    def loss_scale(self) -> float:
        """``mean(y^2)``: the loss of the zero model, the scale of every loss of this problem."""
        return self.var_y + self.mean_y**2


# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainResult:
    """What :func:`fastgd.train` learned and how it got there.

    Attributes
    ----------
    w : float or ndarray
        Learned weights: a float for one-dimensional ``X``, else shape ``(d,)``.
    b : float
        Learned intercept.
    loss_history : ndarray
        ``loss_history[k]`` is the loss at the start of iteration ``k``
        (conjugate gradients on data passes: by recurrence between
        recomputations from the data; the statistics solver: from the
        statistics, accurate to about 1e-15 of ``mean(y^2)``).
    n_iter : int
        Iterations run, ``len(loss_history)``. Each one stepped the
        parameters, except the last when the run stopped at a check
        (``"loss_threshold"`` or ``"tol"``).
    stop_reason : str
        ``"tol"`` (converged), ``"iterations"`` (the cap),
        ``"loss_threshold"``, ``"callback"``, or ``"stalled"`` (rounding left
        nothing to gain before the tolerance was met).
    final_loss : float
        The loss at the returned ``w`` and ``b``, checked against the data.
    lr : float
        The step size used for the weights (NaN for ``method="cg"``, which
        takes the exact step length every iteration).
    backend : str
        ``"numba"``, ``"numpy"`` or ``"dask"`` (:func:`fastgd.dask.train`).
    w_history, b_history : ndarray or None
        Parameters at the start of each iteration, when ``record_params``.
    seconds : float
        Wall time of training: setup passes, iterations and the final
        checks, not validation. The first call for a given layout and dtype
        in a process also includes loading the compiled code from numba's
        cache (or compiling).
    method, solver : str
        As run (``solver="auto"`` resolved).
    lipschitz : float or None
        The smoothness constant ``L`` behind ``lr="auto"`` (``lr = 1 / L``),
        in the preconditioned coordinates when ``scale`` is on.
    passes : int
        Passes over the data: setup, iterations and final checks.
    gradient_norm_ratio : float
        Gradient norm at the returned parameters over that at the start.
    converged : bool
        Whether ``coef_error <= tol``, or, for a tolerance finer than float64
        can hold (an intercept ``1e9 * std(y)`` from zero has an ulp of
        ``2e-7`` standard deviations), within a few ulps of the closest
        float64 answer.
    coef_error : float
        The largest error of a coefficient in standardised units,
        ``|w_j - w*_j| * std(x_j) / std(y)`` (the intercept's: that of the
        prediction at the feature means), to the least-squares optimum.
        Exact with up to 2,048 features; estimated above.
    tol : float
        The tolerance ``coef_error`` was tested against.
    center, scale : bool
        Whether the features were centred and scaled inside the loop.
    loop_seconds : float
        Wall time of the iterations alone (``seconds`` less the setup pass
        and the final checks): ``loop_seconds / n_iter`` is the time per
        iteration.
    alpha, l1_ratio : float
        The penalty (see :func:`fastgd.train`); with ``alpha > 0`` the losses
        above are the penalised objective and ``coef_error`` is measured to
        its optimum.
    optimal_loss : float
        The least-squares optimum of the loss, from the sufficient statistics
        (no penalty, up to 2,048 features); NaN when unknown or not reliable
        in float64 (a near-perfect fit, collinear columns). The loss plot
        draws it.
    statistics : SufficientStatistics or None
        The sufficient statistics of the data when the run took them (up to
        2,048 features), for merging with more rows later (as
        ``GDRegressor.partial_fit`` does).
    duality_gap : float
        With a penalty and the sufficient statistics, the elastic net's
        duality gap at the returned parameters, in scikit-learn's units
        (an upper bound on how far its objective is above the optimum); NaN
        otherwise.
    """

    w: float | NDArray[np.float64]
    b: float
    loss_history: NDArray[np.float64] = field(repr=False)
    n_iter: int
    stop_reason: str
    final_loss: float
    lr: float
    backend: str
    w_history: NDArray[np.float64] | None = field(default=None, repr=False)
    b_history: NDArray[np.float64] | None = field(default=None, repr=False)
    seconds: float = field(default=0.0, repr=False)
    method: str = "gd"
    solver: str = "data"
    lipschitz: float | None = None
    passes: int = 0
    gradient_norm_ratio: float = field(default=float("nan"), repr=False)
    converged: bool = True
    coef_error: float = float("nan")
    tol: float = DEFAULT_TOL
    center: bool = False
    scale: bool = False
    loop_seconds: float = field(default=0.0, repr=False)
    alpha: float = 0.0
    l1_ratio: float = 0.0
    duality_gap: float = field(default=float("nan"), repr=False)
    optimal_loss: float = field(default=float("nan"), repr=False)
    statistics: Any = field(default=None, repr=False)


def n_features_of(X: np.ndarray) -> int:
    """The number of features of ``X``: 1 for a one-dimensional ``X``."""
    return 1 if X.ndim == 1 else X.shape[1]


def split_params(params: NDArray[np.float64], one_dimensional: bool) -> tuple[float | NDArray[np.float64], float]:
    """``(w, b)`` from ``[w, b]``: ``w`` a float for one-dimensional ``X``."""
    w = float(params[0]) if one_dimensional else params[:-1].copy()
    return w, float(params[-1])


class ConvergenceWarning(UserWarning):
    """Training ended with its estimated coefficient error above the tolerance.

    Attributes
    ----------
    error : float
        The estimated largest error of a standardised coefficient
        (``|w_j - w*_j| * std(x_j) / std(y)``, see :attr:`fastgd.TrainResult.coef_error`).
    tol : float
        The tolerance it missed.
    advice : list of dict
        Alternative changes of options, each expected to converge when
        followed (worded in the message for the interface in use).
    """

    def __init__(self, message: str, *, error: float = float("nan"), tol: float = float("nan"), advice=()):
        super().__init__(message)
        self.error = error
        self.tol = tol
        self.advice = list(advice)


class DivergenceError(ValueError):
    """Training diverged: the loss became non-finite or grew.

    Attributes
    ----------
    iteration : int
        0-based iteration at which the bad loss was seen.
    lr : float
        The learning rate that diverged.
    w, b :
        The last parameters whose loss was finite and acceptable.
    loss_history : ndarray
        Every loss computed, the bad one last.
    advice : list of dict
        Changes of options that avoid the divergence.
    """

    def __init__(
        self,
        message: str,
        *,
        iteration: int,
        lr: float,
        w: Any,
        b: float,
        loss_history: NDArray[np.float64],
        advice: Sequence[Suggestion] = (),
    ):
        super().__init__(message)
        self.iteration = iteration
        self.lr = lr
        self.w = w
        self.b = b
        self.loss_history = loss_history
        self.advice = list(advice)
