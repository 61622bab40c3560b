"""The one descent loop, shared by every backend, solver and method.

:func:`descent_loop_through` is written in the subset of Python that numba
compiles. The reference backend runs it as plain Python (:func:`descent_loop`,
with :func:`epoch`); the kernel backend runs the same source compiled
(:func:`descent_loop_compiled`: compiled once for every kind of data, it
reaches the compiled epoch through function pointers), so small problems do
not pay Python's per-iteration overhead.
Backends and solvers differ only in how one epoch is computed, chosen by the
type of ``data``: :class:`DataPass` reads the data, :class:`GramData` uses
sufficient statistics.

Parameters travel as one float64 vector ``params = [v_1, ..., v_d, c]`` in
the loop's parametrisation, the model ``(x - shift) . (scale * v) + c``
(``shift`` and ``scale`` empty for the plain model ``x . v + c``), and
gradients likewise, so every update is one line for every model.

Three methods share the loop:

* ``GRADIENT_DESCENT``: ``params -= steps * grad``;
* ``NESTEROV``: the same step from a look-ahead point, with FISTA momentum
  and adaptive restart;
* ``CONJUGATE_GRADIENT``: linear conjugate gradients with the exact step
  length of the quadratic. An iteration is one Hessian-vector pass (the epoch
  with ``y = None``); the gradient is updated by recurrence and recomputed
  from the data every ``refresh_every`` iterations, so rounding cannot drift.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from types import FunctionType

import numpy as np
from numba import types
from numba._dispatcher import compute_fingerprint
from numba.core import cgutils
from numba.core.dispatcher import Dispatcher
from numba.experimental import function_type as function_type_support
from numba.extending import intrinsic, overload, register_jitable

from . import kernels, reference
from ._config import OVERLOAD_OPTIONS
from ._jit import jit
from .types import (  # noqa: F401  (the codes and types are also fastgd.loop's, for callers of the loop)
    CONJUGATE_GRADIENT,
    CONVERGED,
    DIVERGED,
    GRADIENT_DESCENT,
    NESTEROV,
    REACHED_THRESHOLD,
    RUNNING,
    DataPass,
    GramData,
    LoopSettings,
    LoopState,
    new_state,
)
from .validation import prepare_data  # noqa: F401

# Nesterov restarts when the loss rises by more than this fraction. Rises at
# the level of rounding are ignored, so the restart decisions (and hence the
# trajectory) do not depend on how a backend or solver rounds.
RESTART_TOLERANCE = 1e-10

# Plain gradient descent with a stable step never raises the loss of a
# quadratic (every eigen-component of the error shrinks), so a rise beyond
# rounding means the step is unstable: the loop stops at once instead of
# waiting for the loss to blow up.
MONOTONE_TOLERANCE = 1e-9


def epoch(data, params, grad):
    """Return the loss at ``params`` and write its gradient into ``grad``: the reference path's epoch.

    The kernel path's is :func:`kernel_epoch`. Other front ends (e.g. :mod:`fastgd.dask`) pass an object with an
    ``epoch(params, grad)`` method to the Python loop.
    """
    if hasattr(data, "epoch"):
        return data.epoch(params, grad)
    n_features = params.shape[0] - 1
    if isinstance(data, GramData):
        loss, grad[:n_features], grad[n_features] = reference.statistics_loss_and_gradients(
            data, params[:n_features], params[-1]
        )
        return loss
    w, b = to_model(data, params)
    X = data.X
    y = data.y if data.target_factor == 1.0 else data.target_factor * np.asarray(data.y, dtype=np.float64)
    loss, grad_w, grad_b = reference.loss_and_gradients(X, y, w[0] if X.ndim == 1 else w, b, data.sample_weight)
    grad[:n_features] = grad_w
    grad[n_features] = grad_b
    from_model_gradient(data, grad)
    return loss


def to_model(data: DataPass, params: np.ndarray) -> tuple[np.ndarray, float]:
    """The plain model's ``(w, b)`` for loop parameters ``[v, c]``: ``w = scale * v``, ``b = c - shift . w``."""
    n_features = params.shape[0] - 1
    w = params[:n_features] * data.scale if data.scale.shape[0] > 0 else params[:n_features].copy()
    b = float(params[n_features]) - (float(data.shift @ w) if data.shift.shape[0] > 0 else 0.0)
    return w, b


