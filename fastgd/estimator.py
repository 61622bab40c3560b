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
from .errors import advice_syntax
from .training import BACKENDS, METHODS, SOLVERS, numba_threads

__all__ = ["GDRegressor"]


# fit keeps its sufficient statistics ((d + 1)^2 floats) for a later partial_fit up to this many features.
FIT_STATISTICS_MAX_FEATURES = 256


class GDRegressor(RegressorMixin, BaseEstimator):
    """Linear least squares fitted by gradient methods, with fastgd's kernels.

    Minimises the (sample-weighted) mean squared error
    ``sum_i s_i (y_i - x_i.w - b)^2 / sum_i s_i``, plus the elastic net
    penalty when ``alpha > 0``, and with its defaults reaches
    :class:`sklearn.linear_model.LinearRegression`'s coefficients (or, with
    a penalty, those of ``Ridge``, ``Lasso`` and ``ElasticNet``) to ``tol``
    in standardised units on badly scaled and collinear data, or warns.
    :meth:`partial_fit` learns from batches of rows exactly. Every iteration uses all the data (no
    sampling), so fits are deterministic.

    Parameters
    ----------
    learning_rate : "auto" or float, default="auto"
        Step size of ``method="gd"`` and ``"nesterov"``. ``"auto"`` uses
        ``1 / L`` for the loss's smoothness constant ``L`` (exact from the
        sufficient statistics), halved should the loss ever rise. A float is
        used as given (in standardised units when ``scale``). Conjugate
        gradients take no learning rate.
    max_iter : int, default=1000
        Most iterations (each one a pass over the data with
        ``solver="data"``, an ``O(d^2)`` step with ``solver="gram"``).
    tol : float or None, default=1e-8
        Stop once the largest error of a standardised coefficient,
        ``|w_j - w*_j| * std(x_j) / std(y)``, is at most ``tol``
        (``coef_error_``; exact up to 2,048 features, estimated above). A fit
        that ends above it warns. The default is tighter than
        :func:`fastgd.train`'s 1e-6 because conjugate gradients make the last
        digits nearly free, and two fits of the same data then agree to
        about 1e-8 (scikit-learn's estimator checks compare them at 1e-7).
        ``None``: :func:`fastgd.train`'s rule (``1e-6``; with an explicit
        ``learning_rate``, all ``max_iter`` iterations, checked at the end).
    fit_intercept : bool, default=True
        Fit ``b``; if False, ``b = 0`` and ``center`` is ignored.
    alpha : float, default=0.0
        Strength of the elastic net penalty, as in scikit-learn's
        ``ElasticNet``: the objective is ``mse / 2 + alpha * l1_ratio * |w|_1
        + alpha * (1 - l1_ratio) / 2 * |w|^2`` (the intercept is not
        penalised). 0 is ordinary least squares.
    l1_ratio : float, default=0.0
        0 is ridge (``Ridge(alpha=alpha * sum(sample_weight))``, ``n_samples`` unweighted), 1 the lasso, in
        between the elastic net.
    method : {"auto", "cg", "nesterov", "gd"}, default="auto"
        Conjugate gradients with exact step lengths (the optimum in about
        ``d`` iterations), Nesterov's accelerated gradient with adaptive
        restart (FISTA with an L1 penalty), or plain (proximal) gradient
        descent. ``"auto"``: ``"cg"``, or ``"nesterov"`` when ``l1_ratio > 0``
        or ``learning_rate`` is given.
    solver : {"auto", "data", "gram"}, default="auto"
        ``"gram"``: one pass computes sufficient statistics, then each
        iteration costs ``O(d^2)``. ``"data"``: each iteration is a pass over
        the data. ``"auto"``: ``"gram"`` up to 2,048 features.
    center, scale : bool, default=True
        Standardise the features inside the kernels (no copy of ``X``):
        subtract their means, divide by their spreads. Coefficients are
        always reported for the original features.
    warm_start : bool, default=False
        Start from the previous fit's ``coef_`` and ``intercept_`` (when the
        number of features is unchanged) instead of zeros.
    verbose : int, default=0
        Print the loss every 10 iterations when positive.
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
        of iteration ``k`` (plus twice the penalty when ``alpha > 0``).
    learning_rate_ : float
        The step size used (NaN for conjugate gradients).
    converged_ : bool
        Whether ``coef_error_ <= tol``.
    coef_error_ : float
        The largest error of a standardised coefficient at the end of the fit.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :meth:`fit`, when ``X`` has string
        column names (e.g. a pandas DataFrame).

    See Also
    --------
    fastgd.train : The function this estimator calls.
    sklearn.linear_model.LinearRegression : The exact solution by a direct solver.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.estimator import GDRegressor
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    >>> model = GDRegressor().fit(X, y)
    >>> np.round(model.coef_, 6).tolist(), round(model.intercept_, 6), model.converged_
    ([1.0, -2.0, 0.5], 3.0, True)
    """

    def __init__(
        self,
        *,
        learning_rate: str | float = "auto",
        max_iter: int = 1000,
        tol: float | None = 1e-8,
        fit_intercept: bool = True,
        alpha: float = 0.0,
        l1_ratio: float = 0.0,
        method: str = "auto",
        solver: str = "auto",
        center: bool = True,
        scale: bool = True,
        warm_start: bool = False,
        verbose: int = 0,
        backend: str = "numba",
        n_threads: int | None = None,
    ):
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.method = method
        self.solver = solver
        self.center = center
        self.scale = scale
        self.warm_start = warm_start
        self.verbose = verbose
        self.backend = backend
        self.n_threads = n_threads

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> GDRegressor:
        """Fit the linear model.

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
            If the loss diverges (only possible with a fixed ``learning_rate``).

        Warns
        -----
        sklearn.exceptions.ConvergenceWarning
            If the fit ended with ``coef_error_`` above ``tol``; the message
            says by how much and which parameters converge.
        """
        self._check_parameters()
        # fastgd.train finds NaN and infinity itself (naming row and column), at no extra read of the data.
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=True, ensure_all_finite=False)
        # Same dtype for X and y: one compiled specialisation per dtype, as scikit-learn's linear models do.
        y = np.asarray(y, dtype=X.dtype)
        equal_weight = 1.0
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
            if sample_weight[0] > 0 and np.all(sample_weight == sample_weight[0]):
                # Equal weights give the same weighted mean; the unweighted kernel is faster and gives
                # bit-identical results to sample_weight=None.
                equal_weight, sample_weight = float(sample_weight[0]), None

        n_features = X.shape[1]
        warm = self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (n_features,)
        options = {
            **self._shared_options(warm),
            "solver": self.solver,
            "backend": self.backend,
            "sample_weight": sample_weight,
        }
        if self.verbose:
            options.update(callback=_print_progress, callback_every=10)
        result = self._run(_training.train, X, y, **options)
        self._store(result, n_features)
        # A later partial_fit merges its rows with these (the statistics exist up to 2,048 features).
        kept = result.statistics is not None and n_features <= FIT_STATISTICS_MAX_FEATURES
        self._statistics = _reweighted(result.statistics, equal_weight) if kept else None
        return self

    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> GDRegressor:
        """Learn from one more batch of rows, exactly: the result is the fit on every row seen so far.

        Each batch's sufficient statistics (means and centred cross
        products, ``(d + 1)^2`` floats) are merged exactly into those of the
        earlier batches (:meth:`fastgd.SufficientStatistics.merge`), and the
        model is re-solved from them, starting at the previous coefficients.
        So after any sequence of batches (the rows of an earlier :meth:`fit`
        among them) ``coef_`` equals :meth:`fit` on all their rows at once (to ``tol``, and to rounding of about 1e-15
        relative in the statistics), unlike
        :meth:`sklearn.linear_model.SGDRegressor.partial_fit`, which takes
        one stochastic step per row. Memory stays ``O(d^2)``; each call costs
        one pass over its batch plus ``O(d^2)`` per iteration. A batch
        without rows changes nothing. :meth:`fit` starts afresh; it keeps its
        statistics for a later ``partial_fit`` up to 256 features (above, a
        fitted model would carry megabytes of them), and beyond that a
        ``partial_fit`` after ``fit`` starts from its own batches and warns.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of rows (the same features every call).
        y : array-like of shape (n_samples,)
            Their targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of these rows.

        Returns
        -------
        self : GDRegressor
        """
        from .gram import reference_statistics, statistics

        self._check_parameters()
        first = getattr(self, "_statistics", None) is None or not hasattr(self, "coef_")
        if first and hasattr(self, "coef_"):
            warnings.warn(
                f"GDRegressor.partial_fit after fit on {self.coef_.shape[0]} features (more than "
                f"{FIT_STATISTICS_MAX_FEATURES}, so fit kept no statistics): the model restarts from this batch; "
                "pass the fit's rows to partial_fit too for a model of every row",
                UserWarning,
                stacklevel=2,
            )
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], y_numeric=True, ensure_min_samples=0, reset=first
        )
        if X.shape[0] == 0:
            if first:
                raise ValueError(
                    "GDRegressor.partial_fit got a batch without rows before any with rows: it has nothing to fit yet"
                )
            return self
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        # Statistics are taken in float64 whatever X's dtype, so batches of either dtype merge alike.
        if X.shape[0] == 1:
            batch = reference_statistics(X, y, sample_weight)
        else:
            batch = statistics(
                np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64), sample_weight, backend=self.backend
            )
        merged = batch if first else self._statistics.merge(batch)
        if not merged.total_weight > 0:
            raise ValueError("GDRegressor.partial_fit: every row seen so far has weight 0, so there is nothing to fit")
        n_features = X.shape[1]
        warm = not first
        result = self._run(_training.train_statistics, merged, **self._shared_options(warm))
        self._statistics = merged
        self._store(result, n_features)
        return self

    def _shared_options(self, warm: bool) -> dict:
        """The options :meth:`fit` and :meth:`partial_fit` pass alike (``warm``: start from the current model)."""
        return {
            "lr": self.learning_rate,
            "iterations": self.max_iter,
            "tol": self.tol,
            "method": self.method,
            "center": self.center and self.fit_intercept,
            "scale": self.scale,
            "fit_intercept": self.fit_intercept,
            "alpha": self.alpha,
            "l1_ratio": self.l1_ratio,
            "w0": self.coef_ if warm else None,
            "b0": float(self.intercept_) if warm and self.fit_intercept else 0.0,
        }

    def _run(self, function, *args, **options):
        """Call a fastgd front end with the estimator's threads and wording, warnings in scikit-learn's category."""
        with numba_threads(self.n_threads), advice_syntax("estimator"), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", _training.ConvergenceWarning)
            result = function(*args, **options)
        for warning in caught:
            if issubclass(warning.category, _training.ConvergenceWarning):
                # scikit-learn's category, so model selection tools see it; the message is already in its syntax.
                warnings.warn(f"GDRegressor: {warning.message}", ConvergenceWarning, stacklevel=3)
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        return result

    def _store(self, result, n_features: int) -> None:
        """The fitted attributes from a :class:`fastgd.TrainResult`."""
        self.coef_ = np.asarray(result.w, dtype=np.float64).reshape(n_features)
        self.intercept_ = float(result.b)
        self.n_iter_ = int(result.n_iter)
        self.loss_curve_ = result.loss_history
        self.learning_rate_ = float(result.lr)
        self.converged_ = bool(result.converged)
        self.coef_error_ = float(result.coef_error)

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
        _check_integer(self.verbose, "verbose", minimum=0)
        for name in ("fit_intercept", "center", "scale", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"The '{name}' parameter of GDRegressor must be a bool; got {getattr(self, name)!r}.")
        for name, choices in (("method", ("auto", *METHODS)), ("solver", SOLVERS), ("backend", BACKENDS)):
            if getattr(self, name) not in choices:
                raise ValueError(
                    f"The '{name}' parameter of GDRegressor must be one of {choices}; got {getattr(self, name)!r}."
                )
        if self.method == "cg" and self.learning_rate != "auto":
            raise ValueError(
                "The 'learning_rate' parameter of GDRegressor is not used by method='cg' (it takes exact step "
                "lengths); leave learning_rate='auto', or use method='nesterov' or 'gd' with a fixed rate."
            )
        if self.n_threads is not None:
            _check_integer(self.n_threads, "n_threads", minimum=1)
        _check_real(self.alpha, "alpha", "a non-negative finite float", positive=False)
        _check_real(self.l1_ratio, "l1_ratio", "a float from 0 to 1", positive=False)
        if self.l1_ratio > 1:
            raise ValueError(
                f"The 'l1_ratio' parameter of GDRegressor must be a float from 0 to 1; got {self.l1_ratio!r}."
            )
        if self.method == "cg" and self.alpha > 0 and self.l1_ratio > 0:
            raise ValueError(
                "The 'method' parameter of GDRegressor cannot be 'cg' with an L1 penalty (alpha > 0 and l1_ratio > 0): "
                "conjugate gradients need a smooth objective; use method='auto' or 'nesterov' (FISTA)."
            )


def _reweighted(statistics, weight: float):
    """``statistics`` of rows that all had weight ``weight`` (taken without weights)."""
    if weight == 1.0:
        return statistics
    return type(statistics)(statistics.total_weight * weight, statistics.mean, statistics.scatter * weight)


def _print_progress(iteration: int, loss: float, w, b: float) -> None:
    print(f"-- Iteration {iteration + 1}, loss: {loss:.6g}")


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
