"""The shared training loop: stop conditions, histories, backends, determinism, divergence."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_problem

import fastgd

# These tests stop runs at small iteration caps on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::fastgd.ConvergenceWarning")


def linear_data(n=500, d=3, seed=0):
    X, _, w, b = make_problem(n, d, seed=seed)
    y = X @ w + b + np.random.default_rng(seed + 1).normal(scale=0.1, size=n)
    return X, y


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_iteration_cap_stops_training_with_one_loss_per_iteration(backend):
    X, y = linear_data()
    result = fastgd.train(X, y, lr=0.1, iterations=37, backend=backend)
    assert result.stop_reason == "iterations"
    assert result.n_iter == 37
    assert result.loss_history.shape == (37,)
    assert result.w_history is None and result.b_history is None
    assert result.final_loss < result.loss_history[-1]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_loss_threshold_stops_at_the_first_loss_below_it(backend):
    X, y = linear_data()
    full = fastgd.train(X, y, lr=0.1, iterations=200, backend=backend)
    threshold = full.loss_history[20] * 1.0000001
    result = fastgd.train(X, y, lr=0.1, iterations=200, loss_threshold=threshold, backend=backend)
    assert result.stop_reason == "loss_threshold"
    first_below = int(np.argmax(full.loss_history <= threshold))
    assert result.n_iter == first_below + 1
    assert result.loss_history[-1] <= threshold
    assert np.all(result.loss_history[:-1] > threshold)
    assert result.final_loss == result.loss_history[-1]
    # The returned parameters are the ones whose loss met the threshold.
    assert fastgd.reference.mse(X, y, result.w, result.b) == pytest.approx(result.final_loss, rel=1e-12)


def test_parameter_history_is_recorded_when_asked():
    X, y = linear_data(d=2)
    result = fastgd.train(X, y, lr=0.1, iterations=10, record_params=True, w0=[1.0, 2.0], b0=3.0)
    assert result.w_history.shape == (10, 2) and result.b_history.shape == (10,)
    np.testing.assert_array_equal(result.w_history[0], [1.0, 2.0])
    assert result.b_history[0] == 3.0
    for k in (0, 5, 9):
        loss = fastgd.reference.mse(X, y, result.w_history[k], result.b_history[k])
        assert loss == pytest.approx(result.loss_history[k], rel=1e-12)


def test_one_feature_returns_scalar_weight_and_history():
    x = np.linspace(-1, 1, 100)
    result = fastgd.train(x, 4.0 * x - 1.0, lr=0.4, iterations=500, record_params=True)
    assert isinstance(result.w, float) and isinstance(result.b, float)
    assert result.w == pytest.approx(4.0) and result.b == pytest.approx(-1.0)
    assert result.w_history.shape == (500,)


@pytest.mark.parametrize("d", [None, 4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backends_train_to_the_same_parameters(d, dtype):
    X, _, w, b = make_problem(3000, d, dtype)
    y = (X * w if d is None else X @ w) + b
    kernel = fastgd.train(X, y, lr=0.2, iterations=150)
    ref = fastgd.train(X, y, lr=0.2, iterations=150, backend="numpy")
    np.testing.assert_allclose(kernel.w, ref.w, rtol=1e-10, atol=1e-12)
    assert kernel.b == pytest.approx(ref.b, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(kernel.loss_history, ref.loss_history, rtol=1e-10, atol=1e-14)


def test_training_is_bit_identical_across_thread_counts():
    X, y = linear_data(n=200_000, d=4)
    one = fastgd.train(X, y, lr=0.1, iterations=25, n_threads=1)
    import numba

    many = fastgd.train(X, y, lr=0.1, iterations=25, n_threads=numba.config.NUMBA_NUM_THREADS)
    assert np.array_equal(one.w, many.w) and one.b == many.b
    assert np.array_equal(one.loss_history, many.loss_history)


def test_n_threads_is_restored_after_the_call():
    import numba

    before = numba.get_num_threads()
    X, y = linear_data()
    fastgd.train(X, y, lr=0.1, iterations=3, n_threads=1)
    assert numba.get_num_threads() == before


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_too_large_learning_rate_raises_divergence_with_last_finite_state(backend):
    X, y = linear_data()
    with pytest.raises(
        fastgd.DivergenceError, match=r"diverged at iteration \d+ with lr=5: the loss rose .* Try lr='auto'"
    ) as caught:
        fastgd.train(X, y, lr=5.0, iterations=1000, backend=backend)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.lr == 5.0
    assert error.loss_history.shape == (error.iteration + 1,)
    assert np.all(np.isfinite(error.loss_history[:-1]))
    # The attached parameters are the last ones with an acceptable loss: the previous iteration's.
    last_good_loss = fastgd.reference.mse(X, y, error.w, error.b)
    assert last_good_loss == pytest.approx(error.loss_history[-2], rel=1e-10)


def test_overflowing_loss_is_reported_as_non_finite():
    X = np.array([1e150, -1e150, 3e150])
    with pytest.raises(fastgd.DivergenceError, match="non-finite"):
        fastgd.train(X, np.array([1.0, 2.0, 3.0]), lr=1e10, iterations=3, w0=1.0)


def test_features_whose_squares_overflow_are_refused_with_the_column_named():
    X = np.array([[1.0, 1e200], [2.0, -1e200], [3.0, 3e200]])
    with pytest.raises(ValueError, match=r"squares of column 1 of X overflow float64.*divide it by a power of 10"):
        fastgd.train(X, np.array([1.0, 2.0, 3.0]), iterations=3)


def test_zero_iterations_returns_the_start_and_its_loss():
    X, y = linear_data()
    result = fastgd.train(X, y, lr=0.1, iterations=0, w0=[0.5, 0.5, 0.5], b0=1.0)
    assert result.n_iter == 0 and result.loss_history.shape == (0,)
    np.testing.assert_array_equal(result.w, [0.5, 0.5, 0.5])
    assert result.final_loss == pytest.approx(fastgd.reference.mse(X, y, result.w, 1.0))


def test_callback_sees_progress_and_can_stop_training():
    X, y = linear_data()
    seen = []

    def stop_after_three_calls(iteration, loss, w, b):
        seen.append((iteration, loss))
        return len(seen) < 3

    result = fastgd.train(X, y, lr=0.1, iterations=1000, callback=stop_after_three_calls, callback_every=10)
    assert [it for it, _ in seen] == [9, 19, 29]
    assert result.stop_reason == "callback" and result.n_iter == 30
    assert seen[-1][1] == result.loss_history[-1]


def test_caller_arrays_and_initial_parameters_are_not_modified():
    X, y = linear_data()
    w0 = np.array([0.1, 0.2, 0.3])
    copies = X.copy(), y.copy(), w0.copy()
    fastgd.train(X, y, lr=0.1, iterations=20, w0=w0)
    for original, copy in zip((X, y, w0), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


def test_small_problem_trains_fast_in_compiled_loop():
    # Functional check that 20,000 iterations on 30 rows run in the compiled loop
    # (the per-iteration figure itself is measured in benchmarks, not asserted here).
    x = np.linspace(0, 1, 30)
    result = fastgd.train(x, 3 * x + 2, lr=0.5, iterations=20_000)
    assert result.n_iter == 20_000 and result.w == pytest.approx(3.0) and result.b == pytest.approx(2.0)