def from_model_gradient(data: DataPass, grad: np.ndarray) -> None:
    """Map the plain model's gradient (in place) to the loop's parameters: the chain rule of :func:`to_model`."""
    n_features = grad.shape[0] - 1
    if data.shift.shape[0] > 0:
        grad[:n_features] -= grad[n_features] * data.shift
    if data.scale.shape[0] > 0:
        grad[:n_features] *= data.scale


def _statistics_epoch(data, params, grad):
    """The kernel path's epoch over a :class:`GramData`: ``O(d^2)`` (:func:`fastgd.kernels.gram_loss_and_gradients`)."""
    n_features = params.shape[0] - 1
    loss, grad_b = kernels.gram_loss_and_gradients(
        data.cov_xx, data.cov_xy, data.var_y, data.mean_y, data.offset,
        params[:n_features], params[n_features], grad[:n_features],
    )  # fmt: skip
    grad[n_features] = grad_b
    return loss


statistics_epoch = jit(_statistics_epoch, name="statistics_epoch")


def kernel_epoch_for(data):
    """The kernel path's compiled epoch for ``data``: :data:`statistics_epoch` or the fused epoch for ``data.parallel``."""
    return statistics_epoch if isinstance(data, GramData) else kernels.fused_epoch_for(data.parallel)


def kernel_epoch(data, params, grad):
    """The kernel path's epoch: one fused pass over a :class:`DataPass`, ``O(d^2)`` over a :class:`GramData`.

    Under ``NUMBA_DISABLE_JIT=1`` the same kernels run as plain Python.
    """
    return kernel_epoch_for(data)(data, params, grad)


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
def copy_into(target, source):
    """``target[:] = source`` as a loop (the slice assignment costs a broadcast check per call)."""
    for j in range(source.shape[0]):
        target[j] = source[j]


@register_jitable
def stepped_gradient_norm(grad, steps):
    """Norm of the gradient over the parameters that move (a parameter held fixed has step 0)."""
    total = 0.0
    for j in range(grad.shape[0]):
        if steps[j] != 0.0:
            total += grad[j] * grad[j]
    return np.sqrt(total)


@register_jitable
def error_estimate(matrix, max_norm, grad):
    """``|matrix @ grad|``: the largest entry's magnitude if ``max_norm``, else the Euclidean norm."""
    worst = 0.0
    total = 0.0
    for i in range(matrix.shape[0]):
        entry = 0.0
        for k in range(grad.shape[0]):
            entry += matrix[i, k] * grad[k]
        worst = max(worst, abs(entry))
        total += entry * entry
    return worst if max_norm else np.sqrt(total)


@register_jitable
def add_penalty(params, grad, ridge, l1):
    """Add the penalty ``sum(ridge * p**2) + sum(l1 * |p|)`` at ``params``; returns it.

    The ridge part's gradient ``2 ridge p`` is added to ``grad``; the L1
    part is not differentiable and enters through :func:`soft_threshold`.
    Empty arrays stand for an absent part.
    """
    penalty = 0.0
    for j in range(ridge.shape[0]):
        penalty += ridge[j] * params[j] * params[j]
        grad[j] += 2.0 * ridge[j] * params[j]
    for j in range(l1.shape[0]):
        penalty += l1[j] * abs(params[j])
    return penalty


@register_jitable
def soft_threshold(params, steps, l1):
    """The L1 penalty's proximal step, in place: shrink each ``p_j`` towards 0 by ``steps_j * l1_j``, to 0 if it crosses."""
    for j in range(l1.shape[0]):
        shrink = steps[j] * l1[j]
        if params[j] > shrink:
            params[j] -= shrink
        elif params[j] < -shrink:
            params[j] += shrink
        else:
            params[j] = 0.0


