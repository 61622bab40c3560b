"""Numba kernels: one fused pass computes the loss and both gradients.

This module holds kernels only. Inputs arrive validated and in a supported
dtype (see :mod:`fastgd.validation`); parameters ``w`` always arrive as a
float64 array of shape ``(d,)``, also for one-dimensional ``X`` (then ``d = 1``).

How a pass is organised:

* rows are cut into chunks of a fixed size that depends only on the number of
  features (:func:`fastgd._config.chunk_rows_for`);
* each chunk accumulates its partial sums in float64 scalars and one float64
  row of gradient sums, reading each element of ``X`` and ``y`` exactly once,
  with no per-row temporaries;
* partial sums are then added in chunk order.

So the result does not depend on how many threads ran the chunks, and small
inputs take a serial loop over the very same chunks.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from ._config import JIT_OPTIONS, OVERLOAD_OPTIONS, PARALLEL_MIN_ELEMENTS


def _chunk_sums(X, y, sample_weight, w, b, start, stop, grad_row):
    """Sum ``s*r*r`` and ``s*r`` over rows ``start:stop``, adding ``s*r*x`` into ``grad_row``.

    ``r`` is the residual ``x.w + b - y`` and ``s`` the sample weight (1 when
    ``sample_weight`` is None). Dispatches on ``X.ndim`` at compile time.
    """
    raise NotImplementedError("compiled only; see the overload below")


def _chunk_sums_1d(X, y, sample_weight, w, b, start, stop, grad_row):
    slope = w[0]
    loss_sum = 0.0
    residual_sum = 0.0
    residual_x_sum = 0.0
    for i in range(start, stop):
        residual = slope * X[i] + b - y[i]
        if sample_weight is None:
            weighted = residual
        else:
            weighted = sample_weight[i] * residual
        loss_sum += weighted * residual
        residual_sum += weighted
        residual_x_sum += weighted * X[i]
    grad_row[0] = residual_x_sum
    return loss_sum, residual_sum


def _chunk_sums_2d(X, y, sample_weight, w, b, start, stop, grad_row):
    n_features = X.shape[1]
    loss_sum = 0.0
    residual_sum = 0.0
    grad_row[:] = 0.0
    for i in range(start, stop):
        residual = b - y[i]
        for j in range(n_features):
            residual += X[i, j] * w[j]
        if sample_weight is None:
            weighted = residual
        else:
            weighted = sample_weight[i] * residual
        loss_sum += weighted * residual
        residual_sum += weighted
        for j in range(n_features):
            grad_row[j] += weighted * X[i, j]
    return loss_sum, residual_sum


@overload(_chunk_sums, jit_options=OVERLOAD_OPTIONS)
def _chunk_sums_overload(X, y, sample_weight, w, b, start, stop, grad_row):
    if isinstance(X, types.Array) and X.ndim == 1:
        return _chunk_sums_1d
    if isinstance(X, types.Array) and X.ndim == 2:
        return _chunk_sums_2d
    return None


def _row_prediction(X, w, b, i):
    """``X[i] . w + b`` in float64. Dispatches on ``X.ndim`` at compile time."""
    raise NotImplementedError("compiled only; see the overload below")


def _row_prediction_1d(X, w, b, i):
    return w[0] * X[i] + b


def _row_prediction_2d(X, w, b, i):
    total = b
    for j in range(X.shape[1]):
        total += X[i, j] * w[j]
    return total


@overload(_row_prediction, jit_options=OVERLOAD_OPTIONS)
def _row_prediction_overload(X, w, b, i):
    if isinstance(X, types.Array) and X.ndim == 1:
        return _row_prediction_1d
    if isinstance(X, types.Array) and X.ndim == 2:
        return _row_prediction_2d
    return None


@njit(**JIT_OPTIONS)
def _chunk_bounds(chunk, chunk_rows, n_rows):
    start = chunk * chunk_rows
    return start, min(start + chunk_rows, n_rows)


# The serial and parallel drivers differ only in range/prange; both are kept
# because a parallel region costs microseconds to start, which dominates an
# epoch on a few hundred rows.
@njit(**JIT_OPTIONS)
def _chunk_partials_serial(X, y, sample_weight, w, b, chunk_rows, loss_parts, residual_parts, grad_parts):
    for chunk in range(loss_parts.shape[0]):
        start, stop = _chunk_bounds(chunk, chunk_rows, X.shape[0])
        loss_parts[chunk], residual_parts[chunk] = _chunk_sums(
            X, y, sample_weight, w, b, start, stop, grad_parts[chunk]
        )


@njit(parallel=True, **JIT_OPTIONS)
def _chunk_partials_parallel(X, y, sample_weight, w, b, chunk_rows, loss_parts, residual_parts, grad_parts):
    for chunk in prange(loss_parts.shape[0]):
        start, stop = _chunk_bounds(chunk, chunk_rows, X.shape[0])
        loss_parts[chunk], residual_parts[chunk] = _chunk_sums(
            X, y, sample_weight, w, b, start, stop, grad_parts[chunk]
        )


@njit(**JIT_OPTIONS)
def fused_loss_and_gradients(X, y, sample_weight, total_weight, w, b, chunk_rows, grad_w):
    """One pass over ``X`` and ``y``: return ``(loss, dL/db)`` and write ``dL/dw`` into ``grad_w``.

    ``total_weight`` is ``n`` without sample weights and ``sum(sample_weight)``
    with them; the loss is the (weighted) mean of squared residuals.
    """
    n_rows = X.shape[0]
    n_chunks = (n_rows + chunk_rows - 1) // chunk_rows
    loss_parts = np.empty(n_chunks)
    residual_parts = np.empty(n_chunks)
    grad_parts = np.empty((n_chunks, w.shape[0]))
    if X.size < PARALLEL_MIN_ELEMENTS:
        _chunk_partials_serial(X, y, sample_weight, w, b, chunk_rows, loss_parts, residual_parts, grad_parts)
    else:
        _chunk_partials_parallel(X, y, sample_weight, w, b, chunk_rows, loss_parts, residual_parts, grad_parts)
    # Combine in chunk order: the same additions whatever the thread count.
    loss_sum = 0.0
    residual_sum = 0.0
    grad_w[:] = 0.0
    for chunk in range(n_chunks):
        loss_sum += loss_parts[chunk]
        residual_sum += residual_parts[chunk]
        for j in range(w.shape[0]):
            grad_w[j] += grad_parts[chunk, j]
    scale = 2.0 / total_weight
    for j in range(w.shape[0]):
        grad_w[j] *= scale
    return loss_sum / total_weight, scale * residual_sum


@njit(**JIT_OPTIONS)
def _predict_serial(X, w, b, out):
    for i in range(X.shape[0]):
        out[i] = _row_prediction(X, w, b, i)


@njit(parallel=True, **JIT_OPTIONS)
def _predict_parallel(X, w, b, out):
    for i in prange(X.shape[0]):
        out[i] = _row_prediction(X, w, b, i)


@njit(**JIT_OPTIONS)
def predict_into(X, w, b, out):
    """Write the float64 predictions ``X @ w + b`` into ``out`` (shape ``(n,)``)."""
    if X.size < PARALLEL_MIN_ELEMENTS:
        _predict_serial(X, w, b, out)
    else:
        _predict_parallel(X, w, b, out)


def _chunk_read(X, y, start, stop):
    """Sum of ``X[start:stop]`` and ``y[start:stop]``. Dispatches on ``X.ndim``."""
    raise NotImplementedError("compiled only; see the overload below")


def _chunk_read_1d(X, y, start, stop):
    total = 0.0
    for i in range(start, stop):
        total += X[i] + y[i]
    return total


def _chunk_read_2d(X, y, start, stop):
    total = 0.0
    for i in range(start, stop):
        total += y[i]
        for j in range(X.shape[1]):
            total += X[i, j]
    return total


@overload(_chunk_read, jit_options=OVERLOAD_OPTIONS)
def _chunk_read_overload(X, y, start, stop):
    if isinstance(X, types.Array) and X.ndim == 1:
        return _chunk_read_1d
    if isinstance(X, types.Array) and X.ndim == 2:
        return _chunk_read_2d
    return None


@njit(parallel=True, **JIT_OPTIONS)
def read_once(X, y, chunk_rows):
    """Sum every element of ``X`` and ``y``: the bandwidth roofline for one epoch.

    It reads exactly what :func:`fused_loss_and_gradients` reads, in the same
    chunks, and does the least work possible with it, so its time is the
    floor for an epoch on this machine.
    """
    n_rows = X.shape[0]
    n_chunks = (n_rows + chunk_rows - 1) // chunk_rows
    parts = np.empty(n_chunks)
    for chunk in prange(n_chunks):
        start, stop = _chunk_bounds(chunk, chunk_rows, n_rows)
        parts[chunk] = _chunk_read(X, y, start, stop)
    return parts.sum()
