"""Automatic step size, Nesterov acceleration, the sufficient-statistics solver and centring."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import make_problem
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgd
from fastgd import backends, gram, reference, stepsize, training
from fastgd.training import prepare_data


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


# --- automatic step size -------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("center", [False, True])
def test_power_iteration_estimates_the_smoothness_constant(backend, center):
    X, y = scaled_problem()
    data = prepare_data(X, y)._replace(target_factor=0.0)
    if center:
        data = data._replace(center=X.mean(axis=0))
    evaluate = backends.get(backend).evaluate
    lipschitz, passes = stepsize.power_iteration_lipschitz(data, evaluate, X.shape[1] + 1, intercept=not center)
    if center:
        # Centred, the intercept is stepped on its own, so L is that of the weights' block: 2 lambda_max(Cov).
        centred = X - X.mean(axis=0)
        exact = 2 * np.linalg.eigvalsh(centred.T @ centred / len(X))[-1]
    else:
        exact = exact_lipschitz(X)
    # The Rayleigh quotient approaches lambda_max from below; stopping at 1e-3 relative change leaves it close.
    assert 0.99 * exact <= lipschitz <= exact * (1 + 1e-9)
    assert 1 < passes < stepsize.POWER_ITERATION_MAX_PASSES


def test_wide_data_takes_its_step_from_power_iteration(monkeypatch):
    # Above STATISTICS_MAX_FEATURES there are no statistics: the step comes from power iteration on the
    # standardised data (whose weights' curvature is the correlation matrix's), not from an exact solve.
    monkeypatch.setattr(training, "STATISTICS_MAX_FEATURES", 2)
    X, y = scaled_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        result = fastgd.train(X, y, iterations=1)
    standardised = (X - X.mean(axis=0)) / X.std(axis=0)
    exact = 2 * np.linalg.eigvalsh(standardised.T @ standardised / len(X))[-1]
    # Nearly independent features have clustered eigenvalues, where power iteration stops a few per cent
    # low; never high, and well within the factor of 2 that keeps the step 1/L stable.
    assert 0.9 * exact <= result.lipschitz <= exact * (1 + 1e-9)
    assert result.passes > 3  # the moments pass, power iteration, the iteration and the final check


def test_gram_solver_computes_the_smoothness_constant_exactly():
    X, y = scaled_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        result = fastgd.train(X, y, iterations=0, solver="gram", center=False, scale=False)
    assert result.lipschitz == pytest.approx(exact_lipschitz(X), rel=1e-10)


@st.composite
def randomly_scaled_problems(draw):
    n = draw(st.integers(2, 200))
    d = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-3, 3, size=d)
    means = rng.normal(size=d) * 10.0 ** rng.uniform(-2, 3, size=d)
    X = rng.normal(size=(n, d)) * scales + means
    if draw(st.booleans()):
        X[:, 0] = -X[:, -1]  # an exactly collinear pair, whose top eigenvector is orthogonal to (1, ..., 1)
    y = X @ rng.normal(size=d) + rng.normal(size=n) * 10.0 ** rng.uniform(-2, 2)
    weights = rng.uniform(0, 3, size=n) if draw(st.booleans()) else None
    return X, y, weights, draw(st.sampled_from(["gd", "nesterov"])), draw(st.sampled_from(["data", "gram"]))


@settings(max_examples=60, deadline=None)
@given(randomly_scaled_problems())
def test_auto_step_never_diverges_on_randomly_scaled_problems(problem):
    X, y, weights, method, solver = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        result = fastgd.train(X, y, iterations=60, sample_weight=weights, method=method, solver=solver)
    assert np.all(np.isfinite(result.loss_history))
    assert result.final_loss <= result.loss_history[0] * (1 + 1e-12)
    if method == "gd":
        # Step 1/L makes plain gradient descent monotone (up to the loss's own rounding).
        slack = 1e-9 * result.loss_history[0]
        assert np.all(np.diff(result.loss_history) <= slack)


# --- Nesterov --------------------------------------------------------------------------------


def passes_to_reach(X, y, target, cap=20_000, **kwargs):
    """Iterations until the loss is at most ``target``; ``cap`` (a lower bound) if never reached."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        result = fastgd.train(X, y, iterations=cap, loss_threshold=target, **kwargs)
    return result.n_iter


