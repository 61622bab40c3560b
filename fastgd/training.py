"""The training front door: validate, set up, run the shared loop, check the result.

:func:`train` is the in-memory front end; :func:`run_descent` drives the one
loop for every front end and checks what it returns: every run ends with the
loss of the returned parameters checked (non-finite or grown is a
:class:`DivergenceError`) and their distance to the least-squares optimum
estimated (above the tolerance is a :class:`ConvergenceWarning` with advice).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import gram, stepsize, validation
from ._config import STATISTICS_MAX_FEATURES
from .advice import divergence_advice, not_converged_advice, rounding_floor
from .convergence import Moments, lanczos_error
from .errors import ConvergenceWarning, DivergenceError, current_syntax, format_advice, format_suggestion
from .loop import (
    CONVERGED,
    DIVERGED,
    REACHED_THRESHOLD,
    DataPass,
    GramData,
    LoopSettings,
    descent_loop,
    descent_loop_compiled,
    evaluate,
    evaluate_compiled,
    new_state,
    prepare_data,
    stepped_gradient_norm,
)
from .setup import METHODS, SOLVERS, Plan, check_choice, make_plan, resolve_options

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
    "prepare_data",
    "run_descent",
    "train",
]

BACKENDS = ("numba", "numpy")

# The default convergence tolerance: the largest error of a standardised
# coefficient, |w_j - w*_j| * std(x_j) / std(y), allowed at the end of a run.
DEFAULT_TOL = 1e-6

# A run whose loss climbs past this multiple of its first loss is diverging.
DIVERGENCE_FACTOR = 1e4

# The returned parameters' loss may exceed the first loss by this fraction
# (plus the rounding floor) before the run counts as having diverged.
GROWTH_TOLERANCE = 1e-9

# A loss from the sufficient statistics is accurate to about 1e-15 of
# mean(y^2); below this fraction of it fastgd re-evaluates it on the data.
STATISTICS_LOSS_TRUST = 1e-7

# lr="auto" halves its step at most this many times when the loss rises.
MAX_STEP_HALVINGS = 40

# A convergence claim that the final check rejects this many times in a row
# without progress ends the run: rounding leaves nothing to gain.
MAX_REJECTIONS = 3

Callback = Callable[[int, float, "float | NDArray[np.float64]", float], "bool | None"]


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` learned and how it got there.

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
        Whether ``coef_error <= tol``.
    coef_error : float
        The largest error of a coefficient in standardised units,
        ``|w_j - w*_j| * std(x_j) / std(y)`` (the intercept's: that of the
        prediction at the feature means), to the least-squares optimum.
        Exact with up to 2,048 features; estimated above.
    tol : float
        The tolerance ``coef_error`` was tested against.
    center, scale : bool
        Whether the features were centred and scaled inside the loop.
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


@contextlib.contextmanager
def numba_threads(n_threads: int | None) -> Iterator[None]:
    """Use ``n_threads`` numba threads inside the block, then restore the old count."""
    if n_threads is None:
        yield
        return
    n_threads = validation.check_iterations(n_threads, "n_threads")
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


def _check_backend(backend: str) -> str:
    return check_choice(backend, "backend", BACKENDS)


def _split(params: NDArray[np.float64], one_dimensional: bool) -> tuple[float | NDArray[np.float64], float]:
    w = float(params[0]) if one_dimensional else params[:-1].copy()
    return w, float(params[-1])


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


@dataclass
class Epochs:
    """How the loop reads the data: the epoch inputs for the loss and for Hessian-vector products.

    ``data`` and ``hessian`` are what :func:`fastgd.loop.epoch` accepts (a
    :class:`~fastgd.loop.DataPass`, a :class:`~fastgd.loop.GramData`, or,
    with ``compiled=False``, an object with an ``epoch(params, grad)``
    method). ``data_passes`` is how many passes over the data one epoch
    costs (0 for statistics). ``check`` is a data-pass input for the same
    parametrisation, used to verify losses that come from statistics.
    """

    data: Any
    hessian: Any
    compiled: bool
    data_passes: int
    check: Any = None
    check_compiled: bool = True
    backend: str = "numba"
    solver: str = "data"
    setup_passes: int = 1

    def evaluate(self, params: NDArray[np.float64], grad: NDArray[np.float64]) -> float:
        return float((evaluate_compiled if self.compiled else evaluate)(self.data, params, grad))

    def evaluate_check(self, params: NDArray[np.float64]) -> float:
        return float((evaluate_compiled if self.check_compiled else evaluate)(self.check, params, np.empty_like(params)))

    def hessian_vector(self, vector: NDArray[np.float64]) -> NDArray[np.float64]:
        """Half the loss's Hessian times ``vector`` (one epoch with zero targets)."""
        product = np.empty_like(vector)
        (evaluate_compiled if self.compiled else evaluate)(self.hessian, vector, product)
        return 0.5 * product


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
    method : {"gd", "nesterov", "cg"}
        Plain gradient descent; Nesterov's accelerated gradient with adaptive
        restart; or conjugate gradients with exact step lengths (the
        optimum in about ``d`` iterations, one pass over the data each).
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
    backend = _check_backend(backend)
    automatic_lr = isinstance(lr, str) and lr == "auto"
    lr_value = None if automatic_lr else validation.check_learning_rate(lr)
    iterations = validation.check_iterations(iterations)
    threshold = validation.check_loss_threshold(loss_threshold)
    tol_value = check_tol(tol)
    callback_every = max(1, validation.check_iterations(callback_every, "callback_every"))
    data = prepare_data(X, y, sample_weight)
    one_dimensional = data.X.ndim == 1
    n_features = 1 if one_dimensional else data.X.shape[1]
    options = resolve_options(
        method=method, solver=solver, center=center, scale=scale, fit_intercept=fit_intercept, lr=lr_value,
        n_features=n_features,
    )  # fmt: skip
    w_start, b_start = validation.initial_parameters(w0, b0, n_features, one_dimensional)
    if not fit_intercept and b_start != 0.0:
        raise ValueError("fit_intercept=False holds b at 0: pass neither center=True nor a non-zero b0")

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
    n_features = 1 if data.X.ndim == 1 else data.X.shape[1]
    statistics = None
    if options.solver == "gram" or n_features <= STATISTICS_MAX_FEATURES:
        statistics = gram.statistics(data, backend=backend)
        moments = Moments.from_statistics(statistics)
    else:
        moments = gram.column_moments(data)
    compiled = backend == "numba"
    power_passes = [0]

    def estimate_lipschitz(shift, scale, intercept):
        lipschitz, passes = stepsize.power_iteration_lipschitz(
            _parametrised(data, shift, scale), backend, intercept=intercept
        )
        power_passes[0] += passes
        return lipschitz

    plan = make_plan(options, moments, statistics, estimate_lipschitz)
    data_pass = _parametrised(data, plan.shift, plan.scale)
    if options.solver == "gram":
        gram_data = statistics.gram_data(plan.shift, plan.scale)
        epochs = Epochs(
            gram_data, _hessian_statistics(gram_data), True, 0, check=data_pass, check_compiled=compiled,
            backend=backend, solver="gram",
        )  # fmt: skip
    else:
        epochs = Epochs(data_pass, data_pass._replace(y=None), compiled, 1, backend=backend, solver="data")
    epochs.setup_passes = 1 + power_passes[0]
    return plan, epochs


