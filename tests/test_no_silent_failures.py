"""Property test: no entry point returns outside its stated tolerance without a warning.

hypothesis draws ill-conditioned regression problems (features of 1e-4..1e4 scales with large means,
correlated up to 0.99999 or exactly collinear, intercepts up to 1e6, weights, tiny n) and an entry point
with its options (method, solver, step, iterations, tolerance). Whatever it returns without a warning must
be within its tolerance of the least-squares solution, in standardised units, up to the rounding that
float64 itself cannot avoid on that problem. A divergence may only come from a learning rate the caller
fixed.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastgd
from fastgd import cli, training

sklearn = pytest.importorskip("sklearn", reason="GDRegressor needs the optional scikit-learn dependency")
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning  # noqa: E402

from fastgd.estimator import GDRegressor  # noqa: E402

EPS = np.finfo(np.float64).eps


@st.composite
def ill_conditioned_problems(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    d = draw(st.integers(1, 6))
    n = draw(st.integers(d + 3, 400))
    scales = 10.0 ** rng.uniform(-4, 4, d)
    means = rng.normal(size=d) * 10.0 ** rng.uniform(-2, 5, d)
    Z = rng.normal(size=(n, d))
    correlation = draw(st.sampled_from([0.0, 0.9, 0.999, 0.99999]))
    if d > 1 and correlation:
        Z[:, 1:] = correlation * Z[:, [0]] + np.sqrt(1 - correlation**2) * Z[:, 1:]
    X = Z * scales + means
    if d > 1 and draw(st.booleans()):
        X[:, -1] = 2.0 * X[:, 0]  # exactly collinear: the solution is not unique, only its range part is
    coefficients = rng.normal(size=d) / scales
    signal = (X - X.mean(axis=0)) @ coefficients
    noise = 10.0 ** rng.uniform(-3, 0.5) * max(signal.std(), 1.0)
    y = rng.normal() * 10.0 ** rng.uniform(0, 6) + X @ coefficients + noise * rng.normal(size=n)
    weights = rng.uniform(0.0, 3.0, size=n) if draw(st.booleans()) else None
    return X, y, weights


def least_squares_error(X, y, weights, w, b) -> tuple[float, float]:
    """(standardised error of (w, b) in the identifiable directions, the rounding allowance of this problem)."""
    weights = np.ones(len(y)) if weights is None else weights
    total = weights.sum()
    mean_x = weights @ X / total
    std_x = np.sqrt(weights @ (X - mean_x) ** 2 / total)
    mean_y = weights @ y / total
    std_y = np.sqrt(weights @ (y - mean_y) ** 2 / total)
    # The reference: lstsq on the standardised, weighted design (accurate to about eps * cond(design)).
    root = np.sqrt(weights)
    standardised = np.column_stack([(X - mean_x) / std_x, np.ones(len(y))]) * root[:, None]
    reference = np.linalg.lstsq(standardised, (y - mean_y) * root / std_y, rcond=1e-10)[0]
    error = np.append(
        (np.asarray(w) * std_x / std_y) - reference[:-1], (b - mean_y + mean_x @ w) / std_y - reference[-1]
    )
    correlation = standardised[:, :-1].T @ standardised[:, :-1] / total
    values, vectors = np.linalg.eigh(correlation)
    identifiable = values > 1e-10 * values[-1]
    weights_error = vectors[:, identifiable] @ (vectors[:, identifiable].T @ error[:-1])
    kappa = values[-1] / values[identifiable].min()
    size = max(1.0, np.abs(reference).max())
    allowance = 100 * EPS * (X.shape[1] + 1) * kappa * size + 8 * EPS * abs(mean_y) / std_y
    return float(max(np.abs(weights_error).max(), abs(error[-1]))), float(allowance)


ENTRY_POINTS = ["train", "train, fixed lr", "GDRegressor", "fastgd fit"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    problem=ill_conditioned_problems(),
    entry=st.sampled_from(ENTRY_POINTS),
    method=st.sampled_from(["gd", "nesterov", "cg"]),
    solver=st.sampled_from(["data", "gram"]),
    iterations=st.sampled_from([2, 20, 300]),
    tol=st.sampled_from([None, 1e-4, 1e-8]),
)
def test_no_entry_point_returns_outside_its_tolerance_without_a_warning(
    problem, entry, method, solver, iterations, tol, tmp_path
):
    X, y, weights = problem
    if entry == "fastgd fit":
        weights = None  # the command line takes no weights
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            w, b, stated_tol = fit(entry, X, y, weights, method, solver, iterations, tol, tmp_path)
        except fastgd.DivergenceError:
            assert entry == "train, fixed lr", "only a learning rate of the caller's may diverge"
            return
    if any(issubclass(w.category, (fastgd.ConvergenceWarning, SklearnConvergenceWarning)) for w in caught):
        return
    error, allowance = least_squares_error(X, y, weights, np.atleast_1d(w), b)
    assert error <= stated_tol * 1.001 + allowance, (entry, method, solver, error, stated_tol, allowance)


def fit(entry, X, y, weights, method, solver, iterations, tol, tmp_path):
    """Run one entry point; returns ``(w, b, the tolerance it claims)``."""
    if entry == "GDRegressor":
        model = GDRegressor(method=method, solver=solver, max_iter=iterations, tol=tol).fit(X, y, sample_weight=weights)
        return model.coef_, model.intercept_, tol if tol is not None else training.DEFAULT_TOL
    if entry == "fastgd fit":
        path = tmp_path / "data.csv"
        header = ",".join([f"x{j}" for j in range(X.shape[1])] + ["y"])
        path.write_text(header + "\n" + "\n".join(",".join(map(repr, row)) for row in np.column_stack([X, y]).tolist()))
        out = tmp_path / "fit.json"
        options = ["--method", method, "--solver", solver, "--iterations", str(iterations)]
        options += [] if tol is None else ["--tol", repr(tol)]
        status = cli.main(["fit", str(path), "--target", "y", "--json", str(out), "-q", *options])
        if status == 1:
            raise fastgd.DivergenceError("", iteration=0, lr=0.0, w=None, b=0.0, loss_history=np.zeros(0))
        summary = json.loads(out.read_text())
        if summary["warnings"]:
            warnings.warn(summary["warnings"][0], fastgd.ConvergenceWarning, stacklevel=1)
        return np.array(summary["coef"]), summary["intercept"], summary["tol"]
    options = {"method": method, "solver": solver, "iterations": iterations, "tol": tol, "sample_weight": weights}
    if entry == "train, fixed lr":
        if method == "cg":
            options["method"] = "gd"
        design = np.column_stack([X, np.ones(len(y))])
        s = np.ones(len(y)) if weights is None else weights
        lipschitz = 2 * np.linalg.eigvalsh(design.T @ (design * s[:, None]) / s.sum())[-1]
        options["lr"] = 1.5 / lipschitz  # below the 2/L stability limit
    result = fastgd.train(X, y, **options)
    return result.w, result.b, result.tol


@settings(max_examples=60, deadline=None)
@given(
    problem=ill_conditioned_problems(),
    method=st.sampled_from(["gd", "nesterov", "cg"]),
    iterations=st.sampled_from([2, 20, 300]),
    tol=st.sampled_from([None, 1e-4, 1e-8]),
)
def test_the_estimated_error_of_wide_data_never_lets_a_far_result_pass_in_silence(problem, method, iterations, tol):
    # Above STATISTICS_MAX_FEATURES fastgd has no statistics: the error is estimated by a Lanczos process.
    # Setting the limit to 0 sends every problem down that path.
    X, y, weights = problem
    with warnings.catch_warnings(record=True) as caught, pytest.MonkeyPatch.context() as patch:
        warnings.simplefilter("always")
        patch.setattr(training, "STATISTICS_MAX_FEATURES", 0)
        result = fastgd.train(X, y, method=method, iterations=iterations, tol=tol, sample_weight=weights)
    if any(issubclass(w.category, fastgd.ConvergenceWarning) for w in caught):
        return
    error, allowance = least_squares_error(X, y, weights, np.atleast_1d(result.w), result.b)
    assert error <= result.tol * 1.001 + allowance, (method, error, result.coef_error, result.tol, allowance)
