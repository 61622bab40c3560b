"""The methods (gd, nesterov, cg), centring, the intercept, and the options that choose them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import least_squares, passes_to_reach, scaled_problem

import fastgd
from fastgd import reference
from fastgd.datasets import standardised_error
from fastgd.training import prepare_data

# --- conjugate gradients ----------------------------------------------------------------------------


def correlated_problem(n=5000, d=6, seed=1, correlation=0.95):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    Z[:, 1:] = correlation * Z[:, [0]] + np.sqrt(1 - correlation**2) * Z[:, 1:]
    X = Z * np.geomspace(0.01, 100, d) + np.linspace(-50, 50, d)
    return X, X @ np.linspace(1, -1, d) + 3.0 + rng.normal(size=n)


@pytest.mark.parametrize("solver", ["data", "gram"])
@pytest.mark.parametrize("weighted", [False, True])
def test_conjugate_gradients_reach_the_optimum_in_about_d_iterations(solver, weighted):
    X, y = correlated_problem()
    weights = np.random.default_rng(2).uniform(0.1, 2.0, len(y)) if weighted else None
    result = fastgd.train(X, y, iterations=100, method="cg", solver=solver, sample_weight=weights, tol=1e-10)
    w, b = least_squares(X, y, weights)
    assert result.converged and result.stop_reason == "tol"
    # d + 1 in exact arithmetic; rounding (and the data path's recurrence) costs a few more.
    assert result.n_iter <= 2 * (X.shape[1] + 1)
    assert standardised_error(X, y, result.w, result.b, w, b, weights) <= 2e-10
    # On the data: the statistics pass, one Hessian-vector pass per step and the gradients from the data.
    if solver == "data":
        assert result.passes <= 1 + result.n_iter + 3


def test_conjugate_gradients_without_an_intercept_and_with_a_warm_start():
    X, y = correlated_problem()
    expected = np.linalg.lstsq(X / X.std(axis=0), y, rcond=None)[0] / X.std(axis=0)
    result = fastgd.train(X, y, iterations=100, method="cg", fit_intercept=False, tol=1e-10)
    assert result.b == 0.0 and result.converged
    assert np.max(np.abs(result.w - expected) * X.std(axis=0)) / y.std() <= 1e-9
    again = fastgd.train(X, y, iterations=100, method="cg", fit_intercept=False, w0=result.w)
    assert again.n_iter == 1 and again.stop_reason == "tol"


def test_conjugate_gradients_recompute_the_gradient_from_the_data():
    # More iterations than one refresh period on the data path: the loss history then holds true losses
    # (recomputed every d + 1 iterations) and the final loss is the data's.
    X, y = correlated_problem(d=3, correlation=0.99999)
    result = fastgd.train(X, y, iterations=200, method="cg", solver="data", tol=1e-9)
    assert result.converged and result.n_iter > 8
    np.testing.assert_allclose(result.final_loss, reference.mse(X, y, result.w, result.b), rtol=1e-12)


# --- Nesterov ---------------------------------------------------------------------------------------


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