@register_jitable
def minimum_norm_subgradient(params, grad, l1, out):
    """The subgradient of smallest norm of loss + L1 penalty at ``params``, into ``out``; returns ``out``.

    Where ``p_j != 0`` it is ``g_j + l1_j sign(p_j)``; at ``p_j = 0`` the
    penalty's subdifferential ``[-l1_j, l1_j]`` absorbs up to ``l1_j`` of
    ``g_j``. Zero exactly at the optimum, and the gradient itself when the
    penalty is smooth.
    """
    for j in range(grad.shape[0]):
        out[j] = grad[j]
    for j in range(l1.shape[0]):
        if params[j] > 0.0:
            out[j] = grad[j] + l1[j]
        elif params[j] < 0.0:
            out[j] = grad[j] - l1[j]
        elif grad[j] > l1[j]:
            out[j] = grad[j] - l1[j]
        elif grad[j] < -l1[j]:
            out[j] = grad[j] + l1[j]
        else:
            out[j] = 0.0
    return out


@register_jitable
def _conjugate_gradient_direction(state, steps):
    """The next CG direction from ``state.grad`` (the gradient at ``state.params``); returns its slope.

    Polak-Ribiere's ``beta`` (clipped at 0, which restarts along the
    steepest descent) equals the textbook ``|g|^2 / |g_old|^2`` in exact
    arithmetic and stays robust when the gradient was just recomputed from
    the data. A slope of 0 means there is nothing left to minimise.
    """
    grad = state.grad
    direction = state.direction
    old = state.old_grad
    n_params = grad.shape[0]
    grad_squared = 0.0
    old_squared = 0.0
    cross = 0.0
    for j in range(n_params):
        if steps[j] != 0.0:
            grad_squared += grad[j] * grad[j]
            old_squared += old[j] * old[j]
            cross += grad[j] * old[j]
    beta = 0.0
    if old_squared > 0.0:
        beta = max(0.0, (grad_squared - cross) / old_squared)
    slope = 0.0
    for j in range(n_params):
        direction[j] = beta * direction[j] - grad[j] if steps[j] != 0.0 else 0.0
        slope += grad[j] * direction[j]
    if not slope < 0.0:
        # Rounding made the direction non-descending: restart along -grad.
        slope = 0.0
        for j in range(n_params):
            direction[j] = -grad[j] if steps[j] != 0.0 else 0.0
            slope -= grad[j] * grad[j] if steps[j] != 0.0 else 0.0
    for j in range(n_params):
        old[j] = grad[j]
    return slope


@register_jitable
def _conjugate_gradient_update(state, steps, slope, curvature):
    """Move ``state.params`` the exact step along the direction of ``slope`` and ``curvature``.

    ``curvature`` is ``d' H d``, and ``state.curvature_direction`` holds
    ``2 H d`` (the epoch with ``y = None`` at the direction ``d``). Returns
    False when the direction has no curvature.
    """
    if not curvature > 0.0:
        return False
    alpha = -slope / (2.0 * curvature)
    grad = state.grad
    for j in range(grad.shape[0]):
        state.params[j] += alpha * state.direction[j]
        if steps[j] != 0.0:
            grad[j] += alpha * state.curvature_direction[j]
    # The recurrence cannot see losses far below the rounding of the first one; never below zero.
    state.cg_loss[0] = max(0.0, state.last_loss[0] + alpha * slope + alpha * alpha * curvature)
    state.grad_is_true[0] = 0.0
    return True