def _parametrised(data: DataPass, shift: NDArray[np.float64], scale: NDArray[np.float64]) -> DataPass:
    """``data`` with the loop's centring and scaling (left empty when they change nothing)."""
    center = shift if np.any(shift != 0.0) else np.zeros(0)
    factors = scale if np.any(scale != 1.0) else np.zeros(0)
    return data._replace(center=center, scale=factors)


def _hessian_statistics(data: GramData) -> GramData:
    """The statistics epoch input whose "loss" at ``p`` is ``p' H p`` and "gradient" ``2 H p``."""
    return data._replace(cov_xy=np.zeros_like(data.cov_xy), var_y=0.0, mean_y=0.0)


def run_descent(
    epochs: Epochs,
    plan: Plan,
    *,
    w_start: NDArray[np.float64],
    b_start: float,
    iterations: int,
    loss_threshold: float | None,
    tol: float | None,
    record_params: bool,
    callback: Callback | None,
    callback_every: int,
    one_dimensional: bool,
    started: float,
) -> TrainResult:
    """Drive the shared loop over validated inputs, check the result and package it; used by every front end.

    ``tol=None`` is fastgd's choice (see :func:`train`). The run's losses and
    convergence are checked at the end whatever stopped it.
    """
    options = plan.options
    loop = descent_loop_compiled if epochs.compiled else descent_loop
    tol_value = DEFAULT_TOL if tol is None else tol
    # With a learning rate of the caller's, tol=None leaves the stopping to the iteration cap and the loss
    # threshold, as the plain update rule has it; the result is still checked at the end.
    early_stop = tol is not None or options.lr is None
    state = new_state(plan.from_original(w_start, b_start), iterations, record_params)
    settings = LoopSettings(
        method=METHODS.index(options.method),
        steps=plan.steps.copy(),
        loss_threshold=-1.0 if loss_threshold is None else loss_threshold,
        divergence_factor=DIVERGENCE_FACTOR,
        loss_floor=plan.loss_floor,
        error_matrix=plan.errors.matrix,
        error_max_norm=plan.errors.max_norm,
        error_tol=tol_value if early_stop else -1.0,
        refresh_every=plan.refresh_every,
    )
    # Only conjugate gradients take Hessian-vector products; the other methods pass the data again,
    # which saves compiling the loop for a second kind of epoch.
    hessian_input = epochs.hessian if options.method == "cg" else epochs.data
    errors = plan.errors
    extra_passes = 0
    halvings = 0
    rejections = 0
    stop_reason = "iterations"
    done = 0
    while done < iterations:
        n_steps = iterations - done if callback is None else min(callback_every, iterations - done)
        status, steps_done = loop(epochs.data, hessian_input, settings, state, done, n_steps)
        done += steps_done
        if status == DIVERGED:
            bad_loss = state.loss_history[done - 1]
            if options.lr is None and halvings < MAX_STEP_HALVINGS and np.isfinite(bad_loss) and done > 1:
                # The automatic step was too long for these data: halve it and retry from the last good point.
                halvings += 1
                steps = settings.steps.copy()
                steps[:-1] *= 0.5
                if not options.center:
                    steps[-1] *= 0.5
                settings = settings._replace(steps=steps)
                _restart_from(state, state.last_good)
                done -= 1
                continue
            _raise_divergence(state.loss_history[:done], plan, settings, state, state.last_good, one_dimensional)
        if status == REACHED_THRESHOLD:
            loss = float(state.loss_history[done - 1])
            true_loss = None
            if state.grad_is_true[0] != 1.0:
                # Conjugate gradients' loss by recurrence: take the data's word for it.
                true_loss = epochs.evaluate(state.params, state.grad)
                state.grad_is_true[0] = 1.0
                extra_passes += epochs.data_passes
            elif epochs.check is not None and loss < STATISTICS_LOSS_TRUST * plan.moments.loss_scale:
                # A loss from the statistics this small may be rounding: check it on the data.
                true_loss = epochs.evaluate_check(state.params)
                extra_passes += 1
            if true_loss is not None:
                state.loss_history[done - 1] = true_loss
                if not true_loss <= loss_threshold:
                    if epochs.check is not None:
                        settings = settings._replace(loss_threshold=-1.0)  # the statistics cannot resolve it
                    if options.method == "cg":
                        state.cg_loss[0] = true_loss  # the loop resumes from this loss and its gradient
                        state.since_refresh[0] = 0
                    else:
                        _restart_from(state, state.params)
                    done -= 1
                    continue
            stop_reason = "loss_threshold"
        if status == CONVERGED:
            confirmed, passes, error, true_loss = _confirm_convergence(epochs, state, errors, tol_value)
            extra_passes += passes
            if true_loss is not None:
                state.loss_history[done - 1] = true_loss  # the loop's record is this very point
            if confirmed:
                stop_reason = "tol"
            else:
                rejections += 1
                if rejections >= MAX_REJECTIONS:
                    stop_reason = "stalled"
                else:
                    errors, settings = _tighten(errors, settings, error, tol_value)
                    _restart_from(state, state.params)
                    done -= 1
                    continue
        if callback is not None:
            w_now, b_now = _split(plan.to_original(state.params), one_dimensional)
            stop_requested = callback(done - 1, float(state.loss_history[done - 1]), w_now, b_now) is False
            if stop_requested and stop_reason == "iterations":
                stop_reason = "callback"
        if stop_reason != "iterations":
            break

    # The returned parameters' loss and gradient, from the data.
    params = state.params
    grad = np.empty_like(params)
    stopped_at_check = stop_reason in ("tol", "loss_threshold", "stalled") and done > 0
    if stopped_at_check and state.grad_is_true[0] == 1.0:
        final_loss = float(state.loss_history[done - 1])
        grad[:] = state.grad
    else:
        final_loss = epochs.evaluate(params, grad)
        extra_passes += epochs.data_passes
    if epochs.check is not None and final_loss < STATISTICS_LOSS_TRUST * plan.moments.loss_scale:
        final_loss = epochs.evaluate_check(params)
        extra_passes += 1
    _check_final_loss(final_loss, state, done, plan, settings, one_dimensional)
    error = errors.error(grad)
    if not errors.exact:
        error, _, passes = lanczos_error(errors, grad, epochs.hessian_vector)
        extra_passes += passes * max(epochs.data_passes, 0)
    converged = bool(error <= tol_value)
    seconds = time.perf_counter() - started
    first_norm = float(state.first_grad_norm[0]) if done > 0 else float("nan")
    final_norm = stepped_gradient_norm(grad, settings.steps)
    gradient_ratio = final_norm / first_norm if first_norm > 0 else 0.0
    if not converged:
        _warn_not_converged(stop_reason, done, iterations, error, tol_value, plan, state, loss_threshold)
    w, b = _split(plan.to_original(params), one_dimensional)
    history = plan.to_original(state.params_history[:done]) if record_params else None
    lr = float("nan") if options.method == "cg" else float(settings.steps[0])
    return TrainResult(
        w=w,
        b=b,
        loss_history=state.loss_history[:done].copy(),
        n_iter=done,
        stop_reason=stop_reason,
        final_loss=final_loss,
        lr=lr,
        backend=epochs.backend,
        w_history=None if history is None else (history[:, 0].copy() if one_dimensional else history[:, :-1].copy()),
        b_history=None if history is None else history[:, -1].copy(),
        seconds=seconds,
        method=options.method,
        solver=epochs.solver,
        lipschitz=plan.lipschitz if halvings == 0 or plan.lipschitz is None else plan.lipschitz * 2.0**halvings,
        passes=int(epochs.setup_passes + epochs.data_passes * int(state.passes[0]) + extra_passes),
        gradient_norm_ratio=float(gradient_ratio),
        converged=converged,
        coef_error=float(error),
        tol=tol_value,
        center=options.center,
        scale=options.scale,
    )


