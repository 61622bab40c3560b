"""The one gradient-descent loop, shared by every backend.

:func:`descent_loop` is written in the subset of Python that numba compiles.
The reference backend runs it as plain Python; the kernel backend runs the
same source compiled (:data:`descent_loop_compiled`), so small problems do not
pay Python's per-iteration overhead. Backends differ only in how one epoch
is computed: :func:`epoch` dispatches on the type of ``data`` and, when
compiled, on being compiled.

Parameters travel as one float64 vector ``params = [w_1, ..., w_d, b]``, and
gradients likewise, so the update is one line for every model.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import overload

from . import kernels, reference
from ._config import JIT_OPTIONS, OVERLOAD_OPTIONS

# Status codes returned by descent_loop.
RUNNING = 0
DIVERGED = 1
REACHED_THRESHOLD = 2


class DataPass(NamedTuple):
    """Everything an epoch needs to pass over the data once.

    ``total_weight`` is ``n`` without sample weights and their sum with them;
    ``chunk_rows`` is the kernels' fixed reduction chunk (unused by numpy).
    """

    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    total_weight: float
    chunk_rows: int


def epoch(data, params, grad):
    """Return the loss at ``params`` and write its gradient into ``grad``.

    Run as Python this is the reference path; compiled, the overload below
    makes it the fused kernel.
    """
    n_features = params.shape[0] - 1
    w = params[0] if data.X.ndim == 1 else params[:n_features]
    loss, grad_w, grad_b = reference.loss_and_gradients(data.X, data.y, w, params[n_features], data.sample_weight)
    grad[:n_features] = grad_w
    grad[n_features] = grad_b
    return loss


@overload(epoch, jit_options=OVERLOAD_OPTIONS)
def _epoch_compiled(data, params, grad):
    if isinstance(data, types.BaseNamedTuple) and data.instance_class is DataPass:

        def fused_epoch(data, params, grad):
            n_features = params.shape[0] - 1
            loss, grad_b = kernels.fused_loss_and_gradients(
                data.X,
                data.y,
                data.sample_weight,
                data.total_weight,
                params[:n_features],
                params[n_features],
                data.chunk_rows,
                grad[:n_features],
            )
            grad[n_features] = grad_b
            return loss

        return fused_epoch
    return None


def descent_loop(
    data, params, lr, n_steps, loss_threshold, divergence_factor, loss_history, params_history, start, last_good
):
    """Run up to ``n_steps`` gradient-descent iterations, updating ``params`` in place.

    Iteration ``k = start + step`` evaluates the loss at the current
    parameters, records it in ``loss_history[k]`` (and the parameters in
    ``params_history[k]`` when that array has rows), then steps
    ``params -= lr * grad``. It stops early, before stepping, when the loss
    is non-finite or above ``divergence_factor`` times the first loss
    (status DIVERGED), or at most ``loss_threshold`` (REACHED_THRESHOLD).
    ``last_good`` always holds the last parameters whose loss was acceptable.

    Returns ``(status, steps_done)``.
    """
    grad = np.empty_like(params)
    for step in range(n_steps):
        iteration = start + step
        loss = epoch(data, params, grad)
        loss_history[iteration] = loss
        if params_history.shape[0] > 0:
            params_history[iteration] = params
        # Written so that a NaN loss fails the test too.
        if not (loss <= divergence_factor * loss_history[0]) or not np.isfinite(loss):
            return DIVERGED, step + 1
        last_good[:] = params
        if loss <= loss_threshold:
            return REACHED_THRESHOLD, step + 1
        params -= lr * grad
    return RUNNING, n_steps


def evaluate(data, params, grad):
    """The loss at ``params`` (and its gradient, into ``grad``) as one call."""
    return epoch(data, params, grad)


descent_loop_compiled = njit(**JIT_OPTIONS)(descent_loop)
evaluate_compiled = njit(**JIT_OPTIONS)(evaluate)
