"""GDRegressor, the scikit-learn estimator: scikit-learn's own checks, then its behaviour as a model."""

from __future__ import annotations

import io
import itertools
import os
import pickle
import subprocess
import sys
import warnings
from contextlib import redirect_stdout

import numba
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="GDRegressor needs the optional scikit-learn dependency")
pd = pytest.importorskip("pandas", reason="the feature-name tests need pandas")

from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastgd  # noqa: E402
from fastgd.estimator import GDRegressor  # noqa: E402

# Every solver x method on the kernels, the default method on the reference path, then the other switches.
# Plain gradient descent needs many more (cheap) iterations than the others to reach the default tol.
GD = {"method": "gd", "max_iter": 50_000}
CHECKED_ESTIMATORS = [
    GDRegressor(solver=solver, method=method) for solver in ["data", "gram"] for method in ["cg", "nesterov"]
]
CHECKED_ESTIMATORS += [GDRegressor(solver=solver, **GD) for solver in ["data", "gram"]]
CHECKED_ESTIMATORS += [GDRegressor(backend="numpy", solver=solver) for solver in ["data", "gram"]]
CHECKED_ESTIMATORS += [GDRegressor(backend="numpy", solver="gram", **GD)]
# Without an intercept the checks' data (30 features, 15 rows) is fitted exactly, and
# check_sample_weight_equivalence compares predictions near 0 at 1e-9: tol=1e-8 standardised units
# allows ~1e-7 there, so these are checked at a tolerance to match (as scikit-learn tunes its own).
NO_INTERCEPT = {"fit_intercept": False, "tol": 1e-12}
CHECKED_ESTIMATORS += [
    GDRegressor(backend=backend, solver=solver, **NO_INTERCEPT)
    for backend, solver in itertools.product(["numba", "numpy"], ["data", "gram"])
]
CHECKED_ESTIMATORS += [GDRegressor(solver=solver, center=False, scale=False) for solver in ["data", "gram"]]
# Uncentred positive features (most of the checks' data) are nearly collinear: plain gradient descent without
# an intercept needs ~10^5 iterations per digit there, and warns so; Nesterov's method is checked instead.
CHECKED_ESTIMATORS += [GDRegressor(method="nesterov", max_iter=50_000, fit_intercept=False, tol=1e-10)]


def regression_data(n=300, d=4, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ np.linspace(-2.0, 3.0, d) + 1.5 + noise * rng.normal(size=n)
    return X, y


def converged(**params) -> GDRegressor:
    """An estimator with a tolerance far below the 1e-6 relative comparisons the tests make."""
    return GDRegressor(tol=1e-11, max_iter=params.pop("max_iter", 5000), **params)


# --- scikit-learn's estimator checks ---------------------------------------------------------------


@parametrize_with_checks(CHECKED_ESTIMATORS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_array_api_check_passes_with_scipy_array_api_enabled():
    # check_array_api_input skips itself unless SCIPY_ARRAY_API is set before scipy is imported,
    # which would change scipy for the whole test session: run it in a fresh interpreter instead.
    script = (
        "from sklearn.utils.estimator_checks import check_array_api_input\n"
        "from test_estimator import CHECKED_ESTIMATORS\n"
        "for estimator in CHECKED_ESTIMATORS:\n"
        "    check_array_api_input('GDRegressor', estimator, array_namespace='numpy', expect_only_array_outputs=False)\n"
        "print('checked', len(CHECKED_ESTIMATORS))\n"
    )
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=os.path.dirname(__file__),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"checked {len(CHECKED_ESTIMATORS)}"


def test_importing_fastgd_does_not_import_sklearn_but_the_estimator_is_one_attribute_away():
    script = (
        "import sys, fastgd\n"
        "assert 'sklearn' not in sys.modules, 'import fastgd imported sklearn'\n"
        "from fastgd.estimator import GDRegressor\n"
        "assert fastgd.GDRegressor is GDRegressor\n"
        "assert 'GDRegressor' in dir(fastgd)\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr


# --- agreement with LinearRegression -------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{}, {"solver": "data"}, {"method": "nesterov"}, {"backend": "numpy", "solver": "gram"}]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_coefficients_match_linear_regression_on_diabetes(params, weighted):
    X, y = load_diabetes(return_X_y=True)
    weights = np.random.default_rng(0).integers(0, 4, size=len(y)).astype(float) if weighted else None
    expected = LinearRegression().fit(X, y, sample_weight=weights)
    model = converged(**params).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-6)
    assert model.intercept_ == pytest.approx(expected.intercept_, rel=1e-6)
    assert model.score(X, y, sample_weight=weights) == pytest.approx(expected.score(X, y, sample_weight=weights))


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("solver", ["data", "gram"])
@pytest.mark.parametrize("weighted", [False, True])
def test_without_intercept_matches_linear_regression_without_intercept(backend, solver, weighted):
    X, y = load_diabetes(return_X_y=True)
    weights = np.random.default_rng(1).uniform(0.0, 2.0, size=len(y)) if weighted else None
    expected = LinearRegression(fit_intercept=False).fit(X, y, sample_weight=weights)
    model = converged(fit_intercept=False, backend=backend, solver=solver).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-6)
    assert model.intercept_ == 0.0


def test_center_is_ignored_without_an_intercept():
    X, y = regression_data()
    X = X + 10.0
    centred = GDRegressor(fit_intercept=False, center=True).fit(X, y)
    plain = GDRegressor(fit_intercept=False, center=False).fit(X, y)
    np.testing.assert_array_equal(centred.coef_, plain.coef_)


# --- sample weights -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("solver", ["data", "gram"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_integer_sample_weights_equal_repeating_rows(backend, solver, fit_intercept):
    X, y = regression_data(n=60, d=3, seed=3)
    weights = np.tile([2, 1, 3, 0, 1], 12)
    params = {"backend": backend, "solver": solver, "fit_intercept": fit_intercept}
    weighted = GDRegressor(**params).fit(X, y, sample_weight=weights)
    repeated = GDRegressor(**params).fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    # Same loss function, so the same trajectory up to rounding: the same stop and the same model.
    assert weighted.n_iter_ == repeated.n_iter_
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-9)
    assert weighted.intercept_ == pytest.approx(repeated.intercept_, rel=1e-9, abs=1e-12)