def _restart_from(state, params: NDArray[np.float64]) -> None:
    """Continue from ``params`` with no momentum, no conjugate direction and a gradient recomputed from the data."""
    state.params[:] = params
    state.previous[:] = params
    state.momentum[0] = 1.0
    state.last_loss[0] = np.inf
    state.direction[:] = 0.0
    state.old_grad[:] = 0.0
    state.since_refresh[0] = np.iinfo(np.int64).max // 2


def _confirm_convergence(epochs: Epochs, state, errors, tol: float) -> tuple[bool, int, float, float | None]:
    """Check a convergence claim of the loop with a true gradient and the final error model.

    A gradient the loop had by recurrence (conjugate gradients) is replaced
    by one from the data. Returns ``(confirmed, passes, error, loss)``, with
    the data's loss at the point when it was recomputed (else None).
    """
    passes = 0
    loss = None
    if state.grad_is_true[0] != 1.0:
        loss = epochs.evaluate(state.params, state.grad)
        state.grad_is_true[0] = 1.0
        passes += epochs.data_passes
    error = errors.error(state.grad)
    if not errors.exact:
        error, _, lanczos_passes = lanczos_error(errors, state.grad, epochs.hessian_vector)
        passes += lanczos_passes * epochs.data_passes
    return bool(error <= tol), passes, float(error), loss