def test_nesterov_reaches_a_loss_in_fewer_passes_than_gradient_descent_when_ill_conditioned():
    X, y = scaled_problem(scales=(1.0, 30.0, 0.3), means=(0.0, 0.0, 0.0))
    w, b = least_squares(X, y)
    target = reference.mse(X, y, w, b) * (1 + 1e-6)
    # Without the preconditioner (which would make this problem easy for both).
    gd = passes_to_reach(X, y, target, method="gd", center=False, scale=False)
    nesterov = passes_to_reach(X, y, target, method="nesterov", center=False, scale=False)
    # Condition number ~10^4: plain GD needs ~10^4 * log(1/eps) steps, Nesterov ~10^2 * log(1/eps).
    assert nesterov < 2_000, nesterov
    assert nesterov < gd / 5, (gd, nesterov)


@pytest.mark.parametrize("solver", ["data", "gram"])
def test_nesterov_converges_to_the_least_squares_solution(solver):
    # Condition number ~100 once centred. (With a 10^4 ratio of feature scales the loss still converges,
    # but the flattest coefficient is only determined to ~sqrt(eps * kappa), far from 1e-6.)
    X, y = scaled_problem(scales=(1.0, 3.0, 0.3, 2.0))
    w, b = least_squares(X, y)
    result = fastgd.train(X, y, iterations=5000, method="nesterov", center=True, solver=solver, tol=1e-10)
    np.testing.assert_allclose(result.w, w, rtol=1e-6)
    assert result.b == pytest.approx(b, rel=1e-6)


def test_nesterov_restarts_keep_the_loss_from_blowing_up():
    X, y = scaled_problem(scales=(1.0, 100.0), means=(0.0, 0.0))
    result = fastgd.train(X, y, iterations=3000, method="nesterov", center=False, scale=False, tol=1e-9)
    # Momentum may raise the loss for a step, but never above its start, and it ends at the optimum.
    assert result.loss_history.max() <= result.loss_history[0]
    w, b = least_squares(X, y)
    assert result.final_loss == pytest.approx(reference.mse(X, y, w, b), rel=1e-9)


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
@pytest.mark.parametrize("method", ["gd", "nesterov"])
def test_kernel_and_reference_backends_agree_for_every_solver_and_method(solver, method):
    X, y = scaled_problem(n=3000)
    kwargs = {"iterations": 300, "solver": solver, "method": method, "center": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fast = fastgd.train(X, y, **kwargs)
        slow = fastgd.train(X, y, backend="numpy", **kwargs)
    np.testing.assert_allclose(fast.loss_history, slow.loss_history, rtol=1e-9)
    np.testing.assert_allclose(fast.w, slow.w, rtol=1e-9)


# --- centring ---------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["data", "gram"])
def test_centring_reports_coefficients_for_the_original_features(solver):
    X, y = scaled_problem(scales=(1.0, 2.0, 0.5, 3.0))
    w, b = least_squares(X, y)
    result = fastgd.train(
        X, y, iterations=20_000, method="nesterov", center=True, solver=solver, record_params=True, tol=1e-12
    )
    np.testing.assert_allclose(result.w, w, rtol=1e-7)
    assert result.b == pytest.approx(b, rel=1e-7)
    # Histories are in original coordinates too: their losses match the recorded ones.
    k = 10
    assert reference.mse(X, y, result.w_history[k], result.b_history[k]) == pytest.approx(
        result.loss_history[k], rel=1e-9
    )


def test_centring_improves_conditioning_for_features_with_large_means():
    X, y = scaled_problem(scales=(1.0, 1.0), means=(50.0, -80.0))
    w, b = least_squares(X, y)
    target = reference.mse(X, y, w, b) * (1 + 1e-6)
    centred = passes_to_reach(X, y, target, center=True)
    assert centred < 50
    assert centred < passes_to_reach(X, y, target, center=False) / 10


def test_centring_does_not_copy_or_modify_x():
    X, y = scaled_problem()
    before = X.copy()
    data = prepare_data(X, y)
    assert data.X is X
    fastgd.train(X, y, iterations=2000, center=True, method="nesterov")
    np.testing.assert_array_equal(X, before)


# --- warnings and the divergence guard --------------------------------------------------------


def test_iteration_cap_far_from_convergence_warns_with_the_coefficient_error():
    X, y = scaled_problem()
    with pytest.warns(
        fastgd.ConvergenceWarning,
        match=r"iteration cap \(5\) after 5 iterations with the coefficients [0-9.e-]+ from the least-squares "
        r"solution, above tol=1e-06",
    ) as caught:
        result = fastgd.train(X, y, iterations=5, center=False, scale=False)
    assert not result.converged and result.coef_error > 1e-6
    assert caught[0].message.error == result.coef_error and caught[0].message.tol == 1e-6


def test_converged_run_does_not_warn():
    X, y = scaled_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastgd.ConvergenceWarning)
        result = fastgd.train(X, y, iterations=3000, method="nesterov")
    assert result.converged and result.coef_error <= 1e-6 and result.stop_reason == "tol"


