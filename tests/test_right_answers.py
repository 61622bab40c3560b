"""Right answers on real data: the defaults reach ordinary least squares, and nothing returns far from it in silence.

Real data (Longley, stack loss, scikit-learn's diabetes data scaled and raw) and realistic data built to
mimic real trouble (``fastgd.datasets``) are fitted with the defaults of every entry point and compared with
``numpy.linalg.lstsq`` in standardised units, ``|w_j - w*_j| * std(x_j) / std(y)``. Then every silent
failure the issue reported is reproduced and must now either be right or say so.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import fastgd
from fastgd import cli, stepsize, training
from fastgd.datasets import LONGLEY_CERTIFIED, LONGLEY_RESIDUAL_SD, all_cases, house_prices, longley

sklearn = pytest.importorskip("sklearn", reason="GDRegressor needs the optional scikit-learn dependency")
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402

from fastgd.estimator import GDRegressor  # noqa: E402

CASES = all_cases()
COEFFICIENT_TARGET = 1e-4  # standardised units
LOSS_TARGET = 1e-6  # relative to the optimal loss


def assert_ordinary_least_squares(case, w, b):
    error = case.standardised_error(w, b)
    gap = case.relative_loss_gap(w, b)
    assert error <= COEFFICIENT_TARGET, f"{case.name}: standardised coefficient error {error:.2g}"
    assert gap <= LOSS_TARGET, f"{case.name}: loss {gap:.2g} above the optimum (relative)"


# --- the defaults, on real and realistic data -------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_estimator_defaults_reach_ordinary_least_squares_without_a_warning(case):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = GDRegressor().fit(case.X, case.y, sample_weight=case.sample_weight)
    # Converged: within tol=1e-8, or (the far intercept) within a few ulps of the closest float64 answer.
    assert model.converged_ and model.coef_error_ <= max(
        1e-8, 8 * np.finfo(float).eps * abs(case.y.mean()) / case.y.std()
    )
    assert_ordinary_least_squares(case, model.coef_, model.intercept_)


@pytest.mark.parametrize("case", [case for case in CASES if case.sample_weight is None], ids=lambda case: case.name)
def test_command_line_defaults_reach_ordinary_least_squares_without_a_warning(case, tmp_path, capsys):
    path = tmp_path / f"{case.name}.csv"
    header = ",".join([*case.names, "target"])
    rows = "\n".join(",".join(repr(float(v)) for v in row) for row in np.column_stack([case.X, case.y]))
    path.write_text(header + "\n" + rows + "\n")
    out = tmp_path / "fit.json"
    assert cli.main(["fit", str(path), "--target", "target", "--json", str(out), "-q"]) == 0
    assert "warning" not in capsys.readouterr().err
    summary = json.loads(out.read_text())
    assert summary["converged"] and summary["warnings"] == []
    assert_ordinary_least_squares(case, np.array(summary["coef"]), summary["intercept"])


def test_longley_matches_nists_certified_values():
    # NIST's StRD certify Longley's coefficients to 15 digits; the defaults get at least 7 of every one.
    case = longley()
    model = GDRegressor().fit(case.X, case.y)
    fitted = np.append(model.intercept_, model.coef_)
    correct_digits = -np.log10(np.abs(fitted - LONGLEY_CERTIFIED) / np.abs(LONGLEY_CERTIFIED))
    assert correct_digits.min() >= 7, correct_digits
    residual_sd = np.sqrt(np.sum((case.y - model.predict(case.X)) ** 2) / (len(case.y) - 7))
    assert residual_sd == pytest.approx(LONGLEY_RESIDUAL_SD, rel=1e-9)


@pytest.mark.parametrize("method", ["cg", "nesterov", "gd"])
@pytest.mark.parametrize("solver", ["data", "gram"])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_train_is_right_or_says_so_on_every_case(case, method, solver):
    # A fixed budget that some methods meet and others do not: either way the claim must be true.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", fastgd.ConvergenceWarning)
        result = fastgd.train(
            case.X, case.y, iterations=300, method=method, solver=solver, sample_weight=case.sample_weight
        )
    warned = any(issubclass(w.category, fastgd.ConvergenceWarning) for w in caught)
    assert warned == (not result.converged)
    true_error = case.standardised_error(result.w, result.b)
    if result.converged:
        assert result.coef_error <= 1e-6 and true_error <= 2e-6, (result.coef_error, true_error)
    else:
        assert result.coef_error > 1e-6
    # Exact with the statistics at hand: the estimate is the error (to rounding far below the tolerance).
    assert true_error == pytest.approx(result.coef_error, rel=0.05, abs=5e-7)


# --- the reproducers of the issue -------------------------------------------------------------------


def house_price_reproducer():
    rng = np.random.default_rng(0)
    n = 20_000
    area = rng.normal(100, 30, n)
    lot = rng.normal(0.001, 0.0003, n)
    price = 300_000 + 1_000 * area + 1e8 * lot + rng.normal(0, 5_000, n)
    return np.column_stack([area, lot]), price


def test_reproducer_gram_nesterov_centre_reaches_the_optimum():
    X, price = house_price_reproducer()
    result = fastgd.train(X, price, iterations=1000, solver="gram", method="nesterov", center=True)
    expected = LinearRegression().fit(X, price)
    optimum = np.mean((expected.predict(X) - price) ** 2)
    assert result.converged and result.final_loss == pytest.approx(optimum, rel=1e-9)


def test_reproducer_estimator_defaults_score_like_linear_regression():
    X, price = house_price_reproducer()
    expected = LinearRegression().fit(X, price).score(X, price)
    assert GDRegressor().fit(X, price).score(X, price) == pytest.approx(expected, abs=1e-12)


def test_reproducer_a_large_feature_no_longer_freezes_the_intercept():
    x = np.random.default_rng(0).standard_normal(10_000) * 1e6
    result = fastgd.train(x, x / 1e6 + 5.0, iterations=1000)
    assert result.b == pytest.approx(5.0, rel=1e-9) and result.w == pytest.approx(1e-6, rel=1e-9)


def test_the_last_step_is_checked():
    X, y = house_prices(n=500).X, house_prices(n=500).y
    with pytest.raises(fastgd.DivergenceError, match=r"non-finite|above the starting loss"):
        fastgd.train(X, y, lr=1e300, iterations=1)
    with pytest.raises(fastgd.DivergenceError):
        GDRegressor(learning_rate=1e3, method="gd", max_iter=1, tol=None).fit(X, y)


def test_a_callback_stop_is_checked_like_any_other_end():
    X, y = house_price_reproducer()
    stop = lambda *_: False  # noqa: E731
    with pytest.raises(fastgd.DivergenceError, match="rose"):
        fastgd.train(X, y, lr=1e-3, iterations=100, callback=stop, callback_every=3)
    with pytest.warns(fastgd.ConvergenceWarning, match="when the callback asked after 3 iterations"):
        result = fastgd.train(X, y, iterations=100, center=False, scale=False, callback=stop, callback_every=3)
    assert result.stop_reason == "callback" and not result.converged


def test_a_step_just_past_the_stability_limit_is_divergence_not_convergence():
    X, y = house_prices(n=2_000).X, house_prices(n=2_000).y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        lipschitz = fastgd.train(X, y, iterations=1, method="gd").lipschitz  # standardised coordinates
    with pytest.raises(fastgd.DivergenceError, match="rose"):
        GDRegressor(learning_rate=2.05 / lipschitz, method="gd", max_iter=2000).fit(X, y)


def test_a_near_perfect_fit_reports_its_true_loss_on_the_statistics_solver():
    # y ~ 1e8 X.w + N(0, 1): the statistics hold var(y) ~ 5e16 to about 1e-15 relative, so a loss of ~1
    # computed from them is rounding; fastgd checks such losses on the data.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5_000, 3))
    y = 1e8 * (X @ np.array([1.0, -2.0, 0.5])) + rng.normal(size=5_000)
    exact = LinearRegression().fit(X, y)
    optimum = np.mean((exact.predict(X) - y) ** 2)
    result = fastgd.train(X, y, iterations=100, solver="gram", method="cg", loss_threshold=0.5)
    assert result.stop_reason != "loss_threshold"  # the optimum itself is above 0.5
    assert result.final_loss == pytest.approx(np.mean((X @ result.w + result.b - y) ** 2), rel=1e-9)
    assert result.final_loss >= optimum
    # The coefficients are within tol = 1e-6 standard units, which here is ~1e-6 * 2.3e8 in each
    # coefficient: the loss, a residual of 1 under a signal of 2e8, needs a far tighter tolerance.
    tight = fastgd.train(X, y, iterations=100, solver="gram", method="cg", tol=1e-13)
    assert tight.converged and tight.final_loss == pytest.approx(optimum, rel=1e-6)


def test_huge_features_are_refused_clearly_and_large_ones_train():
    x = np.random.default_rng(0).standard_normal(10_000)
    with pytest.raises(ValueError, match=r"squares of column 0 of X overflow float64"):
        fastgd.train(x * 1e155, x + 1.0, iterations=10)
    result = fastgd.train(x * 1e150, x + 1.0, iterations=100)
    assert 0 < result.lr < np.inf and result.converged
    assert result.w == pytest.approx(1e-150, rel=1e-9) and result.b == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("method", ["gd", "nesterov", "cg"])
def test_a_warm_start_at_the_exact_optimum_is_not_divergence(method):
    X, y = house_price_reproducer()
    exact = LinearRegression().fit(X, y)
    result = fastgd.train(X, y, iterations=50, solver="gram", method=method, w0=exact.coef_, b0=exact.intercept_)
    assert result.converged and result.n_iter == 1 and result.stop_reason == "tol"


def test_an_underestimated_step_size_halves_itself_instead_of_diverging(monkeypatch):
    # As if power iteration had missed the top eigenvector by a factor of 10 (wide data has no statistics).
    monkeypatch.setattr(training, "STATISTICS_MAX_FEATURES", 1)
    real = stepsize.power_iteration_lipschitz
    monkeypatch.setattr(stepsize, "power_iteration_lipschitz", lambda *a, **k: (real(*a, **k)[0] / 10, 5))
    case = house_prices(n=3_000)
    result = fastgd.train(case.X, case.y, iterations=3_000)
    assert result.converged
    assert case.standardised_error(result.w, result.b) <= 2e-6


def test_masked_arrays_are_refused_rather_than_trained_on_their_hidden_values():
    X = np.ma.masked_invalid(np.array([[1.0, 2.0], [np.nan, 3.0], [4.0, 5.0]]))
    with pytest.raises(TypeError, match="X is a numpy masked array; fastgd does not honour masks"):
        fastgd.train(X, np.array([1.0, 2.0, 3.0]), iterations=5)
    with pytest.raises(TypeError, match="y is a numpy masked array"):
        fastgd.train(np.ones((3, 1)), np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0]), iterations=5)


# --- advice that works when followed ----------------------------------------------------------------

KEYWORDS = {"python": {}, "estimator": {"lr": "learning_rate", "iterations": "max_iter"}}


def follow(advice: dict, options: dict, names: dict) -> dict:
    followed = dict(options)
    for name, value in advice.items():
        followed[names.get(name, name)] = value
    return followed


STRUGGLING_RUNS = [
    ("calendar-year", {"iterations": 200, "center": False, "scale": False}),
    ("calendar-year", {"iterations": 200, "method": "nesterov"}),
    ("longley", {"iterations": 100, "method": "gd"}),
    ("diabetes-raw", {"iterations": 30, "method": "nesterov", "solver": "gram"}),
    ("longley", {"iterations": 3, "method": "cg"}),
    ("near-duplicates", {"iterations": 50, "lr": 1e-4}),
    ("tiny-16", {"iterations": 3, "method": "cg", "solver": "data", "center": False, "scale": False}),
]


@pytest.mark.parametrize(
    ("name", "options"), STRUGGLING_RUNS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(STRUGGLING_RUNS)]
)
def test_every_suggestion_of_a_convergence_warning_converges_when_followed(name, options):
    case = next(case for case in CASES if case.name == name)
    with pytest.warns(fastgd.ConvergenceWarning) as caught:
        fastgd.train(case.X, case.y, **options)
    advice = caught[0].message.advice
    assert advice, str(caught[0].message)
    for suggestion in advice:
        followed = follow(suggestion, options, KEYWORDS["python"])
        with warnings.catch_warnings():
            warnings.simplefilter("error", fastgd.ConvergenceWarning)
            result = fastgd.train(case.X, case.y, **followed)
        assert result.converged, (suggestion, result.coef_error)
        assert case.standardised_error(result.w, result.b) <= 2e-6


def test_divergence_advice_converges_when_followed():
    case = next(case for case in CASES if case.name == "diabetes-raw")
    options = {"lr": 0.1, "iterations": 500}
    with pytest.raises(fastgd.DivergenceError) as raised:
        fastgd.train(case.X, case.y, **options)
    assert raised.value.advice
    for suggestion in raised.value.advice:
        with warnings.catch_warnings():
            warnings.simplefilter("error", fastgd.ConvergenceWarning)
            result = fastgd.train(case.X, case.y, **follow(suggestion, options, {}))
        assert result.converged


def test_advice_never_suggests_what_is_already_in_use():
    case = next(case for case in CASES if case.name == "longley")
    with pytest.warns(fastgd.ConvergenceWarning) as caught:
        fastgd.train(case.X, case.y, iterations=2, method="cg", solver="gram")
    for suggestion in caught[0].message.advice:
        assert suggestion.get("method") != "cg" or "iterations" in suggestion
        assert suggestion.get("solver") != "gram" or len(suggestion) > 1
    assert "method='cg';" not in str(caught[0].message) and "Try iterations=" in str(caught[0].message)


def test_estimator_advice_is_in_the_estimators_syntax_and_converges_when_followed():
    case = next(case for case in CASES if case.name == "calendar-year")
    model = GDRegressor(method="nesterov", max_iter=100)
    with pytest.warns(SklearnConvergenceWarning) as caught:
        model.fit(case.X, case.y)
    message = str(caught[0].message)
    assert "GDRegressor(method='cg')" in message and "iterations=" not in message and "max_iter=" in message
    for suggestion in (model.set_params(method="cg"), GDRegressor(method="nesterov", max_iter=100_000)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fitted = suggestion.fit(case.X, case.y)
        assert fitted.converged_


def test_command_line_advice_is_in_flags_and_converges_when_followed(tmp_path, capsys):
    case = next(case for case in CASES if case.name == "longley")
    path = tmp_path / "longley.csv"
    rows = "\n".join(",".join(repr(float(v)) for v in row) for row in np.column_stack([case.X, case.y]))
    path.write_text(",".join([*case.names, "TOTEMP"]) + "\n" + rows + "\n")
    assert cli.main(["fit", str(path), "--target", "TOTEMP", "--method", "nesterov", "--iterations", "50", "-q"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "--method cg" in err and "method='cg'" not in err
    flags = err.split("Try ")[1].split(";")[0].rstrip(".\n").split()
    out = tmp_path / "fit.json"
    assert (
        cli.main(["fit", str(path), "--target", "TOTEMP", "--iterations", "50", *flags, "--json", str(out), "-q"]) == 0
    )
    assert json.loads(out.read_text())["converged"]