def _tighten(errors, settings: LoopSettings, error: float, tol: float):
    """After a rejected claim: an estimated model takes a smaller curvature guess, so the loop's bound tightens."""
    if errors.exact:
        return errors, settings
    from .convergence import estimated_error_model

    factor = max(4.0, error / tol)
    tightened = estimated_error_model(errors.standardise, errors.free, errors.target_scale, errors.curvature_guess / factor)
    return tightened, settings._replace(error_matrix=tightened.matrix)


def _check_final_loss(final_loss: float, state, done: int, plan: Plan, settings: LoopSettings, one_dimensional) -> None:
    """Every run's returned parameters: a non-finite loss, or one above the start, is divergence."""
    if done == 0:
        if not np.isfinite(final_loss):
            history = np.array([final_loss])
            _raise_divergence(history, plan, settings, state, state.params, one_dimensional, final=True)
        return
    first = float(state.loss_history[0])
    if np.isfinite(final_loss) and final_loss <= first * (1.0 + GROWTH_TOLERANCE) + plan.loss_floor:
        return
    history = np.append(state.loss_history[:done], final_loss)
    _raise_divergence(history, plan, settings, state, state.last_good, one_dimensional, final=True)


def _raise_divergence(
    losses, plan: Plan, settings: LoopSettings, state, last_good, one_dimensional: bool, *, final: bool = False
) -> None:
    """Raise :class:`DivergenceError` for ``losses`` (the bad one last); ``final`` for the returned parameters' check."""
    options = plan.options
    iteration = losses.shape[0] - 1
    bad = float(losses[-1])
    lr = float(settings.steps[0])
    iterations, tol = state.loss_history.shape[0], settings.error_tol if settings.error_tol > 0 else DEFAULT_TOL
    first_error = float(state.first_error[0])
    if not np.isfinite(bad):
        what = "became non-finite"
    elif bad > DIVERGENCE_FACTOR * losses[0] + plan.loss_floor:
        what = f"grew to {bad:.3g}, over {DIVERGENCE_FACTOR:g} times its start {losses[0]:.3g}"
    elif final:
        what = f"of the returned parameters is {bad:.3g}, above the starting loss {losses[0]:.3g}"
    else:
        what = f"rose from {losses[-2]:.3g} to {bad:.3g}, so a step this long is unstable"
    advice = divergence_advice(plan, iterations, first_error, tol)
    texts = []
    for suggestion in advice:
        text = format_suggestion(suggestion)
        if suggestion.get("method") == "cg":
            text += " (exact step lengths, no learning rate)"
        elif "lr" in suggestion:
            auto_value = _automatic_step(plan)
            if auto_value is not None:
                text += f" (fastgd picks the step; 1/L = {auto_value:.3g} for the features as given)"
        texts.append(text)
    step_text = "the automatic step" if options.lr is None else f"lr={lr:g}"
    message = f"training diverged at iteration {iteration} with {step_text}: the loss {what}."
    if texts:
        message += " Try " + "; or ".join(texts) + "."
    if current_syntax() == "python":
        message += " The last acceptable parameters and the loss history are attached to this error (.w, .b, .loss_history)."
    w, b = _split(plan.to_original(last_good), one_dimensional)
    raise DivergenceError(
        message, iteration=iteration, lr=lr, w=w, b=b, loss_history=np.asarray(losses, dtype=np.float64).copy(),
        advice=advice,
    )  # fmt: skip


