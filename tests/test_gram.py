"""The sufficient-statistics solver: statistics that merge exactly, and the data-pass trajectory in O(d^2)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import make_problem, scaled_problem

import fastgd
from fastgd import gram, reference

# --- the sufficient-statistics (gram) solver -----------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_wide_data_statistics_from_blas_blocks_match_reference(monkeypatch, dtype, weighted):
    from fastgd._config import GRAM_BLAS_MIN_FEATURES

    d = GRAM_BLAS_MIN_FEATURES + 3
    X, y, _, _ = make_problem(2_503, d, dtype, seed=5)
    X = X + np.asarray(50.0, dtype=dtype)  # large means: each block is centred before its product
    weights = np.random.default_rng(0).uniform(0, 2, size=2_503) if weighted else None
    if weighted:
        weights[:600] = 0.0  # a whole block of zero weight is skipped, not divided by zero
    # Blocks of 256 rows: ten blocks and a short last one.
    monkeypatch.setattr(gram, "GRAM_BLAS_BLOCK_BYTES", 256 * 8 * (d + 1))
    fast = gram.statistics(X, y, weights)
    slow = gram.reference_statistics(X, y, weights)
    assert fast.total_weight == pytest.approx(slow.total_weight, rel=1e-12)
    np.testing.assert_allclose(fast.mean, slow.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.scatter, slow.scatter, rtol=1e-10, atol=1e-10 * np.abs(slow.scatter).max())
    np.testing.assert_array_equal(fast.scatter, fast.scatter.T)


def test_statistics_of_parts_merge_to_the_statistics_of_the_whole():
    X, y, _, _ = make_problem(10_000, 3, seed=6)
    whole = gram.statistics(X, y)
    merged = gram.statistics(X[:3000], y[:3000]).merge(gram.statistics(X[3000:], y[3000:]))
    assert merged.total_weight == whole.total_weight
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(merged.scatter, whole.scatter, rtol=1e-11, atol=1e-13 * np.abs(whole.scatter).max())


@pytest.mark.parametrize("center", [False, True])
def test_loss_from_statistics_equals_loss_from_the_data(center):
    X, y, w, b = make_problem(5000, 4, seed=8)
    stats = gram.statistics(X, y)
    shift = stats.mean[:4] if center else np.zeros(4)
    data = stats.gram_data(shift, np.ones(4))
    loss, grad_w, grad_b = gram.reference_loss_and_gradients(data, w, b + shift @ w)
    expected = reference.loss_and_gradients(X, y, w, b)
    assert loss == pytest.approx(expected[0], rel=1e-11)
    assert grad_b == pytest.approx(expected[2], rel=1e-10, abs=1e-12)
    if not center:
        np.testing.assert_allclose(grad_w, expected[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["gd", "nesterov"])
@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_gram_solver_reproduces_the_data_pass_trajectory(method, center, weighted):
    X, y, _, _ = make_problem(20_000, 6, seed=12)
    y = X @ np.linspace(-2, 2, 6) + 0.5 + y
    weights = np.random.default_rng(1).uniform(0, 2, size=20_000) if weighted else None
    kwargs = {"lr": 0.3, "iterations": 200, "method": method, "center": center, "sample_weight": weights}
    data_run = fastgd.train(X, y, solver="data", record_params=True, **kwargs)
    gram_run = fastgd.train(X, y, solver="gram", record_params=True, **kwargs)
    np.testing.assert_allclose(gram_run.loss_history, data_run.loss_history, rtol=1e-9)
    np.testing.assert_allclose(gram_run.w_history, data_run.w_history, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gram_run.w, data_run.w, rtol=1e-9)
    assert gram_run.b == pytest.approx(data_run.b, rel=1e-9)
    # Data passes: the statistics (which give the means and the convergence test), 200 iterations and the
    # final loss; the statistics solver needs the one pass.
    assert gram_run.passes == 1 and data_run.passes == 202


@pytest.mark.parametrize("solver", ["data", "gram"])
@pytest.mark.parametrize("method", ["gd", "nesterov", "cg"])
def test_kernel_and_reference_backends_agree_for_every_solver_and_method(solver, method):
    X, y = scaled_problem(n=3000)
    kwargs = {"iterations": 300, "solver": solver, "method": method, "center": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fast = fastgd.train(X, y, **kwargs)
        slow = fastgd.train(X, y, backend="numpy", **kwargs)
    np.testing.assert_allclose(fast.loss_history, slow.loss_history, rtol=1e-9)
    np.testing.assert_allclose(fast.w, slow.w, rtol=1e-9)
