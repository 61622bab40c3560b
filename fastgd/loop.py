"""The one gradient-descent loop, shared by every backend and solver.

:func:`descent_loop` is written in the subset of Python that numba compiles.
The reference backend runs it as plain Python; the kernel backend runs the
same source compiled (:data:`descent_loop_compiled`), so small problems do not
pay Python's per-iteration overhead. Backends and solvers differ only in how
one epoch is computed: :func:`epoch` dispatches on the type of ``data``
(:class:`DataPass` reads the data, :class:`GramData` uses sufficient
statistics) and, when compiled, on being compiled.

Parameters travel as one float64 vector ``params = [w_1, ..., w_d, b]``, and
gradients likewise, so every update is one line for every model.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import overload, register_jitable

from . import kernels, reference
from ._config import JIT_OPTIONS, OVERLOAD_OPTIONS

# Status codes returned by descent_loop.
RUNNING = 0
DIVERGED = 1
REACHED_THRESHOLD = 2

# Methods.
GRADIENT_DESCENT = 0
NESTEROV = 1

# Nesterov restarts when the loss rises by more than this fraction. Rises at
# the level of rounding are ignored, so the restart decisions (and hence the
# trajectory) do not depend on how a backend or solver rounds.
RESTART_TOLERANCE = 1e-10


class DataPass(NamedTuple):
    """Everything an epoch needs to pass over the data once.

    ``y`` may be None: targets are then zero and the epoch's gradient is a
    Hessian-vector product (used to estimate the step size). ``total_weight``
    is ``n`` without sample weights and their sum with them. ``center`` is
    empty, or the column means to subtract from ``X`` on the fly (the model
    is then ``(x - center).w + b``). ``chunk_rows`` is the kernels' fixed
    reduction chunk (unused by numpy).
    """

    X: np.ndarray
    y: np.ndarray | None
    sample_weight: np.ndarray | None
    total_weight: float
    center: np.ndarray
    chunk_rows: int


class GramData(NamedTuple):
    """Sufficient statistics of the data, for O(d^2) epochs (see :mod:`fastgd.gram`).

    The model is ``(x - m).w + b`` with ``offset = mean_x - m``.
    """

    cov_xx: np.ndarray
    cov_xy: np.ndarray
    var_y: float
    mean_y: float
    offset: np.ndarray


def epoch(data, params, grad):
    """Return the loss at ``params`` and write its gradient into ``grad``.

    Run as Python this is the reference path; compiled, the overload below
    makes it the fused kernel (or the compiled O(d^2) statistics epoch).
    Other front ends (e.g. :mod:`fastgd.dask`) pass an object with an
    ``epoch(params, grad)`` method to the Python loop.
    """
    if hasattr(data, "epoch"):
        return data.epoch(params, grad)
    n_features = params.shape[0] - 1
    w = params[:n_features]
    b = params[n_features]
    if isinstance(data, GramData):
        from .gram import reference_loss_and_gradients

        loss, grad[:n_features], grad[n_features] = reference_loss_and_gradients(data, w, b)
        return loss
    X = data.X
    y = np.zeros(X.shape[0]) if data.y is None else data.y
    shift = float(data.center @ w) if data.center.shape[0] > 0 else 0.0
    loss, grad_w, grad_b = reference.loss_and_gradients(X, y, w[0] if X.ndim == 1 else w, b - shift, data.sample_weight)
    grad[:n_features] = grad_w
    grad[n_features] = grad_b
    if data.center.shape[0] > 0:
        grad[:n_features] -= grad_b * data.center
    return loss


@overload(epoch, jit_options=OVERLOAD_OPTIONS)
def _epoch_compiled(data, params, grad):
    if isinstance(data, types.BaseNamedTuple) and data.instance_class is DataPass:

        def fused_epoch(data, params, grad):
            n_features = params.shape[0] - 1
            centred = data.center.shape[0] > 0
            # Centring moves into the intercept: (x - m).w + b = x.w + (b - m.w).
            b = params[n_features]
            if centred:
                for j in range(n_features):
                    b -= data.center[j] * params[j]
            loss, grad_b = kernels.fused_loss_and_gradients(
                data.X, data.y, data.sample_weight, data.total_weight,
                params[:n_features], b, data.chunk_rows, grad[:n_features],
            )  # fmt: skip
            grad[n_features] = grad_b
            if centred:
                for j in range(n_features):
                    grad[j] -= grad_b * data.center[j]
            return loss

        return fused_epoch
    if isinstance(data, types.BaseNamedTuple) and data.instance_class is GramData:

        def statistics_epoch(data, params, grad):
            n_features = params.shape[0] - 1
            loss, grad_b = kernels.gram_loss_and_gradients(
                data.cov_xx, data.cov_xy, data.var_y, data.mean_y, data.offset,
                params[:n_features], params[n_features], grad[:n_features],
            )  # fmt: skip
            grad[n_features] = grad_b
            return loss

        return statistics_epoch
    return None


def look_ahead(point, params, previous, beta):
    """``point = params + beta * (params - previous)``, in place."""
    point[:] = params + beta * (params - previous)


def take_step(params, previous, point, grad, steps):
    """``previous = params; params = point - steps * grad``, in place (``steps``: one step size per parameter)."""
    previous[:] = params
    params[:] = point - steps * grad


# Compiled, the two updates above are explicit loops: the array expressions
# would allocate a temporary per iteration, which on a 30-row problem costs
# as much as the epoch itself.
@overload(look_ahead, jit_options=OVERLOAD_OPTIONS)
def _look_ahead_compiled(point, params, previous, beta):
    def loop(point, params, previous, beta):
        for j in range(params.shape[0]):
            point[j] = params[j] + beta * (params[j] - previous[j])

    return loop


@overload(take_step, jit_options=OVERLOAD_OPTIONS)
def _take_step_compiled(params, previous, point, grad, steps):
    def loop(params, previous, point, grad, steps):
        for j in range(params.shape[0]):
            previous[j] = params[j]
            params[j] = point[j] - steps[j] * grad[j]

    return loop


@register_jitable
def stepped_gradient_norm(grad, steps):
    """Norm of the gradient over the parameters that move (a parameter held fixed has step 0)."""
    total = 0.0
    for j in range(grad.shape[0]):
        if steps[j] != 0.0:
            total += grad[j] * grad[j]
    return np.sqrt(total)


def descent_loop(
    data, params, steps, n_steps, loss_threshold, divergence_factor, method,
    previous, loop_state, loss_history, params_history, start, last_good,
):  # fmt: skip
    """Run up to ``n_steps`` iterations of gradient descent, updating ``params`` in place.

    Iteration ``k = start + step`` evaluates the loss and gradient at a point:
    the parameters themselves for plain gradient descent, the look-ahead
    ``params + beta * (params - previous)`` for Nesterov's method. It records
    the loss in ``loss_history[k]`` (and the point in ``params_history[k]``
    when that array has rows), then steps ``params = point - steps * grad``.
    ``steps`` holds one step size per parameter: usually all equal (the
    learning rate), a different one for the intercept when the features are
    centred (the two then decouple), and 0 for an intercept held at 0.

    It stops early, before stepping, when the loss is non-finite or above
    ``divergence_factor`` times the first loss (status DIVERGED), or at most
    ``loss_threshold`` (REACHED_THRESHOLD; ``params`` is then that point).
    ``last_good`` always holds the last point whose loss was acceptable.

    Nesterov's momentum uses the FISTA sequence ``t``, restarted (momentum set
    to zero) whenever the loss goes up: that keeps it monotone in practice
    and gives linear convergence on strongly convex problems without knowing
    their curvature (O'Donoghue and Candès, 2015). ``previous`` and
    ``loop_state = [t, last loss, first gradient norm]`` carry state across
    calls (the first gradient norm tells later how far a run got).

    Returns ``(status, steps_done)``.
    """
    grad = np.empty_like(params)
    point = params.copy()
    for step in range(n_steps):
        iteration = start + step
        beta = 0.0
        if method == NESTEROV:
            t = loop_state[0]
            t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            beta = (t - 1.0) / t_next
            loop_state[0] = t_next
        look_ahead(point, params, previous, beta)
        loss = epoch(data, point, grad)
        loss_history[iteration] = loss
        if iteration == 0:
            loop_state[2] = stepped_gradient_norm(grad, steps)
        if params_history.shape[0] > 0:
            params_history[iteration] = point
        # Written so that a NaN loss fails the test too.
        if not (loss <= divergence_factor * loss_history[0]) or not np.isfinite(loss):
            return DIVERGED, step + 1
        last_good[:] = point
        if loss <= loss_threshold:
            params[:] = point
            return REACHED_THRESHOLD, step + 1
        if method == NESTEROV and loss > loop_state[1] * (1.0 + RESTART_TOLERANCE):
            loop_state[0] = 1.0
        loop_state[1] = loss
        take_step(params, previous, point, grad, steps)
    return RUNNING, n_steps


def evaluate(data, params, grad):
    """The loss at ``params`` (and its gradient, into ``grad``) as one call."""
    return epoch(data, params, grad)


descent_loop_compiled = njit(**JIT_OPTIONS)(descent_loop)
evaluate_compiled = njit(**JIT_OPTIONS)(evaluate)
