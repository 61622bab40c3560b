"""A scikit-learn estimator around :func:`fastgd.train`: :class:`GDRegressor`.

scikit-learn is an optional dependency (``pip install fastgd[sklearn]``);
``import fastgd`` does not import this module. Inputs are validated with
scikit-learn's own utilities before anything reaches numba, so the estimator
behaves like any other scikit-learn regressor (error messages, feature names,
``n_features_in_``, pandas input, pipelines and grid searches).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import training as _training
from .training import BACKENDS, METHODS, SOLVERS, DivergenceError, numba_threads

__all__ = ["GDRegressor"]


class GDRegressor(RegressorMixin, BaseEstimator):
    """Linear least squares fitted by full-batch gradient descent, with fastgd's kernels.

    Minimises the (sample-weighted) mean squared error
    ``sum_i s_i (y_i - x_i.w - b)^2 / sum_i s_i`` without regularisation, so
    at convergence it agrees with :class:`sklearn.linear_model.LinearRegression`.
    Every iteration uses all the data (no sampling), so runs are deterministic.

    Parameters
    ----------
    learning_rate : "auto" or float, default="auto"
        Step size. ``"auto"`` uses ``1 / L`` for the loss's smoothness
        constant ``L`` (power iteration on the data; exact with
        ``solver="gram"``), which never diverges. A float is used as given.
    max_iter : int, default=1000
        Most gradient-descent iterations (each one a full pass over the data,
        or an ``O(d^2)`` step with ``solver="gram"``).
    tol : float or None, default=1e-4
        Stopping tolerance, in units of the training R² (:meth:`score`). Every
        ``n_iter_no_change`` iterations the loss is compared with the best
        loss seen at earlier checks; a check *fails* when the loss has
        improved by less than ``tol * Var(y)`` (``Var(y)``, the weighted
        variance of the targets, is the loss of the best constant
        prediction, so this is a gain in R² below ``tol``). Training stops
        after two failing checks in a row (one check could land on one of
        Nesterov's momentum restarts, where the loss briefly rises). ``None``
        runs all ``max_iter`` iterations.
    n_iter_no_change : int, default=10
        Iterations between the checks of ``tol``. The compiled loop runs
        uninterrupted between checks.
    fit_intercept : bool, default=True
        Fit ``b``; if False, ``b = 0`` and ``center`` is ignored.
    method : {"nesterov", "gd"}, default="nesterov"
        Nesterov's accelerated gradient with adaptive restart (far fewer
        iterations on ill-conditioned data), or plain gradient descent.
    solver : {"data", "gram"}, default="data"
        ``"data"``: each iteration is a pass over the data. ``"gram"``: one
        pass computes sufficient statistics, then each iteration costs
        ``O(d^2)``; best when ``n >> d`` and ``d`` is at most a few thousand.
    center : bool, default=True
        Subtract column means on the fly (no copy of ``X``), which makes
        data with large feature means much better conditioned. Coefficients
        are always reported for the original features.
    warm_start : bool, default=False
        Start from the previous fit's ``coef_`` and ``intercept_`` (when the
        number of features is unchanged) instead of zeros.
    verbose : int, default=0
        Print the loss at every check of ``tol`` when positive.
    backend : {"numba", "numpy"}, default="numba"
        fastgd's fused parallel kernels, or its plain-numpy reference path
        (for debugging; much slower).
    n_threads : int or None, default=None
        numba threads used during :meth:`fit` only; the previous setting is
        restored afterwards. None keeps numba's current setting.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Learned weights.
    intercept_ : float
        Learned intercept (0.0 when ``fit_intercept=False``).
    n_iter_ : int
        Iterations run.
    loss_curve_ : ndarray of shape (n_iter_,)
        ``loss_curve_[k]`` is the (weighted) mean squared error at the start
        of iteration ``k``.
    learning_rate_ : float
        The step size used.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :meth:`fit`, when ``X`` has string
        column names (e.g. a pandas DataFrame).

    See Also
    --------
    fastgd.train : The function this estimator calls.
    sklearn.linear_model.SGDRegressor : Stochastic gradient descent, with regularisation.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.estimator import GDRegressor
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    >>> model = GDRegressor(tol=1e-8).fit(X, y)
    >>> np.round(model.coef_, 4).tolist(), round(model.intercept_, 4)
    ([1.0, -2.0, 0.5], 3.0)
    """

    def __init__(
        self,
        *,
        learning_rate: str | float = "auto",
        max_iter: int = 1000,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 10,
        fit_intercept: bool = True,
        method: str = "nesterov",
        solver: str = "data",
        center: bool = True,
        warm_start: bool = False,
        verbose: int = 0,
        backend: str = "numba",
        n_threads: int | None = None,
    ):
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.fit_intercept = fit_intercept
        self.method = method
        self.solver = solver
        self.center = center
        self.warm_start = warm_start
        self.verbose = verbose
        self.backend = backend
        self.n_threads = n_threads

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> GDRegressor:
        """Fit the linear model by gradient descent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. float32 stays float32 (no copy); other dtypes
            become float64.
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; an integer weight counts as that many
            copies of its row.

        Returns
        -------
        self : GDRegressor
            The fitted estimator.

        Raises
        ------
        fastgd.DivergenceError
            If the loss diverges (with ``learning_rate="auto"`` it does not in practice).

        Warns
        -----
        sklearn.exceptions.ConvergenceWarning
            If ``max_iter`` stopped training before ``tol`` was met.
        """
        self._check_parameters()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=True)
        # Same dtype for X and y: one compiled specialisation per dtype, as scikit-learn's linear models do.
        y = np.asarray(y, dtype=X.dtype)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
            if sample_weight[0] > 0 and np.all(sample_weight == sample_weight[0]):
                # Equal weights give the same weighted mean; the unweighted kernel is faster and gives
                # bit-identical results to sample_weight=None.
                sample_weight = None

        n_features = X.shape[1]
        warm = self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (n_features,)
        w0 = self.coef_ if warm else None
        b0 = float(self.intercept_) if warm and self.fit_intercept else 0.0
        stopping = _EarlyStopping(self.tol, _target_variance(y, sample_weight), self.n_iter_no_change, self.verbose)
        options = {
            "lr": self.learning_rate,
            "iterations": self.max_iter,
            "method": self.method,
            "solver": self.solver,
            "backend": self.backend,
            "w0": w0,
            "b0": b0,
            "sample_weight": sample_weight,
            "callback": None if self.tol is None else stopping,
            "callback_every": self.n_iter_no_change,
        }
        try:
            with numba_threads(self.n_threads), warnings.catch_warnings():
                # fastgd's own warning uses its fixed gradient criterion; the scikit-learn warning below
                # reports on ``tol`` instead, and one warning is enough.
                warnings.simplefilter("ignore", _training.ConvergenceWarning)
                result = _training.train(
                    X, y, center=self.center and self.fit_intercept, fit_intercept=self.fit_intercept, **options
                )
        except DivergenceError as error:
            raise DivergenceError(
                f"{error} GDRegressor's inputs may be badly scaled: standardise the features, e.g. "
                "make_pipeline(StandardScaler(), GDRegressor()), or use learning_rate='auto'.",
                iteration=error.iteration,
                lr=error.lr,
                w=error.w,
                b=error.b,
                loss_history=error.loss_history,
            ) from error

        self.coef_ = np.asarray(result.w, dtype=np.float64).reshape(n_features)
        self.intercept_ = float(result.b)
        self.n_iter_ = int(result.n_iter)
        self.loss_curve_ = result.loss_history
        self.learning_rate_ = float(result.lr)
        if self.tol is not None and result.stop_reason == "iterations":
            warnings.warn(
                f"GDRegressor reached max_iter={self.max_iter} before the loss stopped improving by "
                f"tol={self.tol:g} (in R² units) per {self.n_iter_no_change} iterations. Increase max_iter, "
                "use method='nesterov', or standardise the features (e.g. with StandardScaler).",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def predict(self, X: ArrayLike) -> NDArray[np.float64]:
        """Predict ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predictions, float64.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return X @ self.coef_ + self.intercept_

    def _check_parameters(self) -> None:
        """Validate hyper-parameters in fit (scikit-learn's convention: ``__init__`` only stores them)."""
        if not (isinstance(self.learning_rate, str) and self.learning_rate == "auto"):
            _check_real(self.learning_rate, "learning_rate", "'auto' or a positive finite float", positive=True)
        _check_integer(self.max_iter, "max_iter", minimum=1)
        if self.tol is not None:
            _check_real(self.tol, "tol", "None or a non-negative float", positive=False)
        _check_integer(self.n_iter_no_change, "n_iter_no_change", minimum=1)
        _check_integer(self.verbose, "verbose", minimum=0)
        for name in ("fit_intercept", "center", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"The '{name}' parameter of GDRegressor must be a bool; got {getattr(self, name)!r}.")
        for name, choices in (("method", METHODS), ("solver", SOLVERS), ("backend", BACKENDS)):
            if getattr(self, name) not in choices:
                raise ValueError(
                    f"The '{name}' parameter of GDRegressor must be one of {choices}; got {getattr(self, name)!r}."
                )
        if self.n_threads is not None:
            _check_integer(self.n_threads, "n_threads", minimum=1)