def descent_loop_through(epoch_of, data, data_hessian, settings, state, start, n_steps):
    """Run up to ``n_steps`` iterations from iteration ``start``, updating ``state`` in place.

    Iteration ``k`` takes the loss and gradient at a point: the parameters
    themselves (plain gradient descent, conjugate gradients) or Nesterov's
    look-ahead ``params + beta * (params - previous)``. It records the loss
    in ``loss_history[k]`` (and the point in ``params_history[k]`` when that
    array has rows), runs the checks of :class:`LoopSettings`, then steps.
    A run that stops at a check leaves ``params`` at that point.

    Nesterov's momentum uses the FISTA sequence ``t``, restarted (momentum
    set to zero) whenever the loss goes up: that keeps it monotone in
    practice and gives linear convergence on strongly convex problems
    without knowing their curvature (O'Donoghue and Candès, 2015).

    Conjugate gradients take the loss and gradient from the data at the
    first iteration and every ``refresh_every`` iterations (a caller forces
    a refresh by setting ``since_refresh`` to it), by recurrence in between;
    each step costs one Hessian-vector pass over ``data_hessian``.

    ``epoch_of(data, params, grad)`` (and ``epoch_of(data_hessian, ...)``:
    both of one type) computes the epochs: :func:`epoch` on the reference
    path; compiled, a function pointer (:func:`descent_loop_compiled`).

    Returns ``(status, steps_done)``.
    """
    steps = settings.steps
    method = settings.method
    # Locals for the arrays touched every iteration (the loop reads them through the state otherwise).
    params, point, grad = state.params, state.point, state.grad
    loss_history, last_good = state.loss_history, state.last_good
    for step in range(n_steps):
        iteration = start + step
        if method == CONJUGATE_GRADIENT:
            if iteration == 0 or state.since_refresh[0] >= settings.refresh_every:
                loss = epoch_of(data, params, grad) + add_penalty(params, grad, settings.ridge, settings.l1)
                state.passes[0] += 1
                state.grad_is_true[0] = 1.0
                state.since_refresh[0] = 0
            else:
                loss = state.cg_loss[0]
            state.since_refresh[0] += 1
            copy_into(point, params)
        else:
            beta = 0.0
            if method == NESTEROV:
                t = state.momentum[0]
                t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
                beta = (t - 1.0) / t_next
                state.momentum[0] = t_next
            look_ahead(point, params, state.previous, beta)
            loss = epoch_of(data, point, grad) + add_penalty(point, grad, settings.ridge, settings.l1)
            state.passes[0] += 1
            state.grad_is_true[0] = 1.0
        loss_history[iteration] = loss
        if state.params_history.shape[0] > 0:
            copy_into(state.params_history[iteration], point)
        # Written so that a NaN loss fails the tests too.
        limit = settings.divergence_factor * loss_history[0] + settings.loss_floor
        rising = method == GRADIENT_DESCENT and iteration > 0
        if rising:
            rising = loss > state.last_loss[0] * (1.0 + MONOTONE_TOLERANCE) + settings.loss_floor
        if not (loss <= limit) or not np.isfinite(loss) or rising:
            return DIVERGED, step + 1
        copy_into(last_good, point)
        # With an L1 penalty the tests measure the minimum-norm subgradient (the gradient otherwise).
        optimality = (
            minimum_norm_subgradient(point, grad, settings.l1, state.optimality) if settings.l1.shape[0] > 0 else grad
        )
        if iteration == 0:
            state.first_grad_norm[0] = stepped_gradient_norm(optimality, steps)
        if loss <= settings.loss_threshold:
            copy_into(params, point)
            return REACHED_THRESHOLD, step + 1
        # The test costs O(d^2): skipped, after the first iteration, when the run does not stop on it.
        if settings.error_tol >= 0.0 or iteration == 0:
            error = error_estimate(settings.error_matrix, settings.error_max_norm, optimality)
            if iteration == 0:
                state.first_error[0] = error
            if error <= settings.error_tol:
                copy_into(params, point)
                return CONVERGED, step + 1
        if method == NESTEROV and loss > state.last_loss[0] * (1.0 + RESTART_TOLERANCE):
            state.momentum[0] = 1.0
        state.last_loss[0] = loss
        if method == CONJUGATE_GRADIENT:
            # One CG step. Its Hessian-vector epoch is called here, not in a
            # helper: every compiled caller of an epoch compiles its own copy.
            slope = _conjugate_gradient_direction(state, steps)
            if slope == 0.0:
                return CONVERGED, step + 1
            curvature = epoch_of(data_hessian, state.direction, state.curvature_direction)
            # Ridge's curvature (conjugate gradients take no L1 penalty: fastgd.setup refuses it).
            curvature += add_penalty(state.direction, state.curvature_direction, settings.ridge, settings.l1)
            state.passes[0] += 1
            if not _conjugate_gradient_update(state, steps, slope, curvature):
                return CONVERGED, step + 1
        else:
            take_step(params, state.previous, point, grad, steps)
            soft_threshold(params, steps, settings.l1)
    return RUNNING, n_steps


