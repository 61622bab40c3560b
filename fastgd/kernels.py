"""Numba kernels: one fused pass computes the loss and both gradients.

This module holds kernels only. Inputs arrive validated and in a supported
dtype (see :mod:`fastgd.validation`); parameters ``w`` always arrive as a
float64 array of shape ``(d,)``, also for one-dimensional ``X`` (then ``d = 1``).

How a pass is organised:

* rows are cut into chunks of a fixed size that depends only on the number of
  features (:func:`fastgd._config.chunk_rows_for`);
* each chunk accumulates its partial sums in float64 scalars and one float64
  row of gradient sums, reading each element of ``X`` and ``y`` from memory
  exactly once, with no per-row temporaries. C-ordered ``X`` goes row by row
  (four rows at a time); Fortran-ordered ``X`` goes column by column, keeping
  the chunk's residuals in one chunk-sized buffer (at most 2^15 rows, in
  cache) between a residual sweep and a gradient sweep; other layouts take a
  plain row loop;
* partial sums are then added in chunk order.

So the result does not depend on how many threads ran the chunks, and small
inputs take a serial loop over the very same chunks.

Every function here is plain Python as well: a dispatcher such as
:func:`_chunk_sums` picks its variant by ``X``'s layout at run time in
Python and by ``X``'s type when compiled (its ``@overload``), so with
``NUMBA_DISABLE_JIT=1`` the kernel bodies run, and can be stepped through or
measured for coverage, as written.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic, overload

from ._config import (
    CACHE_LINE_BYTES,
    OVERLOAD_OPTIONS,
    PARALLEL_MIN_ELEMENTS,
    PREFETCH_BYTES,
    STATISTICS_PARALLEL_MIN_WORK,
)
from ._jit import jit
from .types import DataPass


def start_threading_layer() -> None:
    """Start numba's threading layer (idempotent); call before the first compiled call of a process.

    A cached function that calls a parallel kernel (the compiled training
    loop, fused_epoch_parallel itself) is loaded from numba's on-disk
    cache without the parallel kernel's own dispatcher running, so nothing
    need have started the threading layer. We saw such a process crash in its
    first parallel region (with a cache holding many signatures), and
    starting the layer first cured it. :mod:`fastgd.backends` calls this when
    the numba backend is first used, so importing fastgd starts nothing.
    """
    numba.get_num_threads()


# numba's "workqueue" threading layer (its fallback where neither OpenMP nor
# TBB is available) aborts the process when two Python threads run parallel
# regions at once. Under it, fastgd runs compiled calls one at a time.
_WORKQUEUE_LOCK = threading.Lock()


def calls_one_at_a_time() -> bool:
    """Whether compiled calls must not overlap: numba runs the ``workqueue`` layer (starting the layer if need be)."""
    if numba.config.DISABLE_JIT:
        return False
    start_threading_layer()
    return numba.threading_layer() == "workqueue"


def layer_lock() -> contextlib.AbstractContextManager:
    """What to hold around a compiled call: a process-wide lock under the ``workqueue`` layer, else nothing.

    OpenMP and TBB run parallel regions from several threads at once, so
    calls there run concurrently.
    """
    return _WORKQUEUE_LOCK if calls_one_at_a_time() else contextlib.nullcontext()


def _array_key(X) -> str:
    """Which variant of a kernel reads ``X`` (a numpy array): "1d", "C", "F" or "A" (any other strides)."""
    if X.ndim == 1:
        return "1d"
    if X.flags.c_contiguous:
        return "C"
    return "F" if X.flags.f_contiguous else "A"


def _type_key(X) -> str | None:
    """The same choice from ``X``'s numba type, when compiling (None: not an array this module handles)."""
    if not isinstance(X, types.Array) or X.ndim not in (1, 2):
        return None
    if X.ndim == 1:
        return "1d"
    return X.layout if X.layout in ("C", "F") else "A"


def _prefetch(array, index):
    """Ask the CPU to start loading the cache line of ``array.ravel()[index]``; in Python, nothing."""


@overload(_prefetch, jit_options=OVERLOAD_OPTIONS)
def _prefetch_overload(array, index):
    return lambda array, index: _prefetch_instruction(array, index)


@intrinsic
def _prefetch_instruction(typingctx, array, index):
    """Ask the CPU to start loading the cache line of ``array.ravel()[index]`` (a hint, never a fault).

    ``llvm.prefetch`` (read, high locality, data cache). An index past the
    array's end is allowed: prefetch instructions never fault (x86 PREFETCHh,
    AArch64 PRFM), so a hint past the data is a harmless no-op.
    """
    if not (isinstance(array, types.Array) and isinstance(index, types.Integer)):
        return None
    signature = types.void(array, index)

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        address = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(8).as_pointer())
        int32 = ir.IntType(32)
        # declare_intrinsic mangles the name for this llvmlite's pointer type, as numba does for llvm.memset.
        function = builder.module.declare_intrinsic(
            "llvm.prefetch", [address.type], ir.FunctionType(ir.VoidType(), [address.type, int32, int32, int32])
        )
        builder.call(function, [address, int32(0), int32(3), int32(1)])
        return context.get_dummy_value()

    return signature, codegen