def _check_integer(value: object, name: str, minimum: int) -> None:
    is_bool = isinstance(value, (bool, np.bool_))
    if not isinstance(value, numbers.Integral) or (is_bool and name != "verbose"):
        raise TypeError(f"The '{name}' parameter of GDRegressor must be an int >= {minimum}; got {value!r}.")
    if value < minimum:
        raise ValueError(f"The '{name}' parameter of GDRegressor must be an int >= {minimum}; got {value!r}.")


def _check_real(value: object, name: str, expected: str, positive: bool) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"The '{name}' parameter of GDRegressor must be {expected}; got {value!r}.")
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"The '{name}' parameter of GDRegressor must be {expected}; got {value!r}.")


def _target_variance(y: NDArray[np.floating], sample_weight: NDArray[np.float64] | None) -> float:
    """Weighted variance of ``y``: the loss of the best constant prediction (mean of squares if ``y`` is constant)."""
    y = np.asarray(y, dtype=np.float64)
    weights = np.ones_like(y) if sample_weight is None else sample_weight
    total = weights.sum()
    if not total > 0:
        return 0.0  # fastgd.train rejects these weights with a clear message
    mean = weights @ y / total
    variance = float(weights @ (y - mean) ** 2 / total)
    return variance if variance > 0 else float(weights @ y**2 / total)


