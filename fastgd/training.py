"""The in-memory front end, :func:`train`: validate, set up, and hand over to the driver.

The setup (the statistics or moments pass, the preconditioner, the step
size, the error model) is :mod:`fastgd.setup`'s; the loop and every check of
its result are :mod:`fastgd.driver`'s, shared with :mod:`fastgd.dask`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import backends, gram, stepsize, validation
from ._config import STATISTICS_MAX_FEATURES
from .convergence import Moments
from .driver import Callback, Epochs, run_descent
from .setup import Plan, check_choice, learning_rate_option, make_plan, run_options
from .types import (
    BACKENDS,
    DEFAULT_TOL,
    METHODS,
    SOLVERS,
    ConvergenceWarning,
    DataPass,
    DivergenceError,
    GramData,
    SufficientStatistics,
    TrainResult,
    n_features_of,
)
from .validation import prepare_data

__all__ = [
    "BACKENDS",
    "DEFAULT_TOL",
    "METHODS",
    "SOLVERS",
    "ConvergenceWarning",
    "DivergenceError",
    "Epochs",
    "TrainResult",
    "check_choice",
    "numba_threads",
    "path",
    "prepare_data",
    "run_descent",
    "train",
    "train_statistics",
]


@contextlib.contextmanager
def numba_threads(n_threads: int | None) -> Iterator[None]:
    """Use ``n_threads`` numba threads inside the block, then restore the old count."""
    if n_threads is None:
        yield
        return
    n_threads = validation.check_count(n_threads, "n_threads")
    if not 1 <= n_threads <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(
            f"n_threads must be between 1 and {numba.config.NUMBA_NUM_THREADS} (numba's pool size), got {n_threads}"
        )
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def check_tol(tol: object) -> float | None:
    """``None`` or a non-negative number."""
    if tol is None:
        return None
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.integer, np.floating)):
        raise TypeError(f"tol must be None or a non-negative number, got {tol!r}")
    value = float(tol)
    if not value >= 0:
        raise ValueError(f"tol must be None or a non-negative number, got {tol!r}")
    return value


def train(
    X: ArrayLike,
    y: ArrayLike,
    *,
    lr: float | str = "auto",
    iterations: int,
    loss_threshold: float | None = None,
    tol: float | None = None,
    method: str = "gd",
    solver: str = "data",
    center: bool | None = None,
    scale: bool | None = None,
    fit_intercept: bool = True,
    alpha: float = 0.0,
    l1_ratio: float = 0.0,
    backend: str = "numba",
    w0: ArrayLike | None = None,
    b0: float = 0.0,
    sample_weight: ArrayLike | None = None,
    record_params: bool = False,
    callback: Callback | None = None,
    callback_every: int = 100,
    n_threads: int | None = None,
    progress: bool | None = None,
) -> TrainResult:
    """Fit ``y ≈ X @ w + b`` by full-batch gradient descent on the mean squared error.

    Parameters
    ----------
    X : array_like, shape (n,) or (n, d)
        Features. float32 and float64 are used as they are (no copy).
    y : array_like, shape (n,)
        Targets.
    lr : float or "auto"
        Step size. ``"auto"`` uses ``1 / L`` for the loss's smoothness
        constant ``L`` (exact from the sufficient statistics up to 2,048
        features, else by power iteration), halved automatically should the
        loss ever rise. Not used by ``method="cg"``.
    iterations : int
        Most iterations to run.
    loss_threshold : float, optional
        Stop as soon as the loss is at most this value.
    tol : float, optional
        Stop once the largest error of a standardised coefficient,
        ``|w_j - w*_j| * std(x_j) / std(y)``, is at most ``tol`` (see
        :attr:`TrainResult.coef_error`); every run that ends above it
        warns. ``None``: ``1e-6``, except that with an explicit ``lr`` the run
        then goes on to its iteration cap or loss threshold, as the plain
        update rule does, and is only checked at the end.
    method : {"gd", "nesterov", "cg", "auto"}
        Plain gradient descent; Nesterov's accelerated gradient with adaptive
        restart; or conjugate gradients with exact step lengths (the
        optimum in about ``d`` iterations, one pass over the data each).
        ``"auto"``: ``"cg"``, or ``"nesterov"`` with an L1 penalty.
    solver : {"data", "gram", "auto"}
        ``"data"``: each iteration passes over the data. ``"gram"``: one
        pass computes sufficient statistics, after which each iteration costs
        ``O(d^2)`` and follows the same trajectory (:mod:`fastgd.gram`).
        ``"auto"``: ``"gram"`` up to 2,048 features.
    center, scale : bool, optional
        Precondition inside the kernels, with no copy of ``X``: subtract each
        feature's mean (``center``) and divide by its spread (``scale``), as
        ``StandardScaler`` would; results are reported for the original
        features. ``None`` (the default): on when fastgd chooses the step
        (``lr="auto"`` or ``method="cg"``), off with an explicit ``lr``. With
        ``center`` and ``lr="auto"`` the intercept takes its own exact step.
    fit_intercept : bool
        ``False`` fits ``y ≈ X @ w`` with ``b`` held at 0 (``b0`` must be 0;
        ``center`` is not allowed, since it would reintroduce an offset).
    alpha, l1_ratio : float
        The elastic net penalty, as scikit-learn's ``ElasticNet`` has it:
        ``alpha * l1_ratio * |w|_1 + alpha * (1 - l1_ratio) / 2 * |w|^2``
        added to half the mean squared error (fastgd minimises twice that
        objective, so the losses it reports are ``mean((y_hat - y)^2)`` plus
        twice the penalty). The intercept is never penalised. ``alpha=0``
        (the default) is plain least squares; ``l1_ratio=0`` is ridge
        (``Ridge(alpha=alpha * n)``, ``n`` the weights' sum when weighted), ``1`` lasso. An L1 part takes a
        soft-thresholding step after each gradient step (proximal
        gradient; FISTA with restart for ``method="nesterov"``) and is not
        available with ``method="cg"``.
    backend : {"numba", "numpy"}
        ``"numba"`` runs the fused parallel kernels and a compiled loop;
        ``"numpy"`` runs the plain-numpy reference path (for debugging).
    w0, b0 : optional
        Starting parameters (default zeros). Never modified.
    sample_weight : array_like, shape (n,), optional
        Non-negative weights; the loss becomes a weighted mean.
    record_params : bool
        Keep ``w`` and ``b`` of every iteration (costs ``iterations * (d+1)``
        floats).
    callback : callable, optional
        ``callback(iteration, loss, w, b)``, called every ``callback_every``
        iterations and after the last; returning ``False`` stops training.
    callback_every : int
        Iterations between callbacks. The compiled loop runs uninterrupted
        between them, so large values cost nothing.
    n_threads : int, optional
        numba threads for this call only (default: numba's current setting).
    progress : bool, optional
        Show a progress bar with the current loss on stderr (needs tqdm:
        ``pip install fastgd[progress]``). ``None`` (the default) shows it only
        for long runs (about a second of passes or more) when stderr is a
        terminal; ``True`` always; ``False`` never.

    Returns
    -------
    TrainResult

    Raises
    ------
    DivergenceError
        If a loss becomes non-finite, rises under plain gradient descent, or
        the returned parameters' loss is above the starting one. The message
        suggests options that avoid it.

    Warns
    -----
    ConvergenceWarning
        If the run ends (for any reason) with ``coef_error`` above ``tol``;
        the message gives the estimate and options that converge.

    Examples
    --------
    >>> import numpy as np, fastgd
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> result = fastgd.train(x, 3.0 * x + 2.0, iterations=100)
    >>> round(result.w, 6), round(result.b, 6), result.converged
    (3.0, 2.0, True)
    """
    backends.get(backend)  # checks the name before any work
    lr_value = learning_rate_option(lr)
    iterations = validation.check_iterations(iterations)
    threshold = validation.check_loss_threshold(loss_threshold)
    tol_value = check_tol(tol)
    callback_every = max(1, validation.check_count(callback_every, "callback_every"))
    # Without weights every row enters the setup pass, so a NaN or an infinity
    # in X or y makes the statistics non-finite: _prepare_in_memory searches
    # for it (one more read of the data) only then, or before a pass that
    # would not show it. Zero weights could hide one: weighted data is checked here.
    data = prepare_data(X, y, sample_weight, check_values=sample_weight is not None)
    one_dimensional = data.X.ndim == 1
    n_features = 1 if one_dimensional else data.X.shape[1]
    options, w_start, b_start = run_options(
        lr=lr_value, method=method, solver=solver, center=center, scale=scale, fit_intercept=fit_intercept,
        alpha=alpha, l1_ratio=l1_ratio, n_features=n_features, w0=w0, b0=b0, one_dimensional=one_dimensional,
    )  # fmt: skip

    bar = _progress_bar(progress, iterations, data.X.size if options.solver == "data" else 0, callback)
    if bar is not None:
        if callback is None:
            callback_every = bar.every
        callback = bar
    with numba_threads(n_threads), contextlib.nullcontext() if bar is None else bar:
        started = time.perf_counter()
        plan, epochs = _prepare_in_memory(data, options, backend)
        return run_descent(
            epochs,
            plan,
            w_start=w_start,
            b_start=b_start,
            iterations=iterations,
            loss_threshold=threshold,
            tol=tol_value,
            record_params=record_params,
            callback=callback,
            callback_every=callback_every,
            one_dimensional=one_dimensional,
            started=started,
        )


# progress=None shows a bar for runs of at least this many element-passes
# (iterations x rows x features), about a second of epochs on one core.
AUTO_PROGRESS_ELEMENT_PASSES = 1 << 31


def _progress_bar(progress: bool | None, iterations: int, n_elements: int, callback: Callback | None):
    """A :class:`fastgd.progress.ProgressBar` to use as the callback, or None."""
    if progress is False or iterations == 0:
        return None
    from .progress import ProgressBar, choose_callback_every

    if progress is None and iterations * n_elements < AUTO_PROGRESS_ELEMENT_PASSES:
        return None
    bar = ProgressBar(iterations, enabled=progress, callback=callback)
    if not bar.enabled:
        return None
    bar.every = choose_callback_every(iterations, n_elements or None)
    return bar


def _prepare_in_memory(data: DataPass, options, backend: str) -> tuple[Plan, Epochs]:
    """The setup pass (sufficient statistics, or moments for wide data), the plan and the epoch inputs."""
    n_features = n_features_of(data.X)
    runner = backends.get(backend)
    statistics = None
    if options.solver == "gram" or n_features <= STATISTICS_MAX_FEATURES:
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite statistics are looked into below
            statistics = runner.statistics(data)
        if not statistics.is_finite():
            validation.check_data_values(data)  # names the NaN or infinity; else the squares overflowed
        moments = Moments.from_statistics(statistics)
    else:
        if data.sample_weight is None:
            validation.check_data_values(data)  # prepare_data left it to this pass (see train)
        moments = gram.column_moments(data)
    power_passes = [0]

    def estimate_lipschitz(shift, scale, intercept):
        hessian_data = _parametrised(data, shift, scale)._replace(target_factor=0.0)
        lipschitz, passes = stepsize.power_iteration_lipschitz(
            hessian_data, runner.evaluate, n_features + 1, intercept=intercept
        )
        power_passes[0] += passes
        return lipschitz

    plan = make_plan(options, moments, statistics, estimate_lipschitz)
    data_pass = _parametrised(data, plan.shift, plan.scale)
    if options.solver == "gram":
        # Their losses are checked on the chosen backend.
        epochs = _statistics_epochs(statistics, plan, backend, check=data_pass, check_backend=runner)
    else:
        epochs = Epochs(data_pass, data_pass._replace(target_factor=0.0), runner, 1, backend, "data")
    epochs.setup_passes = 1 + power_passes[0]
    return plan, epochs


def _statistics_epochs(statistics, plan: Plan, label: str, check=None, check_backend=None) -> Epochs:
    """The epochs of the gram solver: ``O(d^2)`` each, so always compiled, whatever the backend."""
    gram_data = statistics.gram_data(plan.shift, plan.scale)
    return Epochs(
        gram_data, _hessian_statistics(gram_data), backends.get("numba"), 0, label, "gram",
        check=check, check_backend=check_backend,
    )  # fmt: skip


def train_statistics(
    statistics: SufficientStatistics,
    *,
    iterations: int,
    tol: float | None = None,
    method: str = "auto",
    lr: float | str = "auto",
    center: bool | None = None,
    scale: bool | None = None,
    fit_intercept: bool = True,
    alpha: float = 0.0,
    l1_ratio: float = 0.0,
    w0: ArrayLike | None = None,
    b0: float = 0.0,
) -> TrainResult:
    """Fit from sufficient statistics alone (:func:`fastgd.gram.statistics`, merged at will): no data needed.

    Every iteration costs ``O(d^2)``; the answer is that of :func:`train`
    with ``solver="gram"`` on the rows the statistics were taken of, so
    statistics of row batches merged with :meth:`SufficientStatistics.merge`
    fit exactly what all the rows at once would (``GDRegressor.partial_fit``
    and :func:`path` work this way). The options are :func:`train`'s; losses
    come from the statistics (accurate to about 1e-15 of ``mean(y^2)``), as
    no data is at hand to check them. ``passes`` counts none.

    Examples
    --------
    >>> import numpy as np, fastgd
    >>> from fastgd.gram import statistics
    >>> X = np.random.default_rng(0).standard_normal((100, 2)); y = X @ [1.0, -2.0] + 3.0
    >>> both = statistics(X[:60], y[:60]).merge(statistics(X[60:], y[60:]))
    >>> result = train_statistics(both, iterations=100)
    >>> np.round(result.w, 6).tolist(), round(result.b, 6)
    ([1.0, -2.0], 3.0)
    """
    if not isinstance(statistics, SufficientStatistics):
        raise TypeError(f"statistics must be a fastgd.SufficientStatistics, got {type(statistics).__name__}")
    if not statistics.total_weight > 0:
        raise ValueError("the statistics hold no rows of positive weight: merge in some data first")
    lr_value = learning_rate_option(lr)
    iterations = validation.check_iterations(iterations)
    tol_value = check_tol(tol)
    options, w_start, b_start = run_options(
        lr=lr_value, method=method, solver="gram", center=center, scale=scale, fit_intercept=fit_intercept,
        alpha=alpha, l1_ratio=l1_ratio, n_features=statistics.n_features, w0=w0, b0=b0, one_dimensional=False,
    )  # fmt: skip
    started = time.perf_counter()
    if not statistics.is_finite():
        raise ValueError("the statistics are not finite: the data held a NaN or an infinity, or squares beyond float64")
    plan = make_plan(options, Moments.from_statistics(statistics), statistics)
    epochs = _statistics_epochs(statistics, plan, "numba")
    epochs.setup_passes = 0
    return run_descent(
        epochs, plan, w_start=w_start, b_start=b_start, iterations=iterations, loss_threshold=None, tol=tol_value,
        record_params=False, callback=None, callback_every=iterations, one_dimensional=False, started=started,
    )  # fmt: skip


def path(
    X: ArrayLike,
    y: ArrayLike,
    *,
    alphas: ArrayLike,
    l1_ratio: float = 1.0,
    sample_weight: ArrayLike | None = None,
    iterations: int = 100_000,
    tol: float | None = None,
    fit_intercept: bool = True,
    method: str = "auto",
) -> tuple[NDArray[np.float64], NDArray[np.float64], list[TrainResult]]:
    """The elastic net's regularisation path: one pass over the data for every ``alpha``.

    The sufficient statistics are taken once; each ``alpha``, largest
    first, is then solved from them (:func:`train_statistics`), starting
    from the previous solution (a warm start: neighbouring alphas have
    nearby solutions, so each costs few ``O(d^2)`` iterations).

    Returns
    -------
    coefs : ndarray, shape (len(alphas), d)
    intercepts : ndarray, shape (len(alphas),)
    results : list of TrainResult
        In the order of ``alphas`` as given; each warns on its own if it
        ends above ``tol``.

    Examples
    --------
    >>> import numpy as np, fastgd
    >>> X = np.random.default_rng(0).standard_normal((200, 3)); y = X @ [2.0, 0.0, -1.0]
    >>> coefs, intercepts, _ = fastgd.path(X, y, alphas=[10.0, 0.1])
    >>> bool((coefs[0] == 0).all()), int((coefs[1] == 0).sum())   # alpha_max is about 2
    (True, 1)
    """
    alpha_values = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if alpha_values.size == 0:
        raise ValueError("alphas must hold at least one value")
    data = prepare_data(X, y, sample_weight, check_values=True)
    if data.X.ndim == 1:
        data = data._replace(X=data.X.reshape(-1, 1))
    statistics = gram.statistics(data)
    order = np.argsort(-alpha_values, kind="stable")
    results: list[TrainResult | None] = [None] * alpha_values.size
    w, b = None, 0.0
    for index in order:
        result = train_statistics(
            statistics, iterations=iterations, tol=tol, method=method, fit_intercept=fit_intercept,
            alpha=float(alpha_values[index]), l1_ratio=l1_ratio, w0=w, b0=b,
        )  # fmt: skip
        results[index] = result
        w, b = result.w, result.b if fit_intercept else 0.0
    coefs = np.array([result.w for result in results])
    intercepts = np.array([result.b for result in results])
    return coefs, intercepts, results


def _parametrised(data: DataPass, shift: NDArray[np.float64], scale: NDArray[np.float64]) -> DataPass:
    """``data`` with the loop's centring and scaling (left empty when they change nothing)."""
    used_shift = shift if np.any(shift != 0.0) else np.zeros(0)
    used_scale = scale if np.any(scale != 1.0) else np.zeros(0)
    return data._replace(shift=used_shift, scale=used_scale)


def _hessian_statistics(data: GramData) -> GramData:
    """The statistics epoch input whose "loss" at ``p`` is ``p' H p`` and "gradient" ``2 H p``."""
    return data._replace(cov_xy=np.zeros_like(data.cov_xy), var_y=0.0, mean_y=0.0)