def test_unit_sample_weights_give_exactly_the_unweighted_fit():
    X, y = regression_data()
    unweighted = GDRegressor().fit(X, y)
    ones = GDRegressor().fit(X, y, sample_weight=np.full(len(y), 3.0))
    np.testing.assert_array_equal(ones.coef_, unweighted.coef_)
    assert ones.n_iter_ == unweighted.n_iter_


def test_sample_weights_are_validated_by_scikit_learn():
    X, y = regression_data(n=20)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        GDRegressor().fit(X, y, sample_weight=-np.ones(20))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(10,\), expected \(20,\)"):
        GDRegressor().fit(X, y, sample_weight=np.ones(10))


# --- scikit-learn integration -----------------------------------------------------------------------


def test_works_in_a_pipeline_with_standard_scaler_on_badly_scaled_features():
    X, y = regression_data(n=500, d=3, seed=5)
    X = X * [1e-3, 1.0, 1e3] + [5.0, -100.0, 1e4]
    expected = LinearRegression().fit(X, y)
    pipeline = make_pipeline(StandardScaler(), converged()).fit(X, y)
    # Predictions near zero carry BLAS's rounding, which depends on the CPU's kernels: compare on y's scale.
    np.testing.assert_allclose(pipeline.predict(X), expected.predict(X), rtol=0, atol=1e-9 * np.std(y))
    assert pipeline.score(X, y) == pytest.approx(expected.score(X, y), rel=1e-12)


def test_grid_search_selects_over_fastgd_parameters():
    X, y = regression_data(n=200)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), GDRegressor()),
        {"gdregressor__max_iter": [1, 1000], "gdregressor__solver": ["data", "gram"]},
        cv=3,
    )
    with warnings.catch_warnings():
        # max_iter=1 is there to lose, and warns that it did not converge.
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert search.best_params_["gdregressor__max_iter"] == 1000
    assert search.best_score_ > 0.95
    assert search.cv_results_["mean_test_score"].shape == (4,)


@pytest.mark.parametrize("solver", ["data", "gram"])
def test_pickle_round_trip_gives_identical_predictions(solver):
    X, y = regression_data()
    model = GDRegressor(solver=solver).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    assert restored.get_params() == model.get_params()
    np.testing.assert_array_equal(restored.loss_curve_, model.loss_curve_)


