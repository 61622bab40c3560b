"""Shared helpers: test data and the error bounds used for kernel-vs-reference parity."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fastgd

EPS64 = np.finfo(np.float64).eps
SMALLEST_SUBNORMAL64 = float(np.finfo(np.float64).smallest_subnormal)


def make_problem(n: int, d: int | None, dtype=np.float64, seed: int = 0):
    """Random (X, y, w, b): X of shape (n,) when d is None, else (n, d)."""
    rng = np.random.default_rng(seed)
    shape = (n,) if d is None else (n, d)
    X = rng.normal(size=shape).astype(dtype)
    w = rng.normal(size=()) if d is None else rng.normal(size=d)
    b = float(rng.normal())
    y = (rng.normal(size=n) + 0.5).astype(dtype)
    return X, y, w, b


def rounding_bounds(X, y, w, b, sample_weight=None):
    """Worst-case rounding-error bounds for the loss, dL/dw, dL/db and predictions.

    Both paths compute in float64 from the same input values (float32 inputs
    are widened exactly), so they differ only in the order of additions. A
    sum of m terms computed in any order is off by at most about m * eps *
    sum(|term|). With ``scale_i = sum_j |x_ij w_j| + |b| + |y_i|`` bounding
    every partial result of row i's residual, the bounds below are that
    classic bound with m = n + d + 2 and a safety factor of 4. A sign or
    parenthesis mistake changes results by O(1) relative, far outside them.
    Results near zero also carry underflow: a product or sum that falls below
    the smallest normal float64 is rounded to a multiple of the smallest
    subnormal, an absolute error no relative bound covers (hypothesis found
    X = y = [4.2e-162], where dL/dw is -3.5e-323 one way and -4e-323 the
    other). Each bound adds m such steps, scaled by the mean's 2 / total.
    """
    X64 = np.asarray(X, dtype=np.float64)
    X2 = X64[:, None] if X64.ndim == 1 else X64
    w2 = np.atleast_1d(np.asarray(w, dtype=np.float64))
    n, d = X2.shape
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    predict_scale = np.abs(X2) @ np.abs(w2) + abs(b)
    scale = predict_scale + np.abs(np.asarray(y, dtype=np.float64))
    m = n + d + 2
    factor = 4 * m * EPS64
    total = s.sum()
    underflow = 4 * m * SMALLEST_SUBNORMAL64 * max(1.0, 2.0 / total)
    loss_bound = factor * (s @ scale**2) / total + underflow
    grad_w_bound = factor * 2 * (np.abs(X2).T @ (s * scale)) / total + underflow
    grad_b_bound = factor * 2 * (s @ scale) / total + underflow
    predict_bound = 4 * (d + 2) * (EPS64 * predict_scale + SMALLEST_SUBNORMAL64)
    if X64.ndim == 1:
        grad_w_bound = grad_w_bound[0]
    return loss_bound, grad_w_bound, grad_b_bound, predict_bound


def assert_within(actual, expected, bound, what: str) -> None:
    error = np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(expected, dtype=np.float64))
    worst = np.max(error - bound) if np.ndim(error) else error - bound
    assert np.all(error <= bound), f"{what}: error {np.max(error):.3g} exceeds rounding bound (excess {worst:.3g})"


@pytest.fixture
def all_threads():
    import numba

    return numba.config.NUMBA_NUM_THREADS


# --- problems for the methods' tests ---------------------------------------------------------


def scaled_problem(n=4000, seed=0, scales=(1.0, 10.0, 0.1, 3.0), means=(5.0, -3.0, 100.0, 0.0), noise=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(scales))) * scales + means
    y = X @ np.arange(1.0, len(scales) + 1) + 7.0 + noise * rng.normal(size=n)
    return X, y


def least_squares(X, y, sample_weight=None):
    design = np.column_stack([X, np.ones(len(X))])
    root = np.ones(len(X)) if sample_weight is None else np.sqrt(sample_weight)
    solution = np.linalg.lstsq(design * root[:, None], y * root, rcond=None)[0]
    return solution[:-1], solution[-1]


def exact_lipschitz(X, sample_weight=None):
    design = np.column_stack([X.reshape(len(X), -1), np.ones(len(X))])
    weights = np.ones(len(X)) if sample_weight is None else sample_weight
    return 2 * np.linalg.eigvalsh(design.T @ (design * weights[:, None]) / weights.sum())[-1]


def passes_to_reach(X, y, target, cap=20_000, **kwargs):
    """Iterations until the loss is at most ``target``; ``cap`` (a lower bound) if never reached."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        result = fastgd.train(X, y, iterations=cap, loss_threshold=target, **kwargs)
    return result.n_iter