def _automatic_step(plan: Plan) -> float | None:
    """``1 / L`` for the unpreconditioned problem (what a classic run would use), when the statistics exist."""
    if plan.statistics is None:
        return None
    d = plan.shift.shape[0]
    hessian = plan.statistics.hessian(np.zeros(d), np.ones(d))
    if not plan.options.fit_intercept:
        hessian = hessian[:d, :d]
    lipschitz = stepsize.exact_lipschitz(hessian)
    return 1.0 / lipschitz if lipschitz > 0 else None


_STOPPED_BY = {
    "iterations": "at the iteration cap ({iterations})",
    "loss_threshold": "at the loss threshold",
    "callback": "when the callback asked",
    "stalled": "when rounding left nothing to gain",
    "tol": "at the tolerance",
}


def _warn_not_converged(stop_reason, done, iterations, error, tol, plan: Plan, state, loss_threshold) -> None:
    advice = not_converged_advice(plan, iterations, float(state.first_error[0]), error, tol, stop_reason)
    where = _STOPPED_BY[stop_reason].format(iterations=iterations)
    kind = "" if plan.errors.exact else "an estimated "
    message = (
        f"fastgd stopped {where} after {done} iterations with the coefficients {kind}{error:.2g} from the "
        f"least-squares solution, above tol={tol:g} (largest error of a standardised coefficient, "
        f"|w_j - w*_j| * std(x_j) / std(y))."
    )
    floor = rounding_floor(plan)
    if floor > tol:
        message += (
            f" The standardised features are nearly collinear (condition number {plan.errors.condition_number:.2g}): "
            f"rounding limits the coefficients to about {floor:.1g}. Drop or combine nearly duplicated columns, "
            "or accept a larger tolerance."
        )
    if advice:
        message += " " + format_advice(advice)
    warnings.warn(ConvergenceWarning(message, error=error, tol=tol, advice=advice), stacklevel=4)