def descent_loop(data, data_hessian, settings, state, start, n_steps):
    """The reference path's loop: :func:`descent_loop_through` with :func:`epoch`, run as Python."""
    return descent_loop_through(epoch, data, data_hessian, settings, state, start, n_steps)


# --- the compiled loop: one for every kind of data ----------------------------------------------
#
# numba specialises a compiled function on its arguments' types, and a pointer's type names its
# arguments' types: a loop receiving ``epoch(data, params, grad)`` would compile again for each kind
# of data (C or Fortran order, weights, float32, statistics: seconds each). So the loop sees the data
# only as an untyped pointer (``voidptr``), to a block ``(data, epoch)`` on the stack of a small
# per-kind driver, and calls an "erased" epoch: a per-kind function of one signature for every kind,
# which reads the block back and calls the real epoch. The loop compiles once; a new kind of data
# compiles its epoch, a driver and an erased epoch (a few dozen instructions each).
#
# Two costs are avoided on the way. The block's arrays carry no owner (numba's reference-counted
# "meminfo"): the driver's own arguments keep them alive while the loop runs, and an epoch reading
# owned arrays from the block would count references (atomic operations) on every call. And the
# driver gets its pointers as addresses found once, not as dispatchers, which numba would look up
# in Python on every call (tens of microseconds each).


def _without_owners(context, builder, value_type: types.Type, value):
    """``value`` with the owner (meminfo) of each array in it cleared: a view kept alive elsewhere."""
    if isinstance(value_type, types.Array):
        array = context.make_array(value_type)(context, builder, value)
        array.meminfo = cgutils.get_null_value(array.meminfo.type)
        return array._getvalue()
    if isinstance(value_type, types.BaseTuple):
        for index, member_type in enumerate(value_type.types):
            member = builder.extract_value(value, index)
            value = builder.insert_value(value, _without_owners(context, builder, member_type, member), index)
    return value


@intrinsic
def _address_of(typingctx, value):
    """A pointer to a copy of ``value``, its arrays without owners, on the caller's stack: valid until it returns."""

    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once_value(builder, _without_owners(context, builder, signature.args[0], args[0]))
        return builder.bitcast(slot, cgutils.voidptr_t)

    return types.voidptr(value), codegen


def _block_reader(block_type: types.Type):
    """An intrinsic reading back a ``block_type`` that :func:`_address_of` put on the stack."""

    @intrinsic
    def read_block(typingctx, pointer):
        def codegen(context, builder, signature, args):
            typed = builder.bitcast(args[0], context.get_value_type(block_type).as_pointer())
            # Nothing to count: the block's arrays have no owners (numba skips a null meminfo).
            return builder.load(typed)

        return block_type(types.voidptr), codegen

    return read_block


def _function_maker(function_type: types.FunctionType):
    """An intrinsic making a ``function_type`` pointer from its two addresses (:func:`_function_addresses`)."""

    @intrinsic
    def function_at(typingctx, c_address, jit_address):
        def codegen(context, builder, signature, args):
            function = cgutils.create_struct_proxy(function_type)(context, builder)
            function.c_addr = builder.inttoptr(args[0], cgutils.voidptr_t)
            function.jit_addr = builder.inttoptr(args[1], cgutils.voidptr_t)  # the one called: exceptions propagate
            function.py_addr = builder.inttoptr(context.get_constant(types.intp, 0), cgutils.voidptr_t)
            return function._getvalue()

        return function_type(types.int64, types.int64), codegen

    return function_at