@pytest.mark.parametrize("solver", ["data", "gram"])
@pytest.mark.parametrize("method", ["gd", "nesterov"])
def test_divergence_guard_covers_every_solver_and_method(solver, method):
    X, y = scaled_problem(n=500)
    with pytest.raises(fastgd.DivergenceError, match="diverged at iteration"):
        fastgd.train(X, y, lr=1.0, iterations=500, solver=solver, method=method)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "adam"}, r"method must be one of \('gd', 'nesterov', 'cg'\), got 'adam'"),
    ({"solver": "qr"}, r"solver must be one of \('data', 'gram', 'auto'\), got 'qr'"),
    ({"method": "cg", "lr": 0.1}, r"method='cg' chooses the exact step length .* leave lr='auto'"),
    ({"center": "yes"}, r"center must be True, False or None"),
    ({"tol": -1.0}, r"tol must be None or a non-negative number"),
    ({"lr": "fast"}, "lr must be a positive finite number"),
])  # fmt: skip
def test_unknown_options_are_rejected(kwargs, message):
    X, y = scaled_problem(n=50)
    with pytest.raises((ValueError, TypeError), match=message):
        fastgd.train(X, y, iterations=5, **kwargs)


# --- the intercept: held at zero, or stepped on its own when centred -------------------------


@pytest.mark.parametrize("solver", ["data", "gram"])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_fit_intercept_false_fits_through_the_origin(solver, backend):
    X, y = scaled_problem(scales=(1.0, 2.0, 0.5, 3.0), means=(1.0, -1.0, 0.5, 2.0))
    expected = np.linalg.lstsq(X, y, rcond=None)[0]
    result = fastgd.train(
        X, y, iterations=5000, method="nesterov", fit_intercept=False, solver=solver, backend=backend, scale=False,
        tol=1e-12,
    )  # fmt: skip
    assert result.b == 0.0
    np.testing.assert_allclose(result.w, expected, rtol=1e-7)
    assert result.lipschitz == pytest.approx(2 * np.linalg.eigvalsh(X.T @ X / len(X))[-1], rel=1e-3)


def test_fit_intercept_false_refuses_an_offset():
    X, y = scaled_problem(n=50)
    with pytest.raises(ValueError, match="fit_intercept=False holds b at 0"):
        fastgd.train(X, y, iterations=5, fit_intercept=False, center=True)
    with pytest.raises(ValueError, match="fit_intercept=False holds b at 0"):
        fastgd.train(X, y, iterations=5, fit_intercept=False, b0=1.0)


@pytest.mark.parametrize("solver", ["data", "gram"])
def test_centred_auto_step_solves_the_intercept_exactly_and_is_not_slowed_by_it(solver):
    # Features with small variance (like scikit-learn's diabetes data): the intercept's curvature (1)
    # dwarfs theirs (0.0025), which would make a single step size crawl along the weights.
    X, y = scaled_problem(scales=(0.05, 0.04, 0.06), means=(0.0, 0.0, 0.0), noise=0.1)
    w, b = least_squares(X, y)
    target = reference.mse(X, y, w, b) * (1 + 1e-9)
    assert passes_to_reach(X, y, target, center=True, solver=solver) < 200
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        result = fastgd.train(X, y, iterations=3, center=True, solver=solver, record_params=True)
    # After one step the intercept sits at its optimum for the current weights: mean(y) - mean(x).w.
    assert result.b_history[1] == pytest.approx(y.mean() - X.mean(axis=0) @ result.w_history[1], rel=1e-12)
