"""The reference path is the oracle, so it is checked against mathematics, not against code."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_problem

import fastgd
from fastgd import reference


def central_differences(f, theta: np.ndarray, step: float = 1e-6) -> np.ndarray:
    grad = np.empty_like(theta)
    for k in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[k] += step
        down[k] -= step
        grad[k] = (f(up) - f(down)) / (2 * step)
    return grad


@pytest.mark.parametrize("d", [None, 1, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradients_match_central_finite_differences(d, weighted):
    X, y, w, b = make_problem(200, d, seed=3)
    sample_weight = np.random.default_rng(1).uniform(0, 2, size=200) if weighted else None
    n_w = 1 if d is None else d

    def loss(theta):
        w_part = theta[0] if d is None else theta[:n_w]
        return reference.mse(X, y, w_part, theta[-1], sample_weight)

    theta = np.append(np.atleast_1d(w), b)
    numeric = central_differences(loss, theta)
    _, grad_w, grad_b = reference.loss_and_gradients(X, y, w, b, sample_weight)
    analytic = np.append(np.atleast_1d(grad_w), grad_b)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-7)


def test_loss_is_mean_of_squared_residuals_not_tutorial_formula():
    # The circulating tutorial computes mean(y - y_hat**2); pin the real formula on numbers worked by hand.
    X = np.array([0.0, 1.0, 2.0])
    y = np.array([1.0, 1.0, 5.0])
    # y_hat = 2x + 0 = [0, 2, 4]; residuals y_hat - y = [-1, 1, -1]; mean of squares = 1.
    assert reference.mse(X, y, 2.0, 0.0) == 1.0
    _, grad_w, grad_b = reference.loss_and_gradients(X, y, 2.0, 0.0)
    # (2/3) * sum(residual * x) = (2/3) * (0 + 1 - 2) ; (2/3) * sum(residual) = (2/3) * -1
    assert grad_w == pytest.approx(-2.0 / 3.0)
    assert grad_b == pytest.approx(-2.0 / 3.0)


def test_a_gradient_step_lowers_the_loss():
    X, y, w, b = make_problem(500, 3, seed=5)
    loss, grad_w, grad_b = reference.loss_and_gradients(X, y, w, b)
    lowered = reference.mse(X, y, w - 1e-3 * grad_w, b - 1e-3 * grad_b)
    assert lowered < loss


def test_training_decreases_the_loss_monotonically_for_a_safe_step():
    X, _, w, b = make_problem(400, 3, seed=7)
    y = X @ w + b + np.random.default_rng(8).normal(scale=0.1, size=400)
    # 1 / L with L = 2 * largest eigenvalue of [X 1]^T [X 1] / n: descent is monotone for lr <= 1/L.
    Xt = np.column_stack([X, np.ones(len(X))])
    lipschitz = 2 * np.linalg.eigvalsh(Xt.T @ Xt / len(X)).max()
    result = fastgd.train(X, y, lr=1.0 / lipschitz, iterations=300, backend="numpy")
    # Non-increasing up to rounding of the loss itself (it settles at the optimum within 300 steps).
    assert np.all(np.diff(result.loss_history) <= 1e-14 * result.loss_history[:-1])
    assert result.loss_history[-1] < 0.1 * result.loss_history[0]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_long_run_reaches_the_least_squares_solution(backend):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(300, 4)) * [1.0, 2.0, 0.5, 1.5] + [0.3, -1.0, 2.0, 0.0]
    y = X @ [1.5, -2.0, 0.7, 3.0] - 4.0 + rng.normal(scale=0.5, size=300)
    design = np.column_stack([X, np.ones(300)])
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    lipschitz = 2 * np.linalg.eigvalsh(design.T @ design / 300).max()
    result = fastgd.train(X, y, lr=1.0 / lipschitz, iterations=20_000, backend=backend)
    np.testing.assert_allclose(result.w, solution[:4], rtol=1e-6)
    np.testing.assert_allclose(result.b, solution[4], rtol=1e-6)
    optimum_loss = reference.mse(X, y, solution[:4], solution[4])
    assert result.final_loss == pytest.approx(optimum_loss, rel=1e-9)
