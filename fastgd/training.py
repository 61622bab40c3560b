"""The training front door: validate, pick a backend, run the shared loop."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import validation
from ._config import chunk_rows_for
from .loop import (
    DIVERGED,
    REACHED_THRESHOLD,
    DataPass,
    descent_loop,
    descent_loop_compiled,
    evaluate,
    evaluate_compiled,
)

BACKENDS = ("numba", "numpy")

# A run whose loss climbs past this multiple of its first loss is diverging:
# plain gradient descent with a stable step never increases the loss at all.
DIVERGENCE_FACTOR = 1e4

Callback = Callable[[int, float, "float | NDArray[np.float64]", float], "bool | None"]


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
        The learning rate used.
    backend : str
        ``"numba"`` or ``"numpy"``.
    w_history, b_history : ndarray or None
        Parameters at the start of each iteration, when ``record_params``.
    seconds : float
        Wall time of the iterations (not validation nor compilation).
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
    return DataPass(X, y, weights, total_weight, chunk_rows_for(n_features))


def _split(params: NDArray[np.float64], one_dimensional: bool) -> tuple[float | NDArray[np.float64], float]:
    w = float(params[0]) if one_dimensional else params[:-1].copy()
    return w, float(params[-1])


def train(
    X: ArrayLike,
    y: ArrayLike,
    *,
    lr: float,
    iterations: int,
    loss_threshold: float | None = None,
    backend: str = "numba",
    w0: ArrayLike | None = None,
    b0: float = 0.0,
    sample_weight: ArrayLike | None = None,
    record_params: bool = False,
    callback: Callback | None = None,
    callback_every: int = 100,
    n_threads: int | None = None,
) -> TrainResult:
    """Fit ``y ≈ X @ w + b`` by full-batch gradient descent on the mean squared error.

    Parameters
    ----------
    X : array_like, shape (n,) or (n, d)
        Features. float32 and float64 are used as they are (no copy).
    y : array_like, shape (n,)
        Targets.
    lr : float
        Learning rate (step size), a positive number.
    iterations : int
        Most iterations to run (each one full pass over the data).
    loss_threshold : float, optional
        Stop as soon as the loss is at most this value.
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

    Returns
    -------
    TrainResult

    Raises
    ------
    DivergenceError
        If the loss becomes non-finite or grows far above its start.

    Examples
    --------
    >>> import numpy as np, fastgd
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> result = fastgd.train(x, 3.0 * x + 2.0, lr=0.5, iterations=5000)
    >>> round(result.w, 6), round(result.b, 6)
    (3.0, 2.0)
    """
    backend = _check_backend(backend)
    lr = validation.check_learning_rate(lr)
    iterations = validation.check_iterations(iterations)
    threshold = validation.check_loss_threshold(loss_threshold)
    callback_every = max(1, validation.check_iterations(callback_every, "callback_every"))
    data = prepare_data(X, y, sample_weight)
    one_dimensional = data.X.ndim == 1
    n_features = 1 if one_dimensional else data.X.shape[1]
    w_start, b_start = validation.initial_parameters(w0, b0, n_features, one_dimensional)
    params = np.append(w_start, b_start)

    loop, evaluate_loss = (descent_loop_compiled, evaluate_compiled) if backend == "numba" else (descent_loop, evaluate)
    loss_history = np.empty(iterations)
    params_history = np.empty((iterations if record_params else 0, n_features + 1))
    last_good = params.copy()
    stop_reason = "iterations"
    done = 0
    with numba_threads(n_threads):
        started = time.perf_counter()
        while done < iterations:
            steps = iterations - done if callback is None else min(callback_every, iterations - done)
            status, steps_done = loop(
                data, params, lr, steps, -1.0 if threshold is None else threshold,
                DIVERGENCE_FACTOR, loss_history, params_history, done, last_good,
            )  # fmt: skip
            done += steps_done
            if status == DIVERGED:
                _raise_divergence(loss_history[:done], lr, last_good, one_dimensional)
            if status == REACHED_THRESHOLD:
                stop_reason = "loss_threshold"
            if callback is not None:
                w_now, b_now = _split(last_good if status == REACHED_THRESHOLD else params, one_dimensional)
                if (
                    callback(done - 1, float(loss_history[done - 1]), w_now, b_now) is False
                    and stop_reason == "iterations"
                ):
                    stop_reason = "callback"
            if stop_reason != "iterations":
                break
        seconds = time.perf_counter() - started
        if stop_reason == "loss_threshold":
            final_loss = float(loss_history[done - 1])
        else:
            final_loss = float(evaluate_loss(data, params, np.empty_like(params)))
    w, b = _split(params, one_dimensional)
    history = params_history[:done] if record_params else None
    return TrainResult(
        w=w,
        b=b,
        loss_history=loss_history[:done].copy(),
        n_iter=done,
        stop_reason=stop_reason,
        final_loss=final_loss,
        lr=lr,
        backend=backend,
        w_history=None if history is None else (history[:, 0].copy() if one_dimensional else history[:, :-1].copy()),
        b_history=None if history is None else history[:, -1].copy(),
        seconds=seconds,
    )


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