class _EarlyStopping:
    """The ``tol`` rule, as a :func:`fastgd.train` callback (returning False stops training).

    Called every ``window`` iterations with the loss of the latest one. A
    check fails when the loss is not below the best loss of the earlier
    checks by more than ``tol * scale``; two failures in a row stop. The
    final call after ``max_iter`` may follow a shorter window; it does not
    count, so it cannot declare convergence on too little evidence.
    """

    def __init__(self, tol: float | None, scale: float, window: int, verbose: int):
        self.tol = tol
        self.scale = scale
        self.window = window
        self.verbose = verbose
        self.best_loss = np.inf
        self.failed_checks = 0
        self.last_iteration = -1

    def __call__(self, iteration: int, loss: float, w, b: float) -> bool:
        full_window = iteration - self.last_iteration >= self.window
        self.last_iteration = iteration
        improvement = self.best_loss - loss
        self.best_loss = min(self.best_loss, loss)
        if not full_window:
            return True
        # Written so that a zero scale (y == 0) stops only when the loss stops improving at all.
        failed = not improvement > self.tol * self.scale
        self.failed_checks = self.failed_checks + 1 if failed else 0
        if self.verbose:
            gain = improvement / self.scale if self.scale > 0 else float("nan")
            print(f"-- Iteration {iteration + 1}, loss: {loss:.6g}, R² gain since the last check: {gain:.3g}")
        return self.failed_checks < 2