def _function_addresses(dispatcher: Dispatcher, function_type: types.FunctionType) -> list[int]:
    """The C and the native address of ``dispatcher`` compiled for ``function_type``, as numba finds them."""
    signature = function_type.signature
    return [function_type_support._get_wrapper_address(dispatcher, signature),
            function_type_support._get_jit_address(dispatcher, signature)]  # fmt: skip


def _specialised(template: Callable, name: str, from_python: bool, **names: object) -> Dispatcher:
    """``template``'s code compiled under ``name``, with ``names`` among its globals (``from_python``: see ``jit``).

    The name (and so the cache entry) must say everything ``names`` do: callers
    derive it from the numba types the intrinsics in ``names`` are made for.
    """
    source = FunctionType(template.__code__, {**globals(), **names}, name)
    return jit(source, name=name, from_python=from_python)


def _type_digest(*numba_types: types.Type) -> str:
    return hashlib.sha256(repr([str(numba_type) for numba_type in numba_types]).encode()).hexdigest()[:16]


def _erased_epoch(block, params, grad):
    # The source of every erased epoch; _read_block is set per kind (see _erased_epoch_for).
    data, epoch_of = _read_block(block)  # noqa: F821
    return epoch_of(data, params, grad)


def _loop_driver(addresses, data, data_hessian, settings, state, start, n_steps):
    # The source of every driver; the three makers are set per kind (see _compile_loop).
    loop = _loop_at(addresses[0], addresses[1])  # noqa: F821
    erased_epoch = _erased_epoch_at(addresses[2], addresses[3])  # noqa: F821
    epoch_of = _epoch_at(addresses[4], addresses[5])  # noqa: F821
    # The blocks live on this function's stack for as long as the loop runs.
    block = _address_of((data, epoch_of))
    hessian_block = _address_of((data_hessian, epoch_of))
    return loop(erased_epoch, block, hessian_block, settings, state, start, n_steps)


_VECTOR = types.float64[::1]
# The one type of every erased epoch, and so the loop's first argument whatever the data.
ERASED_EPOCH = types.FunctionType(types.float64(types.voidptr, _VECTOR, _VECTOR))

# The numba dispatchers behind descent_loop_compiled (their cache statistics are in `.stats`).
descent_loop_dispatcher = jit(descent_loop_through, name="descent_loop", from_python=False)
_ERASED_EPOCHS: dict[str, Dispatcher] = {}
_LOOP_DRIVERS: dict[str, Dispatcher] = {}

# What descent_loop_compiled calls, by numba's fingerprints of its arguments: a driver's entry
# point and the addresses it takes (its dispatchers stay in the tables above, keeping the code).
_COMPILED_LOOPS: dict[tuple, tuple[Callable, np.ndarray]] = {}


def _argument_types(dispatcher: Dispatcher, args: tuple) -> tuple:
    return tuple(dispatcher.typeof_pyval(arg) for arg in args)


def _function_type(dispatcher: Dispatcher, argument_types: tuple) -> types.FunctionType:
    """The numba type of a pointer to ``dispatcher`` compiled for ``argument_types`` (compiled or loaded now)."""
    dispatcher.compile(argument_types)
    return types.FunctionType(dispatcher.overloads[argument_types].signature)


def _erased_epoch_for(epoch_type: types.FunctionType, data_type: types.Type) -> Dispatcher:
    """The erased epoch of blocks ``(data, epoch)`` of these types, compiled (or loaded from the cache)."""
    # The data first: numba warns of an experimental feature for a tuple that starts with a function.
    block_type = types.Tuple((data_type, epoch_type))
    name = "erased_epoch_" + _type_digest(block_type)
    if name not in _ERASED_EPOCHS:
        dispatcher = _specialised(_erased_epoch, name, False, _read_block=_block_reader(block_type))
        dispatcher.compile(ERASED_EPOCH.signature.args)
        _ERASED_EPOCHS[name] = dispatcher
    return _ERASED_EPOCHS[name]


