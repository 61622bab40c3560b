"""The training front door: validate, pick a backend, run the shared loop."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import gram, stepsize, validation
from ._config import chunk_rows_for
from .loop import (
    DIVERGED,
    REACHED_THRESHOLD,
    DataPass,
    descent_loop,
    descent_loop_compiled,
    evaluate,
    evaluate_compiled,
    stepped_gradient_norm,
)

BACKENDS = ("numba", "numpy")
METHODS = ("gd", "nesterov")  # index = the loop's method code
SOLVERS = ("data", "gram")

# A run stopped by the iteration cap warns if its gradient norm is still above
# this fraction of the starting one.
NOT_CONVERGED_GRADIENT_RATIO = 1e-5

# A run whose loss climbs past this multiple of its first loss is diverging:
# plain gradient descent with a stable step never increases the loss at all.
DIVERGENCE_FACTOR = 1e4

Callback = Callable[[int, float, "float | NDArray[np.float64]", float], "bool | None"]


class ConvergenceWarning(UserWarning):
    """The iteration cap stopped training before the gradient became small."""


class DivergenceError(ValueError):
    """Training diverged: the loss became non-finite or grew far above its start.

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
    """

    def __init__(self, message: str, *, iteration: int, lr: float, w, b: float, loss_history: NDArray[np.float64]):
        super().__init__(message)
        self.iteration = iteration
        self.lr = lr
        self.w = w
        self.b = b
        self.loss_history = loss_history


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
        ``loss_history[k]`` is the loss at the start of iteration ``k``.
    n_iter : int
        Iterations run, ``len(loss_history)``. Each one stepped the
        parameters, except the last when ``stop_reason == "loss_threshold"``.
    stop_reason : str
        ``"iterations"`` (the cap), ``"loss_threshold"`` or ``"callback"``.
    final_loss : float
        The loss at the returned ``w`` and ``b``.
    lr : float
        The learning rate used for the weights (with ``center=True`` and
        ``lr="auto"`` the intercept takes its own exact step, 1/2).
    backend : str
        ``"numba"``, ``"numpy"`` or ``"dask"`` (:func:`fastgd.dask.train`).
    w_history, b_history : ndarray or None
        Parameters at the start of each iteration, when ``record_params``.
    seconds : float
        Wall time of training: setup passes and iterations, not validation.
        The first call for a given layout and dtype in a process also
        includes loading the compiled code from numba's cache (or compiling).
    method, solver : str
        As requested.
    lipschitz : float or None
        The smoothness constant ``L`` behind ``lr="auto"`` (``lr = 1 / L``).
    passes : int
        Passes over the data: setup (centring means, power iteration or the
        statistics pass), iterations and the final loss evaluation.
    gradient_norm_ratio : float
        Gradient norm at the returned parameters over that at the start.
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
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


def prepare_data(X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> DataPass:
    """Validate ``X``, ``y`` and ``sample_weight`` and bundle them for an epoch."""
    X = validation.as_features(X)
    y = validation.as_target(y, X.shape[0])
    if X.dtype == np.float64 or y.dtype not in (np.float32, np.float64):
        y = np.asarray(y, dtype=np.float64)
    weights = validation.as_sample_weight(sample_weight, X.shape[0])
    total_weight = float(X.shape[0]) if weights is None else float(weights.sum())
    n_features = 1 if X.ndim == 1 else X.shape[1]
    if X.ndim == 2 and n_features == 1 and X.strides[0] == X.itemsize:
        # One column with unit row stride: the one-feature kernel reads it as a vector.
        X = X[:, 0]
    return DataPass(X, y, weights, total_weight, np.zeros(0), chunk_rows_for(n_features))


def _split(params: NDArray[np.float64], one_dimensional: bool) -> tuple[float | NDArray[np.float64], float]:
    w = float(params[0]) if one_dimensional else params[:-1].copy()
    return w, float(params[-1])


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming ``name``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def train(
    X: ArrayLike,
    y: ArrayLike,
    *,
    lr: float | str = "auto",
    iterations: int,
    loss_threshold: float | None = None,
    method: str = "gd",
    solver: str = "data",
    center: bool = False,
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
        Learning rate (step size). ``"auto"`` (the default) uses ``1 / L``
        for the loss's smoothness constant ``L``, estimated by power
        iteration on the data (:mod:`fastgd.stepsize`; exact with
        ``solver="gram"``).
    iterations : int
        Most iterations to run.
    loss_threshold : float, optional
        Stop as soon as the loss is at most this value.
    method : {"gd", "nesterov"}
        Plain gradient descent, or Nesterov's accelerated gradient with
        adaptive restart (far fewer iterations on ill-conditioned data).
    solver : {"data", "gram"}
        ``"data"``: each iteration is one pass over the data. ``"gram"``: one
        pass computes sufficient statistics, after which each iteration costs
        ``O(d^2)`` and follows the same trajectory (:mod:`fastgd.gram`).
    center : bool
        Subtract column means on the fly (no copy of ``X``), which improves
        conditioning when features have large means. Results are reported
        for the original features. With ``lr="auto"`` the intercept, which
        then decouples from the weights, takes its own exact step, so a
        steep intercept direction no longer slows the weights down.
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
        terminal; ``True`` always; ``False`` never. It reports every ``k``
        iterations (:func:`fastgd.progress.choose_callback_every`), so it
        does not slow the compiled loop.

    Returns
    -------
    TrainResult

    Raises
    ------
    DivergenceError
        If the loss becomes non-finite or grows far above its start.

    Warns
    -----
    ConvergenceWarning
        If the iteration cap stopped a run whose gradient is still large
        (norm above 1e-5 of its starting norm).

    Examples
    --------
    >>> import numpy as np, fastgd
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> result = fastgd.train(x, 3.0 * x + 2.0, iterations=5000)
    >>> round(result.w, 6), round(result.b, 6)
    (3.0, 2.0)
    """
    backend = _check_backend(backend)
    method = check_choice(method, "method", METHODS)
    solver = check_choice(solver, "solver", SOLVERS)
    automatic_lr = isinstance(lr, str) and lr == "auto"
    lr = None if automatic_lr else validation.check_learning_rate(lr)
    iterations = validation.check_iterations(iterations)
    threshold = validation.check_loss_threshold(loss_threshold)
    callback_every = max(1, validation.check_iterations(callback_every, "callback_every"))
    data = prepare_data(X, y, sample_weight)
    one_dimensional = data.X.ndim == 1
    n_features = 1 if one_dimensional else data.X.shape[1]
    w_start, b_start = validation.initial_parameters(w0, b0, n_features, one_dimensional)
    if not fit_intercept and (center or b_start != 0.0):
        raise ValueError("fit_intercept=False holds b at 0: pass neither center=True nor a non-zero b0")

    bar = _progress_bar(progress, iterations, data.X.size if solver == "data" else 0, callback)
    if bar is not None:
        if callback is None:
            callback_every = bar.every
        callback = bar
    with numba_threads(n_threads), contextlib.nullcontext() if bar is None else bar:
        started = time.perf_counter()
        epoch_data, shift, lipschitz, setup_passes = _prepare_epochs(
            data, solver, center, lr is None, backend, fit_intercept
        )
        return run_descent(
            epoch_data,
            compiled=backend == "numba",
            w_start=w_start,
            b_start=b_start,
            shift=shift,
            lr=step_sizes(n_features, lr, lipschitz, center, fit_intercept),
            lipschitz=lipschitz,
            iterations=iterations,
            loss_threshold=threshold,
            method=method,
            record_params=record_params,
            callback=callback,
            callback_every=callback_every,
            one_dimensional=one_dimensional,
            setup_passes=setup_passes,
            passes_per_iteration=0 if solver == "gram" else 1,
            labels={"backend": backend, "solver": solver},
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


def run_descent(
    epoch_data,
    *,
    compiled: bool,
    w_start: NDArray[np.float64],
    b_start: float,
    shift: NDArray[np.float64],
    lr: float | NDArray[np.float64],
    lipschitz: float | None,
    iterations: int,
    loss_threshold: float | None,
    method: str,
    record_params: bool,
    callback: Callback | None,
    callback_every: int,
    one_dimensional: bool,
    setup_passes: int,
    passes_per_iteration: int,
    labels: dict[str, str],
    started: float,
) -> TrainResult:
    """Drive the shared loop over validated inputs and package the result; used by every front end.

    ``epoch_data`` is anything :func:`fastgd.loop.epoch` accepts: a
    :class:`~fastgd.loop.DataPass`, a :class:`~fastgd.loop.GramData`, or (with
    ``compiled=False``) an object with an ``epoch(params, grad)`` method.
    ``shift`` is the centring of the loop's parametrisation ``(x - shift).w + b``;
    results are reported for ``x.w + b``. ``lr`` is one step size or one per
    parameter (see :func:`step_sizes`). ``passes_per_iteration`` counts data
    passes (0 for the statistics solver); ``labels`` fills ``backend`` and ``solver``.
    """
    loop, evaluate_loss = (descent_loop_compiled, evaluate_compiled) if compiled else (descent_loop, evaluate)
    n_params = w_start.shape[0] + 1
    steps = np.broadcast_to(np.asarray(lr, dtype=np.float64), (n_params,)).copy()
    lr = float(steps[0])
    # The loop works in the centred parametrisation: (x - shift).w + b.
    params = np.append(w_start, b_start + shift @ w_start)
    loss_history = np.empty(iterations)
    params_history = np.empty((iterations if record_params else 0, n_params))
    last_good = params.copy()
    previous = params.copy()
    loop_state = np.array([1.0, np.inf, 0.0])
    stop_reason = "iterations"
    done = 0
    while done < iterations:
        n_steps = iterations - done if callback is None else min(callback_every, iterations - done)
        status, steps_done = loop(
            epoch_data, params, steps, n_steps, -1.0 if loss_threshold is None else loss_threshold, DIVERGENCE_FACTOR,
            METHODS.index(method), previous, loop_state, loss_history, params_history, done, last_good,
        )  # fmt: skip
        done += steps_done
        if status == DIVERGED:
            _raise_divergence(loss_history[:done], lr, _to_original(last_good, shift), one_dimensional)
        if status == REACHED_THRESHOLD:
            stop_reason = "loss_threshold"
        if callback is not None:
            w_now, b_now = _split(_to_original(params, shift), one_dimensional)
            stop_requested = callback(done - 1, float(loss_history[done - 1]), w_now, b_now) is False
            if stop_requested and stop_reason == "iterations":
                stop_reason = "callback"
        if stop_reason != "iterations":
            break
    if stop_reason == "loss_threshold":
        final_loss, gradient_ratio, final_pass = float(loss_history[done - 1]), float("nan"), 0
    else:
        final_grad = np.empty_like(params)
        final_loss, final_pass = float(evaluate_loss(epoch_data, params, final_grad)), 1
        final_norm = stepped_gradient_norm(final_grad, steps)
        start_norm = loop_state[2] if done > 0 else final_norm
        gradient_ratio = float(final_norm / start_norm) if start_norm > 0 else 0.0
    seconds = time.perf_counter() - started
    if stop_reason == "iterations" and done > 0 and gradient_ratio > NOT_CONVERGED_GRADIENT_RATIO:
        warnings.warn(
            f"fastgd stopped at the iteration cap ({iterations}) before converging: the gradient norm is still "
            f"{gradient_ratio:.2g} of its starting value. Increase iterations, or try method='nesterov', "
            "solver='gram' or center=True.",
            ConvergenceWarning,
            stacklevel=3,
        )
    w, b = _split(_to_original(params, shift), one_dimensional)
    history = _to_original(params_history[:done], shift) if record_params else None
    return TrainResult(
        w=w,
        b=b,
        loss_history=loss_history[:done].copy(),
        n_iter=done,
        stop_reason=stop_reason,
        final_loss=final_loss,
        lr=lr,
        backend=labels["backend"],
        w_history=None if history is None else (history[:, 0].copy() if one_dimensional else history[:, :-1].copy()),
        b_history=None if history is None else history[:, -1].copy(),
        seconds=seconds,
        method=method,
        solver=labels["solver"],
        lipschitz=lipschitz,
        passes=setup_passes + passes_per_iteration * (done + final_pass),
        gradient_norm_ratio=gradient_ratio,
    )


def step_sizes(
    n_features: int, lr: float | None, lipschitz: float | None, center: bool, fit_intercept: bool
) -> NDArray[np.float64]:
    """One step size per parameter ``[w_1 .. w_d, b]``.

    A given ``lr`` applies to all. With ``lr="auto"``, ``lipschitz`` is the
    smoothness constant of the block being stepped at ``1 / L``: the whole
    Hessian normally; the weights' block alone when the intercept is not
    fitted (its step is 0) or when the features are centred. Centred, the
    Hessian is block-diagonal with the intercept's curvature exactly 2, so
    the intercept's step 1/2 solves for it exactly at every iteration.
    """
    automatic = lr is None
    if automatic:
        # L = 0 only for all-zero (or, centred, constant) features, whose gradient is 0: any step will do.
        lr = 1.0 / lipschitz if lipschitz > 0 else 1.0
    steps = np.full(n_features + 1, lr)
    if not fit_intercept:
        steps[-1] = 0.0
    elif automatic and center:
        steps[-1] = 0.5
    return steps


def _prepare_epochs(data: DataPass, solver: str, center: bool, automatic_lr: bool, backend: str, fit_intercept: bool):
    """What the loop iterates on, the centring shift, ``L`` (if needed) and the passes spent getting them.

    ``L`` is that of the weights' block alone when the intercept is stepped
    separately (centred) or not at all; see :func:`step_sizes`.
    """
    n_features = 1 if data.X.ndim == 1 else data.X.shape[1]
    weights_only = center or not fit_intercept
    if solver == "gram":
        stats = gram.statistics(data, backend=backend)
        shift = stats.mean[:n_features].copy() if center else np.zeros(n_features)
        lipschitz = None
        if automatic_lr:
            hessian = stats.hessian(center)
            lipschitz = stepsize.exact_lipschitz(hessian[:n_features, :n_features] if weights_only else hessian)
            if center:
                lipschitz = stepsize.floor_centred_lipschitz(lipschitz, shift)
        return stats.gram_data(center), shift, lipschitz, 1
    passes = 0
    shift = np.zeros(n_features)
    if center:
        shift = _column_means(data, backend)
        passes += 1
        data = data._replace(center=shift)
    lipschitz = None
    if automatic_lr:
        lipschitz, power_passes = stepsize.power_iteration_lipschitz(data, backend, intercept=not weights_only)
        passes += power_passes
        if center:
            lipschitz = stepsize.floor_centred_lipschitz(lipschitz, shift)
    return data, shift, lipschitz, passes


def _column_means(data: DataPass, backend: str) -> NDArray[np.float64]:
    """Weighted column means in one fused pass: at w = 0, b = 1 with y = None, dL/dw = 2 * mean."""
    n_features = 1 if data.X.ndim == 1 else data.X.shape[1]
    params = np.zeros(n_features + 1)
    params[-1] = 1.0
    grad = np.empty_like(params)
    (evaluate_compiled if backend == "numba" else evaluate)(data._replace(y=None), params, grad)
    return grad[:n_features] / 2.0


def _to_original(params: NDArray[np.float64], shift: NDArray[np.float64]) -> NDArray[np.float64]:
    """Map ``[w, b]`` (one row, or a history of rows) from the centred parametrisation to ``x.w + b``."""
    original = np.array(params, dtype=np.float64, copy=True)
    original[..., -1] -= original[..., :-1] @ shift
    return original


def _raise_divergence(
    losses: NDArray[np.float64], lr: float, last_good: NDArray[np.float64], one_dimensional: bool
) -> None:
    iteration = losses.shape[0] - 1
    bad = losses[-1]
    what = (
        "became non-finite"
        if not np.isfinite(bad)
        else f"grew to {bad:.3g}, over {DIVERGENCE_FACTOR:g} times its start {losses[0]:.3g}"
    )
    w, b = _split(last_good, one_dimensional)
    raise DivergenceError(
        f"training diverged at iteration {iteration} with lr={lr:g}: the loss {what}. "
        f"Try a smaller learning rate (e.g. lr={lr / 10:g}) or scale the features. "
        "The last finite parameters and the loss history are attached to this error (.w, .b, .loss_history).",
        iteration=iteration,
        lr=lr,
        w=w,
        b=b,
        loss_history=losses.copy(),
    )