# Why every chunk loop slices first and then counts from 0: numba indexes with
# a check for negative indices (Python's wraparound). When a loop starts at an
# offset LLVM cannot prove non-negative, that check stays in the loop body and
# blocks vectorisation (a chunk sum ran several times slower; docs/performance.md,
# "Tuning constants"). Counting from 0 over a slice lets LLVM drop the check.
def _rows(a, start, stop):
    """``a[start:stop]``, or None when ``a`` is None."""
    return None if a is None else a[start:stop]


@overload(_rows, jit_options=OVERLOAD_OPTIONS)
def _rows_overload(a, start, stop):
    if isinstance(a, types.NoneType):
        return lambda a, start, stop: None
    return lambda a, start, stop: a[start:stop]


def _weight(weights, i):
    """``weights[i]``, or 1.0 when ``weights`` is None (multiplying by it then compiles away)."""
    return 1.0 if weights is None else weights[i]


@overload(_weight, jit_options=OVERLOAD_OPTIONS)
def _weight_overload(weights, i):
    if isinstance(weights, types.NoneType):
        return lambda weights, i: 1.0
    return lambda weights, i: weights[i]


def _chunk_sums(X, y, sample_weight, w, b, start, stop, grad_row, target_factor):
    """Sum ``s*r*r`` and ``s*r`` over rows ``start:stop``, adding ``s*r*x`` into ``grad_row``.

    ``r`` is the residual ``x.w + b - target_factor * y`` and ``s`` the sample weight (1 when
    ``sample_weight`` is None). Dispatches on ``X``'s layout (:data:`CHUNK_SUMS`).
    """
    return CHUNK_SUMS[_array_key(X)](X, y, sample_weight, w, b, start, stop, grad_row, target_factor)


def _chunk_sums_1d(X, y, sample_weight, w, b, start, stop, grad_row, target_factor):
    x = X[start:stop]
    targets = _rows(y, start, stop)
    weights = _rows(sample_weight, start, stop)
    slope = w[0]
    loss_sum = 0.0
    residual_sum = 0.0
    residual_x_sum = 0.0
    for i in range(x.shape[0]):
        residual = slope * x[i] + b - target_factor * targets[i]
        weighted = _weight(weights, i) * residual
        loss_sum += weighted * residual
        residual_sum += weighted
        residual_x_sum += weighted * x[i]
    grad_row[0] = residual_x_sum
    return loss_sum, residual_sum


def _chunk_sums_2d(X, y, sample_weight, w, b, start, stop, grad_row, target_factor):
    rows = X[start:stop]
    targets = _rows(y, start, stop)
    weights = _rows(sample_weight, start, stop)
    n_features = X.shape[1]
    loss_sum = 0.0
    residual_sum = 0.0
    # A fresh local accumulator rather than the caller's row of partials:
    # LLVM then knows it aliases nothing else and vectorises the update.
    gradient = np.zeros(n_features)
    for i in range(rows.shape[0]):
        residual = b - target_factor * targets[i]
        for j in range(n_features):
            residual += rows[i, j] * w[j]
        weighted = _weight(weights, i) * residual
        loss_sum += weighted * residual
        residual_sum += weighted
        for j in range(n_features):
            gradient[j] += weighted * rows[i, j]
    for j in range(n_features):  # a loop, not grad_row[:] = ...: a slice copy compiles a shape check
        grad_row[j] = gradient[j]
    return loss_sum, residual_sum