def test_dataframe_feature_names_are_recorded_and_checked():
    X, y = regression_data(d=3)
    frame = pd.DataFrame(X, columns=["size", "age", "rooms"])
    model = GDRegressor().fit(frame, pd.Series(y))
    np.testing.assert_array_equal(model.feature_names_in_, ["size", "age", "rooms"])
    assert model.n_features_in_ == 3
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        unnamed = model.predict(X)
    np.testing.assert_allclose(model.predict(frame), unnamed, rtol=1e-12)
    with pytest.raises(ValueError, match="Feature names must be in the same order as they were in fit"):
        model.predict(frame[["age", "size", "rooms"]])
    assert not hasattr(GDRegressor().fit(X, y), "feature_names_in_")


def test_float32_input_fits_like_float64():
    X, y = regression_data()
    single = GDRegressor().fit(X.astype(np.float32), y.astype(np.float32))
    double = GDRegressor().fit(X, y)
    assert single.coef_.dtype == np.float64
    np.testing.assert_allclose(single.coef_, double.coef_, rtol=1e-4)
    assert single.predict(X.astype(np.float32)).dtype == np.float64


# --- tol, max_iter and warnings ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["cg", "nesterov", "gd"])
@pytest.mark.parametrize("tol", [1e-3, 1e-6, 1e-9])
def test_tol_bounds_the_standardised_coefficient_error(method, tol):
    X, y = regression_data(n=400, d=5, seed=7)
    X = X * [20.0, 1.0, 0.1, 3.0, 1.0] + [0.0, 100.0, -5.0, 0.0, 2e3]
    X[:, 4] += 0.9 * X[:, 3]  # correlated columns, so the methods take different numbers of iterations
    model = GDRegressor(method=method, tol=tol, max_iter=100_000).fit(X, y)
    exact = LinearRegression().fit(X, y)
    true_error = max(
        np.max(np.abs(model.coef_ - exact.coef_) * X.std(axis=0)),
        abs(model.intercept_ - exact.intercept_ + X.mean(axis=0) @ (model.coef_ - exact.coef_)),
    ) / np.std(y)
    assert model.converged_ and model.coef_error_ <= tol
    assert true_error <= tol
    # The test is of the coefficients: exact with the statistics at hand, it tracks the true error closely.
    assert true_error == pytest.approx(model.coef_error_, rel=0.05, abs=1e-12)


def test_tol_none_with_a_fixed_learning_rate_runs_every_iteration():
    X, y = regression_data()
    model = GDRegressor(tol=None, method="gd", learning_rate=0.5, max_iter=300).fit(X, y)
    assert model.n_iter_ == 300 and model.loss_curve_.shape == (300,)
    assert model.converged_  # checked at the end against the default tolerance


