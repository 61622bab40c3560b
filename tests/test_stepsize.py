"""The automatic step size: exact from the statistics, power iteration on wide data, never diverging."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import exact_lipschitz, scaled_problem
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgd
from fastgd import backends, stepsize, training
from fastgd.training import prepare_data

# --- automatic step size -------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("center", [False, True])
def test_power_iteration_estimates_the_smoothness_constant(backend, center):
    X, y = scaled_problem()
    data = prepare_data(X, y)._replace(target_factor=0.0)
    if center:
        data = data._replace(shift=X.mean(axis=0))
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