def _chunk_sums_2d_contiguous(X, y, sample_weight, w, b, start, stop, grad_row, target_factor):
    # Two changes over the plain row loop (_chunk_sums_2d), which took one
    # thread from half to nearly all of the read-once roofline at d = 8
    # (docs/performance.md, "Tuning constants").
    # * Four rows at a time. With a runtime feature count LLVM vectorises
    #   the loop over features 8 or 16 wide and unrolled, so for d = 8 it ran
    #   the scalar remainder only; four independent dot products per pass
    #   also hide the latency of their horizontal sums, and the gradient row
    #   is loaded and stored once per four rows instead of once per row.
    # * A software prefetch PREFETCH_BYTES ahead. Alone, the hardware
    #   prefetcher let compute and memory take turns (epoch time ~ compute
    #   time + read time); requesting lines early makes them overlap.
    n_features = X.shape[1]
    flat = X.reshape(-1)
    line = max(1, CACHE_LINE_BYTES // X.itemsize)
    # At least two groups of four rows ahead, or wide rows would prefetch the group in hand.
    ahead = max(PREFETCH_BYTES // X.itemsize, 8 * n_features)
    rows = X[start:stop]
    targets = _rows(y, start, stop)
    weights = _rows(sample_weight, start, stop)
    n_rows = stop - start
    loss_sum = 0.0
    residual_sum = 0.0
    # A fresh local accumulator rather than the caller's row of partials:
    # LLVM then knows it aliases nothing else.
    gradient = np.zeros(n_features)
    n_quads = n_rows - n_rows % 4
    for i in range(0, n_quads, 4):
        offset = (start + i) * n_features + ahead
        for k in range(0, 4 * n_features, line):
            _prefetch(flat, offset + k)
        x0 = rows[i]
        x1 = rows[i + 1]
        x2 = rows[i + 2]
        x3 = rows[i + 3]
        r0 = b - target_factor * targets[i]
        r1 = b - target_factor * targets[i + 1]
        r2 = b - target_factor * targets[i + 2]
        r3 = b - target_factor * targets[i + 3]
        for j in range(n_features):
            r0 += x0[j] * w[j]
            r1 += x1[j] * w[j]
            r2 += x2[j] * w[j]
            r3 += x3[j] * w[j]
        s0 = _weight(weights, i) * r0
        s1 = _weight(weights, i + 1) * r1
        s2 = _weight(weights, i + 2) * r2
        s3 = _weight(weights, i + 3) * r3
        loss_sum += (s0 * r0 + s1 * r1) + (s2 * r2 + s3 * r3)
        residual_sum += (s0 + s1) + (s2 + s3)
        for j in range(n_features):
            gradient[j] += (s0 * x0[j] + s1 * x1[j]) + (s2 * x2[j] + s3 * x3[j])
    for i in range(n_quads, n_rows):
        x = rows[i]
        residual = b - target_factor * targets[i]
        for j in range(n_features):
            residual += x[j] * w[j]
        weighted = _weight(weights, i) * residual
        loss_sum += weighted * residual
        residual_sum += weighted
        for j in range(n_features):
            gradient[j] += weighted * x[j]
    for j in range(n_features):  # a loop, not grad_row[:] = ...: a slice copy compiles a shape check
        grad_row[j] = gradient[j]
    return loss_sum, residual_sum


def _chunk_sums_2d_fortran(X, y, sample_weight, w, b, start, stop, grad_row, target_factor):
    # In a Fortran-ordered X each column of the chunk is one contiguous run,
    # so the chunk goes column by column: residuals += column * w_j, then each
    # gradient is a dot product of a column with the weighted residuals. Both
    # loops are unit-stride and vectorise whatever d is; the second sweep
    # reads the chunk (2^15 elements) from cache, so memory still sees one
    # read. Columns go four at a time, so the residuals are loaded and stored
    # once per four columns. The row loop of _chunk_sums_2d ran far below the
    # roofline on such data (docs/performance.md, "Tuning constants").
    columns = X.T  # C-ordered (d, n): columns[j, start:stop] is contiguous
    targets = _rows(y, start, stop)
    weights = _rows(sample_weight, start, stop)
    n_rows = stop - start
    n_features = X.shape[1]
    n_quads = n_features - n_features % 4
    residuals = np.empty(n_rows)
    for i in range(n_rows):
        residuals[i] = b - target_factor * targets[i]
    for j in range(0, n_quads, 4):
        c0 = columns[j, start:stop]
        c1 = columns[j + 1, start:stop]
        c2 = columns[j + 2, start:stop]
        c3 = columns[j + 3, start:stop]
        w0, w1, w2, w3 = w[j], w[j + 1], w[j + 2], w[j + 3]
        for i in range(n_rows):
            residuals[i] += (c0[i] * w0 + c1[i] * w1) + (c2[i] * w2 + c3[i] * w3)
    for j in range(n_quads, n_features):
        column = columns[j, start:stop]
        weight_j = w[j]
        for i in range(n_rows):
            residuals[i] += column[i] * weight_j
    loss_sum = 0.0
    residual_sum = 0.0
    for i in range(n_rows):
        weighted = _weight(weights, i) * residuals[i]
        loss_sum += weighted * residuals[i]
        residual_sum += weighted
        residuals[i] = weighted
    for j in range(0, n_quads, 4):
        c0 = columns[j, start:stop]
        c1 = columns[j + 1, start:stop]
        c2 = columns[j + 2, start:stop]
        c3 = columns[j + 3, start:stop]
        t0 = 0.0
        t1 = 0.0
        t2 = 0.0
        t3 = 0.0
        for i in range(n_rows):
            t0 += residuals[i] * c0[i]
            t1 += residuals[i] * c1[i]
            t2 += residuals[i] * c2[i]
            t3 += residuals[i] * c3[i]
        grad_row[j] = t0
        grad_row[j + 1] = t1
        grad_row[j + 2] = t2
        grad_row[j + 3] = t3
    for j in range(n_quads, n_features):
        column = columns[j, start:stop]
        total = 0.0
        for i in range(n_rows):
            total += residuals[i] * column[i]
        grad_row[j] = total
    return loss_sum, residual_sum


CHUNK_SUMS = {"1d": _chunk_sums_1d, "C": _chunk_sums_2d_contiguous, "F": _chunk_sums_2d_fortran, "A": _chunk_sums_2d}


@overload(_chunk_sums, jit_options=OVERLOAD_OPTIONS)
def _chunk_sums_overload(X, y, sample_weight, w, b, start, stop, grad_row, target_factor):
    return CHUNK_SUMS.get(_type_key(X))


def _chunk_predict(X, w, b, start, stop, out):
    """Write ``X[i] . w + b`` for rows ``start:stop`` into ``out``. Dispatches on ``X``'s layout."""
    CHUNK_PREDICT[_array_key(X)](X, w, b, start, stop, out)


def _chunk_predict_1d(X, w, b, start, stop, out):
    x = X[start:stop]
    predictions = out[start:stop]
    slope = w[0]
    for i in range(x.shape[0]):
        predictions[i] = slope * x[i] + b


def _chunk_predict_2d(X, w, b, start, stop, out):
    rows = X[start:stop]
    predictions = out[start:stop]
    for i in range(rows.shape[0]):
        total = b
        for j in range(X.shape[1]):
            total += rows[i, j] * w[j]
        predictions[i] = total


def _chunk_predict_2d_fortran(X, w, b, start, stop, out):
    # Column by column, as in _chunk_sums_2d_fortran: unit-stride and vectorised.
    columns = X.T
    predictions = out[start:stop]
    predictions[:] = b
    for j in range(X.shape[1]):
        column = columns[j, start:stop]
        weight_j = w[j]
        for i in range(predictions.shape[0]):
            predictions[i] += column[i] * weight_j


CHUNK_PREDICT = {
    "1d": _chunk_predict_1d,
    "C": _chunk_predict_2d,
    "F": _chunk_predict_2d_fortran,
    "A": _chunk_predict_2d,
}


@overload(_chunk_predict, jit_options=OVERLOAD_OPTIONS)
def _chunk_predict_overload(X, w, b, start, stop, out):
    return CHUNK_PREDICT.get(_type_key(X))


@jit
def _chunk_bounds(chunk, chunk_rows, n_rows):
    start = chunk * chunk_rows
    return start, min(start + chunk_rows, n_rows)


def _fused_epoch(data, params, grad):
    """One pass over a :class:`~fastgd.types.DataPass`: return the loss at ``params`` and write its gradient into ``grad``.

    ``params = [v, c]`` and ``grad`` are in the loop's parametrisation, the
    model ``(x - shift) . (scale * v) + c``. Compiled twice
    (:data:`fused_epoch_serial`, :data:`fused_epoch_parallel`);
    :func:`fused_loss_and_gradients` documents the pass.
    """
    # The fields as locals: each read of an array field from the tuple costs a reference count.
    X, y, sample_weight, shift, scale = data.X, data.y, data.sample_weight, data.shift, data.scale
    n_features = params.shape[0] - 1
    centred = shift.shape[0] > 0
    scaled = scale.shape[0] > 0
    # Centring moves into the intercept: (x - m).(s v) + c = x.(s v) + (c - m.(s v)).
    b = params[n_features]
    if centred:
        for j in range(n_features):
            b -= shift[j] * params[j] * (scale[j] if scaled else 1.0)
    # The kernel reads the weights s v from one small temporary, or v in place when unscaled.
    w = np.empty(n_features) if scaled else params[:n_features]
    if scaled:
        for j in range(n_features):  # loops here: an array expression would compile a shape check
            w[j] = params[j] * scale[j]
    n_rows = X.shape[0]
    chunk_rows = data.chunk_rows
    target_factor = data.target_factor
    n_chunks = (n_rows + chunk_rows - 1) // chunk_rows
    # Per chunk: its gradient sums, then its loss and residual sums (one allocation per epoch).
    parts = np.empty((n_chunks, n_features + 2))
    for chunk in prange(n_chunks):
        start, stop = _chunk_bounds(chunk, chunk_rows, n_rows)
        part = parts[chunk]
        part[n_features], part[n_features + 1] = _chunk_sums(
            X, y, sample_weight, w, b, start, stop, part, target_factor
        )
    # Combine in chunk order: the same additions whatever the thread count.
    loss_sum = 0.0
    residual_sum = 0.0
    for j in range(n_features):  # a loop: in the parallel epoch, grad[:] = 0 would be a parallel region of its own
        grad[j] = 0.0
    for chunk in range(n_chunks):
        loss_sum += parts[chunk, n_features]
        residual_sum += parts[chunk, n_features + 1]
        for j in range(n_features):
            grad[j] += parts[chunk, j]
    factor = 2.0 / data.total_weight
    grad_b = factor * residual_sum
    grad[n_features] = grad_b
    for j in range(n_features):
        grad[j] *= factor
    # The chain rule of the centring and scaling.
    if centred:
        for j in range(n_features):
            grad[j] -= grad_b * shift[j]
    if scaled:
        for j in range(n_features):
            grad[j] *= scale[j]
    return loss_sum / data.total_weight


# The epoch is compiled twice from one source, serial (where prange is a
# range) and parallel: a parallel region costs microseconds to start, which
# dominates an epoch on a few hundred rows. Callers pick one by the type of
# ``data.parallel`` (None or True), so only the one in use ever compiles.
# Nothing compiled calls an epoch by name: numba would link its code into the
# caller and optimise it all again (seconds on first use); the loop calls it
# through a pointer (:func:`fastgd.loop.descent_loop_compiled`).
fused_epoch_serial = jit(_fused_epoch, name="fused_epoch_serial")
fused_epoch_parallel = jit(_fused_epoch, parallel=True, name="fused_epoch_parallel")


def fused_epoch_for(parallel):
    """The compiled epoch for ``parallel`` (:func:`fastgd._config.parallel_for`'s None or True)."""
    return fused_epoch_serial if parallel is None else fused_epoch_parallel


_NO_TRANSFORM = np.empty(0)


def fused_loss_and_gradients(X, y, sample_weight, total_weight, w, b, chunk_rows, grad_w, target_factor, parallel):
    """One pass over ``X`` and ``y``: return ``(loss, dL/db)`` and write ``dL/dw`` into ``grad_w`` (called from Python).

    The residual is ``x.w + b - target_factor * y``. ``total_weight`` is
    ``n`` without sample weights and ``sum(sample_weight)`` with them; the
    loss is the (weighted) mean of squared residuals. With ``target_factor=0``
    the targets are zero, so the "gradient" is ``2 H [w; b]`` for
    ``H = [X 1]^T S [X 1] / total_weight``: one Hessian-vector product in one
    pass, which conjugate gradients and the step-size estimate need. A factor,
    rather than a separate kernel without ``y``, keeps one compiled epoch
    (and one compiled loop) for both. ``parallel`` is :func:`fastgd._config.parallel_for`'s.
    It runs the loop's compiled epoch, so it compiles nothing that training does not.
    """
    data = DataPass(
        X, y, sample_weight, float(total_weight), _NO_TRANSFORM, _NO_TRANSFORM, int(chunk_rows),
        float(target_factor), parallel,
    )  # fmt: skip
    n_features = grad_w.shape[0]
    params = np.empty(n_features + 1)
    params[:n_features] = w
    params[n_features] = b
    grad = np.empty(n_features + 1)
    loss = fused_epoch_for(parallel)(data, params, grad)
    grad_w[:] = grad[:n_features]
    return loss, grad[n_features]


def _predict_chunks(X, w, b, chunk_rows, out):
    """Every chunk's predictions into ``out``, one chunk per ``prange`` step."""
    for chunk in prange((X.shape[0] + chunk_rows - 1) // chunk_rows):
        start, stop = _chunk_bounds(chunk, chunk_rows, X.shape[0])
        _chunk_predict(X, w, b, start, stop, out)


_predict_serial = jit(_predict_chunks, name="_predict_serial")
_predict_parallel = jit(_predict_chunks, parallel=True)


@jit
def predict_into(X, w, b, chunk_rows, out):
    """Write the float64 predictions ``X @ w + b`` into ``out`` (shape ``(n,)``)."""
    if X.size < PARALLEL_MIN_ELEMENTS:
        _predict_serial(X, w, b, chunk_rows, out)
    else:
        _predict_parallel(X, w, b, chunk_rows, out)


def _chunk_read(X, y, start, stop):
    """Sum of ``X[start:stop]`` and ``y[start:stop]``. Dispatches on ``X``'s layout."""
    return CHUNK_READ[_array_key(X)](X, y, start, stop)


def _chunk_read_1d(X, y, start, stop):
    # Two plain sums, not one of x[i] + y[i]: for float32 the mixed-precision
    # sum of pairs vectorised badly and read slower than an epoch does.
    x = X[start:stop]
    targets = y[start:stop]
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i]
    for i in range(targets.shape[0]):
        total += targets[i]
    return total


def _chunk_read_2d(X, y, start, stop):
    rows = X[start:stop]
    targets = y[start:stop]
    total = 0.0
    for i in range(rows.shape[0]):
        total += targets[i]
        for j in range(X.shape[1]):
            total += rows[i, j]
    return total


def _chunk_read_2d_contiguous(X, y, start, stop):
    # Rows start:stop of a C-ordered X are one contiguous run of memory: read
    # it as a flat vector so the sum vectorises fully whatever the row length.
    flat = X[start:stop].reshape(-1)
    targets = y[start:stop]
    total = 0.0
    for k in range(flat.shape[0]):
        total += flat[k]
    for i in range(targets.shape[0]):
        total += targets[i]
    return total


def _chunk_read_2d_fortran(X, y, start, stop):
    # Each column of the chunk is contiguous in a Fortran-ordered X; columns
    # go four at a time, the way the epoch reads them (_chunk_sums_2d_fortran).
    columns = X.T
    targets = y[start:stop]
    n_features = X.shape[1]
    n_quads = n_features - n_features % 4
    total = 0.0
    for j in range(0, n_quads, 4):
        c0 = columns[j, start:stop]
        c1 = columns[j + 1, start:stop]
        c2 = columns[j + 2, start:stop]
        c3 = columns[j + 3, start:stop]
        for i in range(c0.shape[0]):
            total += (c0[i] + c1[i]) + (c2[i] + c3[i])
    for j in range(n_quads, n_features):
        column = columns[j, start:stop]
        for i in range(column.shape[0]):
            total += column[i]
    for i in range(targets.shape[0]):
        total += targets[i]
    return total


CHUNK_READ = {"1d": _chunk_read_1d, "C": _chunk_read_2d_contiguous, "F": _chunk_read_2d_fortran, "A": _chunk_read_2d}


@overload(_chunk_read, jit_options=OVERLOAD_OPTIONS)
def _chunk_read_overload(X, y, start, stop):
    return CHUNK_READ.get(_type_key(X))


@jit(parallel=True)
def read_once(X, y, chunk_rows):
    """Sum every element of ``X`` and ``y``: the bandwidth roofline for one epoch.

    It reads exactly what :func:`fused_loss_and_gradients` reads, in the same
    chunks and order, and does the least work possible with it (for C-ordered
    ``X``, one flat vectorised sum per chunk), so its time is the floor for an
    epoch on this machine.
    """
    n_rows = X.shape[0]
    n_chunks = (n_rows + chunk_rows - 1) // chunk_rows
    parts = np.empty(n_chunks)
    for chunk in prange(n_chunks):
        start, stop = _chunk_bounds(chunk, chunk_rows, n_rows)
        parts[chunk] = _chunk_read(X, y, start, stop)
    return parts.sum()


# ---------------------------------------------------------------------------
# Sufficient statistics for the "gram" solver: weight total, means and the
# centred scatter matrix of z = [x_1 .. x_d, y], in one pass over the data.
# ---------------------------------------------------------------------------


def _fill_block(X, y, start, stop, block):
    """Copy rows ``start:stop`` of ``[X, y]`` into ``block`` transposed: ``block[j, i] = z[start + i, j]``.

    Dispatches on ``X``'s layout: each variant reads ``X`` in its memory order.
    """
    FILL_BLOCK[_array_key(X)](X, y, start, stop, block)


def _fill_block_1d(X, y, start, stop, block):
    x = X[start:stop]
    targets = y[start:stop]
    for i in range(targets.shape[0]):
        block[0, i] = x[i]
        block[1, i] = targets[i]


def _fill_block_rows(X, y, start, stop, block):
    rows = X[start:stop]
    targets = y[start:stop]
    n_features = X.shape[1]
    for i in range(targets.shape[0]):
        for j in range(n_features):
            block[j, i] = rows[i, j]
        block[n_features, i] = targets[i]


def _fill_block_columns(X, y, start, stop, block):
    columns = X.T
    targets = y[start:stop]
    n_features = X.shape[1]
    for j in range(n_features):
        column = columns[j, start:stop]
        destination = block[j]
        for i in range(column.shape[0]):
            destination[i] = column[i]
    destination = block[n_features]
    for i in range(targets.shape[0]):
        destination[i] = targets[i]


FILL_BLOCK = {"1d": _fill_block_1d, "C": _fill_block_rows, "F": _fill_block_columns, "A": _fill_block_rows}


@overload(_fill_block, jit_options=OVERLOAD_OPTIONS)
def _fill_block_overload(X, y, start, stop, block):
    return FILL_BLOCK.get(_type_key(X))


@jit
def _block_scatter(block, weights, n_rows, scatter):
    """Upper triangle of ``sum_i s_i z_i z_i^T`` over the first ``n_rows`` columns of the transposed ``block``.

    Pairs of rows ``(a, a+1)`` against four rows ``c..c+3`` at a time: eight
    vectorised dot products share each load, so the loop runs near the FMA
    rate instead of the load rate. ``block`` has four zero rows past the
    ``p = scatter.shape[0]`` used ones, so every tile is whole; products of
    the padding are computed and not stored.
    """
    p = scatter.shape[0]
    for a in range(0, p, 2):
        za = block[a]
        zb = block[a + 1]
        for c in range(a, p, 4):
            z0 = block[c]
            z1 = block[c + 1]
            z2 = block[c + 2]
            z3 = block[c + 3]
            s0 = s1 = s2 = s3 = 0.0
            t0 = t1 = t2 = t3 = 0.0
            for i in range(n_rows):
                s = _weight(weights, i)
                u = s * za[i]
                v = s * zb[i]
                s0 += u * z0[i]
                s1 += u * z1[i]
                s2 += u * z2[i]
                s3 += u * z3[i]
                t0 += v * z0[i]
                t1 += v * z1[i]
                t2 += v * z2[i]
                t3 += v * z3[i]
            sums_a = (s0, s1, s2, s3)
            sums_b = (t0, t1, t2, t3)
            for k in range(4):
                if c + k < p:
                    scatter[a, c + k] = sums_a[k]
                    if a + 1 < p and c + k > a:
                        scatter[a + 1, c + k] = sums_b[k]


@jit
def _merge_moments(weight, mean, scatter, block_weight, block_mean, block_scatter):
    """Fold one block's (weight, mean, centred scatter) into running ones; returns the new weight.

    The pairwise update of Chan, Golub and LeVeque (1979): centring each block
    at its own mean keeps the scatter free of the cancellation that plain
    sums of squares suffer when means are large.
    """
    total = weight + block_weight
    if block_weight == 0.0:
        return weight
    factor = weight * block_weight / total
    p = mean.shape[0]
    delta = block_mean - mean
    for a in range(p):
        for c in range(a, p):
            scatter[a, c] += block_scatter[a, c] + factor * delta[a] * delta[c]
    for a in range(p):
        mean[a] += delta[a] * (block_weight / total)
    return total


@jit
def _chunk_moments(X, y, sample_weight, start, stop, block_rows, mean, scatter):
    """Weight, mean and upper-triangular centred scatter of rows ``start:stop``.

    Rows go in blocks of ``block_rows``, copied transposed into a buffer that
    stays in cache (its rows padded by eight so that they do not all map to
    the same cache sets): a sweep for the block mean, one to centre, then the
    tiled products of :func:`_block_scatter`, then a merge. Memory traffic is
    one read of the data.
    """
    p = mean.shape[0]
    weight = 0.0
    mean[:] = 0.0
    scatter[:, :] = 0.0
    block = np.zeros((p + 4, block_rows + 8))
    block_mean = np.empty(p)
    block_scatter = np.empty((p, p))
    for block_start in range(start, stop, block_rows):
        block_stop = min(block_start + block_rows, stop)
        n_rows = block_stop - block_start
        weights = _rows(sample_weight, block_start, block_stop)
        block_weight = 0.0
        for i in range(n_rows):
            block_weight += _weight(weights, i)
        if block_weight == 0.0:
            continue
        _fill_block(X, y, block_start, block_stop, block)
        for a in range(p):
            z = block[a]
            total = 0.0
            for i in range(n_rows):
                total += _weight(weights, i) * z[i]
            centre = total / block_weight
            block_mean[a] = centre
            for i in range(n_rows):
                z[i] -= centre
        _block_scatter(block, weights, n_rows, block_scatter)
        weight = _merge_moments(weight, mean, scatter, block_weight, block_mean, block_scatter)
    return weight


@jit
def _moments_of_chunks(X, y, sample_weight, chunk_rows, block_rows, first, stop, weights, means, scatters):
    """:func:`_chunk_moments` of chunks ``first:stop`` into rows of ``weights``, ``means`` and ``scatters``."""
    n_rows = X.shape[0]
    for chunk in range(first, stop):
        start, end = _chunk_bounds(chunk, chunk_rows, n_rows)
        weights[chunk] = _chunk_moments(X, y, sample_weight, start, end, block_rows, means[chunk], scatters[chunk])


@jit
def _merged_moments(weights, means, scatters):
    """``(total_weight, mean, scatter)`` of all chunks, merged in chunk order, the scatter made symmetric."""
    p = means.shape[1]
    weight = 0.0
    mean = np.zeros(p)
    scatter = np.zeros((p, p))
    for chunk in range(weights.shape[0]):
        weight = _merge_moments(weight, mean, scatter, weights[chunk], means[chunk], scatters[chunk])
    for a in range(p):
        for c in range(a):
            scatter[a, c] = scatter[c, a]
    return weight, mean, scatter


# Helper threads for :func:`sufficient_statistics`, kept for the next call (starting threads costs
# a fraction of a millisecond, more than the pass over 20,000 rows), by process (a forked child
# inherits the pool but not its threads) and count.
_HELPER_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}
_HELPER_POOLS_LOCK = threading.Lock()


def _helper_threads(count: int) -> ThreadPoolExecutor:
    """A pool of ``count`` threads of this process, made on first use."""
    key = (os.getpid(), count)
    with _HELPER_POOLS_LOCK:
        if key not in _HELPER_POOLS:
            _HELPER_POOLS[key] = ThreadPoolExecutor(count, thread_name_prefix="fastgd-statistics")
        return _HELPER_POOLS[key]


def sufficient_statistics(X, y, sample_weight, chunk_rows, block_rows):
    """One pass over the data: ``(total_weight, mean, scatter)`` of ``z = [x, y]``.

    ``mean`` has shape ``(d + 1,)``; ``scatter`` is the full symmetric
    ``(d + 1, d + 1)`` matrix ``sum_i s_i (z_i - mean)(z_i - mean)^T``.
    Chunks are merged in chunk order, so results do not depend on threads.

    From :data:`~fastgd._config.STATISTICS_PARALLEL_MIN_WORK` multiply-adds
    (``rows * (d + 1)^2``) the pass runs in Python threads
    (``numba.get_num_threads()`` in all: this one and helpers), each
    calling the serial, GIL-free :func:`_moments_of_chunks` on its own run
    of chunks. A ``prange`` loop would do the same work but compiles a
    parallel region of its own, about three seconds more on a first run.
    """
    n_rows = X.shape[0]
    p = (1 if X.ndim == 1 else X.shape[1]) + 1
    n_chunks = (n_rows + chunk_rows - 1) // chunk_rows
    weights = np.empty(n_chunks)
    means = np.empty((n_chunks, p))
    scatters = np.empty((n_chunks, p, p))
    parallel = n_rows * p * p >= STATISTICS_PARALLEL_MIN_WORK
    n_workers = max(1, min(numba.get_num_threads(), n_chunks)) if parallel else 1
    bounds = [n_chunks * worker // n_workers for worker in range(n_workers + 1)]
    shares = [
        (X, y, sample_weight, chunk_rows, block_rows, first, stop, weights, means, scatters)
        for first, stop in itertools.pairwise(bounds)
    ]
    # This thread takes the first share itself; the pool's threads take the others.
    others = [_helper_threads(n_workers - 1).submit(_moments_of_chunks, *share) for share in shares[1:]]
    try:
        _moments_of_chunks(*shares[0])
    finally:
        for other in others:
            other.result()  # waits, so no thread writes into the results after a failure; re-raises a worker's error
    return _merged_moments(weights, means, scatters)


@jit
def gram_loss_and_gradients(cov_xx, cov_xy, var_y, mean_y, offset, w, b, grad_w):
    """Loss and gradients from sufficient statistics in O(d^2), no data pass.

    With ``C = cov_xx``, ``c = cov_xy``, ``v = var_y`` (weighted covariances,
    divided by the total weight) and the parametrisation's prediction
    ``x.w + b - m.w``, write ``a = mean_x - m`` (``offset``) and
    ``delta = b + a.w - mean_y``. Then, exactly,
    ``L = w'Cw - 2c'w + v + delta^2``, ``dL/dw = 2(Cw - c) + 2 delta a`` and
    ``dL/db = 2 delta``. Returns ``(L, dL/db)``; writes ``dL/dw``.
    """
    n_features = w.shape[0]
    delta = b - mean_y
    for j in range(n_features):
        delta += offset[j] * w[j]
    quadratic = 0.0
    linear = 0.0
    for j in range(n_features):
        covariance_times_w = 0.0
        for k in range(n_features):
            covariance_times_w += cov_xx[j, k] * w[k]
        quadratic += w[j] * covariance_times_w
        linear += cov_xy[j] * w[j]
        grad_w[j] = 2.0 * (covariance_times_w - cov_xy[j]) + 2.0 * delta * offset[j]
    # Near an exact fit rounding can take the difference a hair below zero.
    loss = max(quadratic - 2.0 * linear + var_y + delta * delta, 0.0)
    return loss, 2.0 * delta