def test_hitting_max_iter_raises_one_sklearn_convergence_warning_in_the_estimators_syntax():
    X, y = regression_data()
    X[:, 1] += 0.999 * X[:, 0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GDRegressor(max_iter=2).fit(X, y)
    assert [type(warning.message) for warning in caught] == [ConvergenceWarning]
    message = str(caught[0].message)
    assert "iteration cap (2)" in message and "GDRegressor(max_iter=" in message and "iterations=" not in message
    assert model.n_iter_ == 2 and not model.converged_ and model.coef_error_ > 1e-6


def test_divergence_error_suggests_the_automatic_step_in_the_estimators_syntax():
    X, y = regression_data()
    X = X * 100.0
    with pytest.raises(fastgd.DivergenceError, match=r"Try GDRegressor\(learning_rate='auto'\)") as raised:
        GDRegressor(learning_rate=1.0, method="gd").fit(X, y)
    assert isinstance(raised.value, ValueError)
    assert raised.value.lr == 1.0 and np.all(np.isfinite(raised.value.w))
    assert ".loss_history" not in str(raised.value)


def test_a_learning_rate_with_conjugate_gradients_is_refused():
    X, y = regression_data()
    with pytest.raises(ValueError, match="not used by method='cg'"):
        GDRegressor(learning_rate=0.1, method="cg").fit(X, y)


def test_the_automatic_method_takes_a_learning_rate_with_nesterov():
    X, y = regression_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fixed rate may stop short; the method is what is checked
        model = GDRegressor(learning_rate=0.1, max_iter=50).fit(X, y)
    assert model.learning_rate_ == 0.1
    assert np.isnan(GDRegressor().fit(X, y).learning_rate_)  # conjugate gradients take no learning rate


def test_warm_start_continues_from_the_previous_solution():
    X, y = regression_data()
    cold = GDRegressor(tol=1e-10).fit(X, y)
    warm = GDRegressor(tol=1e-10, warm_start=True).fit(X, y)
    warm.fit(X, y)
    assert warm.loss_curve_[0] == pytest.approx(cold.loss_curve_[-1], rel=1e-9)
    # Already converged: the convergence test holds at the start, so the refit stops at once.
    assert warm.n_iter_ == 1 < cold.n_iter_
    # Without warm_start, refitting starts again from zero.
    again = GDRegressor(tol=1e-10).fit(X, y).fit(X, y)
    assert again.loss_curve_[0] == cold.loss_curve_[0]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 35 iterations stop short on purpose
def test_verbose_prints_the_loss_every_ten_iterations():
    X, y = regression_data()
    output = io.StringIO()
    with redirect_stdout(output):
        model = GDRegressor(verbose=1, method="gd", learning_rate=0.05, max_iter=35).fit(X, y)
    lines = output.getvalue().splitlines()
    assert len(lines) == 4 and model.n_iter_ == 35  # after iterations 10, 20, 30 and the last
    assert lines[0].startswith("-- Iteration 10, loss: ") and lines[-1].startswith("-- Iteration 35, loss: ")


def test_fixed_learning_rate_is_used_as_given():
    X, y = regression_data()
    model = GDRegressor(learning_rate=0.05, method="gd", tol=1e-12, max_iter=5000).fit(X, y)
    assert model.learning_rate_ == 0.05
    automatic = GDRegressor(method="gd", tol=1e-12).fit(X, y)
    assert 0 < automatic.learning_rate_ < 1.0
    np.testing.assert_allclose(model.coef_, automatic.coef_, rtol=1e-6)


# --- threads and parameters ---------------------------------------------------------------------------


def test_n_threads_applies_to_the_fit_only_and_is_restored(all_threads):
    X, y = regression_data()
    before = numba.get_num_threads()
    GDRegressor(n_threads=1).fit(X, y)
    assert numba.get_num_threads() == before
    with pytest.raises(fastgd.DivergenceError):
        GDRegressor(n_threads=1, learning_rate=1e3, method="gd").fit(X * 100.0, y)
    assert numba.get_num_threads() == before
    with pytest.raises(ValueError, match="n_threads must be between 1 and"):
        GDRegressor(n_threads=all_threads + 1).fit(X, y)


@pytest.mark.parametrize(("params", "error", "message"), [
    ({"learning_rate": "fast"}, TypeError, "'learning_rate' parameter of GDRegressor must be 'auto' or a positive"),
    ({"learning_rate": 0.0}, ValueError, "'learning_rate' parameter of GDRegressor must be 'auto' or a positive"),
    ({"max_iter": 0}, ValueError, r"'max_iter' parameter of GDRegressor must be an int >= 1; got 0"),
    ({"max_iter": 10.0}, TypeError, "'max_iter' parameter of GDRegressor must be an int"),
    ({"tol": -1e-3}, ValueError, "'tol' parameter of GDRegressor must be None or a non-negative float"),
    ({"method": "adam"}, ValueError, r"'method' parameter of GDRegressor must be one of \('auto', 'gd', 'nesterov', 'cg'\)"),
    ({"solver": "qr"}, ValueError, r"'solver' parameter of GDRegressor must be one of \('data', 'gram', 'auto'\)"),
    ({"scale": "yes"}, TypeError, "'scale' parameter of GDRegressor must be a bool"),
    ({"backend": "cuda"}, ValueError, r"'backend' parameter of GDRegressor must be one of \('numba', 'numpy'\)"),
    ({"fit_intercept": "yes"}, TypeError, "'fit_intercept' parameter of GDRegressor must be a bool"),
    ({"n_threads": 0}, ValueError, "'n_threads' parameter of GDRegressor must be an int >= 1"),
])  # fmt: skip
def test_invalid_parameters_are_rejected_at_fit(params, error, message):
    X, y = regression_data(n=20)
    model = GDRegressor(**params)  # scikit-learn convention: construction never validates
    with pytest.raises(error, match=message):
        model.fit(X, y)
