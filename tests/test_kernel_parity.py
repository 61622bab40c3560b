"""The fused kernels agree with the reference path within rounding, on every shape, dtype and layout."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from conftest import assert_within, make_problem, rounding_bounds

import fastgd
from fastgd import gram, reference
from fastgd._config import chunk_rows_for, parallel_for
from fastgd.benchmarking import FEATURES, chunk_boundary_rows
from fastgd.validation import prepare_data

# With NUMBA_DISABLE_JIT=1 (.ci/run's coverage step) the kernels run as Python.
PYTHON_KERNELS = bool(numba.config.DISABLE_JIT)

# The feature counts of fastgd's table of cases (1 as a one-dimensional X), plus a single 2-D column and
# an odd count (every tail of the kernels' four-wide loops); for each, row counts around one reduction
# chunk and one large enough for the parallel path (benchmarking.chunk_boundary_rows).
FEATURE_CASES = [None if d == 1 else d for d in FEATURES] + [1, 3]


def sizes_for(d):
    return chunk_boundary_rows(1 if d is None else d)


CASES = [(n, d) for d in FEATURE_CASES for n in sizes_for(d)]


def check_parity(X, y, w, b, sample_weight=None):
    loss_bound, grad_w_bound, grad_b_bound, predict_bound = rounding_bounds(X, y, w, b, sample_weight)
    expected = reference.loss_and_gradients(X, y, w, b, sample_weight)
    actual = fastgd.loss_and_gradients(X, y, w, b, sample_weight=sample_weight)
    assert_within(actual[0], expected[0], loss_bound, "loss")
    assert_within(actual[1], expected[1], grad_w_bound, "dL/dw")
    assert_within(actual[2], expected[2], grad_b_bound, "dL/db")
    assert np.shape(actual[1]) == np.shape(expected[1])
    assert_within(fastgd.predict(X, w, b), reference.predict(X, w, b), predict_bound, "predictions")


# float32 uses the same bounds as float64: both paths widen float32 inputs to
# float64 exactly and do all arithmetic in float64, so only the order of the
# additions differs. (A float32 accumulator would fail these bounds.)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n", "d"), CASES, ids=[f"n{n}-d{d}" for n, d in CASES])
def test_c_order_matches_reference(n, d, dtype):
    check_parity(*make_problem(n, d, dtype, seed=n))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 3, 64])
def test_fortran_order_matches_reference(d, dtype):
    X, y, w, b = make_problem(5000, d, dtype)
    check_parity(np.asfortranarray(X), y, w, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [None, 3])
def test_strided_views_match_reference(d, dtype):
    X, y, w, b = make_problem(10_000, None if d is None else 2 * d, dtype)
    X_view = X[::2] if d is None else X[::2, ::2]
    w_view = w if d is None else w[::2]
    check_parity(X_view, y[::2], w_view, b)


@pytest.mark.filterwarnings("ignore::fastgd.ConvergenceWarning")
@pytest.mark.parametrize("d", [None, 3])
def test_read_only_memmap_matches_reference(tmp_path, d):
    X, y, w, b = make_problem(20_000, d)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    y_map = np.load(tmp_path / "y.npy", mmap_mode="r")
    assert not X_map.flags.writeable
    check_parity(X_map, y_map, w, b)
    result = fastgd.train(X_map, y_map, lr=0.1, iterations=5)
    assert result.n_iter == 5


@pytest.mark.parametrize("d", [None, 3])
def test_sample_weights_match_reference(d):
    X, y, w, b = make_problem(50_001, d)
    weights = np.random.default_rng(2).uniform(0, 3, size=50_001)
    weights[::7] = 0.0
    check_parity(X, y, w, b, weights)


def test_single_column_2d_gives_array_gradient_like_reference():
    X, y, w, b = make_problem(100, 1)
    _, grad_w, _ = fastgd.loss_and_gradients(X, y, w, b)
    assert isinstance(grad_w, np.ndarray) and grad_w.shape == (1,)


@pytest.mark.skipif(PYTHON_KERNELS, reason="threads exist only compiled")
def test_results_are_bit_identical_for_any_thread_count():
    import numba

    X, y, w, b = make_problem(300_001, 5, seed=9)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one_thread = fastgd.loss_and_gradients(X, y, w, b)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        all_threads = fastgd.loss_and_gradients(X, y, w, b)
    finally:
        numba.set_num_threads(previous)
    assert one_thread[0] == all_threads[0]
    assert np.array_equal(one_thread[1], all_threads[1])
    assert one_thread[2] == all_threads[2]


@pytest.mark.skipif(PYTHON_KERNELS, reason="threads exist only compiled")
def test_statistics_are_bit_identical_for_any_thread_count():
    import numba

    X, y, _, _ = make_problem(300_001, 7, seed=10)
    data = prepare_data(X + 1e3, y, None)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one_thread = gram.kernel_statistics(data)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        all_threads = gram.kernel_statistics(data)
    finally:
        numba.set_num_threads(previous)
    assert one_thread.total_weight == all_threads.total_weight
    assert np.array_equal(one_thread.mean, all_threads.mean)
    assert np.array_equal(one_thread.scatter, all_threads.scatter)


@pytest.mark.parametrize("layout", ["1-D", "C", "F", "strided"])
def test_read_once_roofline_kernel_sums_what_an_epoch_reads(layout):
    from fastgd.kernels import read_once

    X, y, _, _ = make_problem(70_000, None if layout == "1-D" else 6)
    X = {"1-D": lambda: X, "C": lambda: X, "F": lambda: np.asfortranarray(X), "strided": lambda: X[:, ::2]}[layout]()
    chunk = chunk_rows_for(1 if X.ndim == 1 else X.shape[1])
    assert read_once(X, y, chunk) == pytest.approx(X.sum() + y.sum(), rel=1e-12, abs=1e-9)


# The sufficient-statistics kernel (gram.kernel_statistics takes it from 20,000 rows and below
# GRAM_BLAS_MIN_FEATURES features) and the O(d^2) epoch on its output. Its tiles are 2 x 4 rows of
# z = [x, y]: d = 1, 5, 12 make p = 2, 6, 13, so whole tiles, a lone last row and partial tiles all occur.
# Each layout and weighting is a compiled variant of its own: weights are tried on the 1-D and C layouts
# (the weight enters only the products, the same code for every layout).
@pytest.mark.parametrize(
    ("d", "layout", "weighted"),
    [(None, "1-D", False), (None, "1-D", True), (1, "C", False), (5, "C", False), (5, "C", True), (5, "F", False),
     (5, "strided", False), (12, "C", False), (12, "C", True)],
)  # fmt: skip
def test_sufficient_statistics_kernel_matches_reference(d, layout, weighted):
    X, y, _, _ = make_problem(30_001, None if d is None else (2 * d if layout == "strided" else d), seed=4)
    X = X + 50.0  # large means: the centred accumulation must not lose the scatter to cancellation
    X = {"1-D": lambda: X, "C": lambda: X, "F": lambda: np.asfortranarray(X), "strided": lambda: X[:, ::2]}[layout]()
    weights = np.random.default_rng(0).uniform(0, 2, size=30_001) if weighted else None
    if weighted:
        weights[: chunk_rows_for(5)] = 0.0  # a chunk of zero weight is skipped, not divided by zero
    fast = gram.kernel_statistics(prepare_data(X, y, weights))
    slow = gram.reference_statistics(X, y, weights)
    assert fast.total_weight == pytest.approx(slow.total_weight, rel=1e-12)
    np.testing.assert_allclose(fast.mean, slow.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.scatter, slow.scatter, rtol=1e-10, atol=1e-9 * np.abs(slow.scatter).max())
    np.testing.assert_array_equal(fast.scatter, fast.scatter.T)


@pytest.mark.parametrize("offset", [False, True])
def test_statistics_epoch_kernel_matches_reference(offset):
    from fastgd.kernels import gram_loss_and_gradients

    X, y, w, b = make_problem(2000, 4, seed=3)
    stats = gram.reference_statistics(X, y)
    data = stats.gram_data(np.zeros(4) if offset else stats.mean[:4], np.full(4, 0.5))
    grad_w = np.empty(4)
    loss, grad_b = gram_loss_and_gradients(
        data.cov_xx, data.cov_xy, data.var_y, data.mean_y, data.offset, w, b, grad_w
    )  # fmt: skip
    expected = reference.statistics_loss_and_gradients(data, w, b)
    assert loss == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(grad_w, expected[1], rtol=1e-12, atol=1e-12)
    assert grad_b == pytest.approx(expected[2], rel=1e-12, abs=1e-12)


# The epoch in the loop's parametrisation, model (x - shift) . (scale * v) + c: centring and scaling
# happen inside the compiled epoch, around its chunk loop; serial and parallel sizes, C and Fortran order.
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("transform", ["shift", "scale", "both"])
@pytest.mark.parametrize("n", [3_001, chunk_boundary_rows(5)[-1]], ids=["serial", "parallel"])
def test_centred_and_scaled_epoch_matches_reference(n, transform, order):
    from fastgd import loop
    from fastgd.types import DataPass

    X, y, _, _ = make_problem(n, 5, seed=n)
    X = np.asarray(X * [1.0, 10.0, 0.1, 3.0, 1.0] + [100.0, -5.0, 0.0, 2.0, 1e3], order=order)
    weights = np.random.default_rng(n).uniform(0.5, 2.0, size=n)
    shift = X.mean(axis=0) if transform != "scale" else np.empty(0)
    scale = 1.0 / X.std(axis=0) if transform != "shift" else np.empty(0)
    data = DataPass(X, y, weights, float(weights.sum()), shift, scale, chunk_rows_for(5), 1.0, parallel_for(X.size))
    params = np.random.default_rng(1).normal(size=6)
    kernel_grad, reference_grad = np.empty(6), np.empty(6)
    kernel_loss = loop.kernel_epoch(data, params, kernel_grad)
    reference_loss = loop.epoch(data, params, reference_grad)
    # Both sum the same float64 products in other orders; the loss and gradients here are O(1 to 100).
    assert kernel_loss == pytest.approx(reference_loss, rel=1e-11)
    np.testing.assert_allclose(kernel_grad, reference_grad, rtol=1e-9, atol=1e-9 * np.abs(reference_grad).max())


# The C-ordered 2-D kernel takes rows four at a time: row counts of every
# remainder modulo 4, with and without weights, and with target_factor=0, the
# Hessian-vector pass behind conjugate gradients (targets read as zeros).
TAIL_CASES = [(d, extra) for d in (3, 8) for extra in range(4)]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(("d", "extra"), TAIL_CASES, ids=[f"d{d}-tail{extra}" for d, extra in TAIL_CASES])
def test_four_row_kernel_matches_reference_for_every_tail(d, extra, weighted):
    n = 2 * chunk_rows_for(d) + 4 * 25 + extra
    X, y, w, b = make_problem(n, d, seed=extra)
    weights = np.random.default_rng(extra).uniform(0.0, 2.0, size=n) if weighted else None
    check_parity(X, y, w, b, weights)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(("d", "extra"), TAIL_CASES, ids=[f"d{d}-tail{extra}" for d, extra in TAIL_CASES])
def test_hessian_vector_pass_equals_reference_with_zero_targets(d, extra, weighted):
    from fastgd.kernels import fused_loss_and_gradients

    n = chunk_rows_for(d) + 4 * 25 + extra
    X, y, w, b = make_problem(n, d, seed=extra)
    weights = np.random.default_rng(extra).uniform(0.0, 2.0, size=n) if weighted else None
    total_weight = float(n if weights is None else weights.sum())
    grad_w = np.empty(d)
    loss, grad_b = fused_loss_and_gradients(
        X, y, weights, total_weight, w, b, chunk_rows_for(d), grad_w, 0.0, parallel_for(X.size)
    )
    zeros = np.zeros(n)
    loss_bound, grad_w_bound, grad_b_bound, _ = rounding_bounds(X, zeros, w, b, weights)
    expected = reference.loss_and_gradients(X, zeros, w, b, weights)
    assert_within(loss, expected[0], loss_bound, "loss")
    assert_within(grad_w, expected[1], grad_w_bound, "dL/dw")
    assert_within(grad_b, expected[2], grad_b_bound, "dL/db")


# Fortran-ordered X takes its own column-by-column kernels (epoch, predictions,
# read-once), four columns at a time: feature counts of every remainder modulo
# 4, row counts around the chunk, with and without weights.
FORTRAN_CASES = [(d, n_kind) for d in (2, 4, 5, 7) for n_kind in ("short", "chunks")]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(("d", "n_kind"), FORTRAN_CASES, ids=[f"d{d}-{kind}" for d, kind in FORTRAN_CASES])
def test_fortran_kernels_match_reference(d, n_kind, weighted):
    from fastgd.kernels import read_once

    n = 3 if n_kind == "short" else 2 * chunk_rows_for(d) + 7
    X, y, w, b = make_problem(n, d, seed=d)
    weights = np.random.default_rng(d).uniform(0.0, 2.0, size=n) if weighted else None
    X_fortran = np.asfortranarray(X)
    assert X_fortran.flags.f_contiguous and not X_fortran.flags.c_contiguous
    check_parity(X_fortran, y, w, b, weights)
    assert read_once(X_fortran, y, chunk_rows_for(d)) == pytest.approx(X.sum() + y.sum(), rel=1e-12, abs=1e-9)