def _compile_loop(compiled_epoch: Dispatcher, data, data_hessian, settings, state) -> tuple[Callable, np.ndarray]:
    """A driver's entry point for these arguments' types and its addresses; the loop compiles once for all kinds."""
    data_type, hessian_type, settings_type, state_type = _argument_types(
        descent_loop_dispatcher, (data, data_hessian, settings, state)
    )
    if data_type != hessian_type:  # one epoch pointer serves both
        raise TypeError(
            f"the loop's data and data_hessian must be of one numba type, got {data_type} and {hessian_type}"
        )
    epoch_type = _function_type(
        compiled_epoch, (data_type, *_argument_types(compiled_epoch, (state.params, state.grad)))
    )
    erased_epoch = _erased_epoch_for(epoch_type, data_type)
    counts = (types.int64, types.int64)
    loop_type = _function_type(
        descent_loop_dispatcher, (ERASED_EPOCH, types.voidptr, types.voidptr, settings_type, state_type, *counts)
    )
    name = "loop_driver_" + _type_digest(loop_type, epoch_type)
    if name not in _LOOP_DRIVERS:
        _LOOP_DRIVERS[name] = _specialised(
            _loop_driver, name, True,
            _loop_at=_function_maker(loop_type), _erased_epoch_at=_function_maker(ERASED_EPOCH),
            _epoch_at=_function_maker(epoch_type),
        )  # fmt: skip
    driver = _LOOP_DRIVERS[name]
    addresses = np.array(
        _function_addresses(descent_loop_dispatcher, loop_type)
        + _function_addresses(erased_epoch, ERASED_EPOCH)
        + _function_addresses(compiled_epoch, epoch_type),
        dtype=np.int64,
    )
    driver_types = (driver.typeof_pyval(addresses), data_type, hessian_type, settings_type, state_type, *counts)
    driver.compile(driver_types)
    return driver.overloads[driver_types].entry_point, addresses


def descent_loop_compiled(data, data_hessian, settings, state, start, n_steps):
    """The kernel path's loop: :func:`descent_loop_through` compiled once, its epoch reached through pointers.

    numba links the code of every function a compiled function calls by
    name into it and optimises it all again, so a loop calling its epoch
    would compile the fused kernel a second time (seconds on first use). The
    epoch is compiled on its own, once per kind of data, and reached through
    a pointer; the loop, through an erased epoch (see above), compiles once
    for every kind. Each is loaded from the on-disk cache by its own
    signature, and a pointer call costs nanoseconds.
    """
    compiled_epoch = kernel_epoch_for(data)
    if not isinstance(descent_loop_dispatcher, Dispatcher):  # NUMBA_DISABLE_JIT=1: all of it as Python
        return descent_loop_dispatcher(compiled_epoch, data, data_hessian, settings, state, int(start), int(n_steps))
    # numba's own fingerprints (what its dispatcher keys argument types on), ~50 times faster than typing.
    key = tuple((type(arg), compute_fingerprint(arg)) for arg in (data, data_hessian, settings, state))
    compiled = _COMPILED_LOOPS.get(key)
    if compiled is None:
        compiled = _COMPILED_LOOPS[key] = _compile_loop(compiled_epoch, data, data_hessian, settings, state)
    run, addresses = compiled
    # Python ints: the entry point converts whatever it is given to its signature's types, unchecked.
    return run(addresses, data, data_hessian, settings, state, int(start), int(n_steps))


def evaluate(data, params, grad):
    """The loss at ``params`` (and its gradient, into ``grad``): the loop's epoch as one call (numpy backend)."""
    return epoch(data, params, grad)


# The same with the kernels (numba backend): the loop's compiled epoch, called from Python.
evaluate_kernels = kernel_epoch
