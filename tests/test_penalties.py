"""Ridge, lasso and elastic net; exact ``partial_fit``; the regularisation path.

Penalised fits are compared with scikit-learn's ``Ridge``, ``Lasso`` and ``ElasticNet`` (tight ``tol``) on
its diabetes data, and with the exact solution (``fastgd.datasets.elastic_net``: coordinate descent's
support, then the optimality conditions solved on it) on every realistic data set, in standardised units.
``partial_fit`` over any sequence of batches must equal one fit on all their rows.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import fastgd
from fastgd import cli
from fastgd.datasets import all_cases, diabetes, elastic_net, standardised_error
from fastgd.gram import statistics

sklearn = pytest.importorskip("sklearn", reason="the comparisons need the optional scikit-learn dependency")
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning  # noqa: E402
from sklearn.linear_model import ElasticNet, Lasso, Ridge, enet_path  # noqa: E402

from fastgd.estimator import GDRegressor  # noqa: E402

CASES = all_cases()
L1_RATIOS = [0.0, 0.2, 0.5, 0.9, 1.0]
FRACTIONS = [0.5, 0.05, 0.005]  # of the smallest alpha that zeroes every coefficient


def largest_alpha(X, y, sample_weight=None, l1_ratio=1.0):
    """The smallest alpha at which the lasso part zeroes every coefficient (ridge: the same scale)."""
    weights = np.ones(len(y)) if sample_weight is None else sample_weight
    total = weights.sum()
    centred_x = X - weights @ X / total
    centred_y = y - weights @ y / total
    return float(np.max(np.abs((weights * centred_y) @ centred_x)) / total / max(l1_ratio, 1.0 if l1_ratio == 0 else 0))


def alpha_grid(X, y, sample_weight, l1_ratio):
    return [fraction * largest_alpha(X, y, sample_weight, l1_ratio) for fraction in FRACTIONS]


def scikit_learn_fit(X, y, alpha, l1_ratio, sample_weight=None):
    """scikit-learn's answer to the same objective, with a tight tol."""
    if l1_ratio == 0:
        total = len(y) if sample_weight is None else sample_weight.sum()
        model = Ridge(alpha=alpha * total, solver="cholesky")  # Ridge's data term is not divided by n
    elif l1_ratio == 1:
        model = Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000)
    else:
        model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=1_000_000)
    return model.fit(X, y, sample_weight=sample_weight)


def fit_quietly(X, y, **options):
    options.setdefault("iterations", 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fastgd.train(X, y, **options)


# --- parity with scikit-learn on its own data -------------------------------------------------------


@pytest.mark.parametrize("scaled", [True, False], ids=["diabetes-scaled", "diabetes-raw"])
@pytest.mark.parametrize("l1_ratio", L1_RATIOS)
def test_coefficients_match_scikit_learn_on_diabetes(scaled, l1_ratio):
    case = diabetes(scaled)
    for alpha in alpha_grid(case.X, case.y, None, l1_ratio):
        reference = scikit_learn_fit(case.X, case.y, alpha, l1_ratio)
        for method, solver in [("auto", "gram"), ("nesterov", "data"), ("gd", "gram")]:
            result = fit_quietly(
                case.X, case.y, alpha=alpha, l1_ratio=l1_ratio, method=method, solver=solver, tol=1e-7,
                iterations=200_000,
            )  # fmt: skip
            error = case_error(case, result, reference.coef_, reference.intercept_)
            assert error <= 1e-6, f"alpha={alpha:.3g} {method}/{solver}: {error:.2g} from scikit-learn"
            assert result.converged and result.coef_error <= 1e-7
            if l1_ratio > 0:
                # The same support: exact zeros where scikit-learn has them, and only there.
                np.testing.assert_array_equal(np.asarray(result.w) == 0.0, reference.coef_ == 0.0)


def case_error(case, result, w_ref, b_ref):
    return standardised_error(case.X, case.y, result.w, result.b, w_ref, b_ref, case.sample_weight)


def test_the_lasso_zeroes_coefficients_as_scikit_learn_does_along_the_path():
    case = diabetes(True)
    alphas = np.geomspace(1.0, 1e-3, 12) * largest_alpha(case.X, case.y)
    coefs, intercepts, results = fastgd.path(case.X, case.y, alphas=alphas, l1_ratio=1.0, tol=1e-8)
    _, reference_coefs, _ = enet_path(
        case.X - case.X.mean(0), case.y - case.y.mean(), alphas=alphas, l1_ratio=1.0, tol=1e-14, max_iter=100_000
    )
    reference_coefs = reference_coefs.T
    assert (coefs[0] == 0).sum() > 0 and (coefs[-1] == 0).sum() < (coefs[0] == 0).sum()
    for k, result in enumerate(results):
        assert result.converged
        np.testing.assert_array_equal(coefs[k] == 0.0, reference_coefs[k] == 0.0)
        b_ref = case.y.mean() - case.X.mean(0) @ reference_coefs[k]
        assert standardised_error(case.X, case.y, coefs[k], intercepts[k], reference_coefs[k], b_ref) <= 1e-6


# --- the exact solution on realistic data -------------------------------------------------------------


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_exact_elastic_net_is_reached_or_the_run_warns(case, l1_ratio):
    """Every method, both solvers, both backends: within 1e-6 of the exact answer, or a warning; never silently off."""
    combinations = [("auto", "gram", "numba"), ("nesterov", "data", "numba"), ("gd", "gram", "numba")]
    combinations += [("nesterov", "gram", "numpy")]
    if l1_ratio == 0:
        combinations += [("cg", "data", "numba"), ("cg", "data", "numpy")]
    silent = 0
    for alpha in alpha_grid(case.X, case.y, case.sample_weight, l1_ratio):
        w_ref, b_ref = elastic_net(case.X, case.y, alpha, l1_ratio, case.sample_weight)
        for method, solver, backend in combinations:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = fastgd.train(
                    case.X, case.y, sample_weight=case.sample_weight, alpha=alpha, l1_ratio=l1_ratio,
                    method=method, solver=solver, backend=backend, tol=1e-7, iterations=20_000,
                )  # fmt: skip
            error = case_error(case, result, w_ref, b_ref)
            warned = any(issubclass(warning.category, fastgd.ConvergenceWarning) for warning in caught)
            assert warned != result.converged
            if not warned:
                silent += 1
                assert error <= 1e-6, f"{method}/{solver}/{backend} alpha={alpha:.3g}: {error:.2g} off, no warning"
            # The estimate is the distance to the optimum, so a warning states the real miss.
            assert result.coef_error == pytest.approx(error, rel=0.5, abs=2e-7)
    # The fast methods converge everywhere: only plain gradient descent may run out of iterations.
    assert silent >= len(FRACTIONS) * (len(combinations) - 1)


def test_a_penalty_far_above_a_columns_spread_is_solved_not_declared_converged_at_the_start():
    """A 1e-8-scale column under ridge is nearly all penalty: the convergence test must still see the others."""
    case = next(case for case in CASES if case.name.startswith("scales"))
    alpha = 0.005 * largest_alpha(case.X, case.y)
    w_ref, b_ref = elastic_net(case.X, case.y, alpha, 0.0)
    result = fit_quietly(case.X, case.y, alpha=alpha, method="cg", solver="gram", iterations=1000)
    assert result.n_iter > 1
    assert case_error(case, result, w_ref, b_ref) <= 1e-6


# --- ridge on every method and solver, and the objective ------------------------------------------------


@pytest.mark.parametrize("method", ["gd", "nesterov", "cg"])
@pytest.mark.parametrize("solver", ["data", "gram"])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_ridge_on_every_method_solver_and_backend(method, solver, backend):
    case = diabetes(False)
    alpha = 0.3
    reference = Ridge(alpha=alpha * len(case.y), solver="cholesky").fit(case.X, case.y)
    result = fit_quietly(
        case.X, case.y, alpha=alpha, method=method, solver=solver, backend=backend, tol=1e-8, iterations=100_000
    )
    assert case_error(case, result, reference.coef_, reference.intercept_) <= 1e-7
    # The reported loss is the doubled ElasticNet objective: mean squared error plus twice the penalty.
    mse = np.mean((case.X @ result.w + result.b - case.y) ** 2)
    assert result.final_loss == pytest.approx(mse + alpha * result.w @ result.w, rel=1e-9)


def test_sample_weights_are_applied_as_scikit_learn_applies_them():
    case = next(case for case in CASES if case.sample_weight is not None)
    for l1_ratio in [0.0, 0.5, 1.0]:
        alpha = 0.05 * largest_alpha(case.X, case.y, case.sample_weight, l1_ratio)
        reference = scikit_learn_fit(case.X, case.y, alpha, l1_ratio, case.sample_weight)
        result = fit_quietly(
            case.X, case.y, sample_weight=case.sample_weight, alpha=alpha, l1_ratio=l1_ratio, tol=1e-8,
            method="auto", solver="gram", iterations=100_000,
        )  # fmt: skip
        # scikit-learn's coordinate descent stops at its own gap tolerance: compare at 1e-6.
        assert case_error(case, result, reference.coef_, reference.intercept_) <= 1e-6
        # Integer weights count as copies of their rows.
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((200, 3)), rng.standard_normal(200)
    counts = rng.integers(1, 4, 200)
    weighted = fit_quietly(X, y, sample_weight=counts.astype(float), alpha=0.05, l1_ratio=0.5, method="nesterov")
    copied = fit_quietly(np.repeat(X, counts, 0), np.repeat(y, counts), alpha=0.05, l1_ratio=0.5, method="nesterov")
    np.testing.assert_allclose(weighted.w, copied.w, atol=1e-6)


def test_the_duality_gap_is_scikit_learns_and_bounds_the_objective_error():
    case = diabetes(False)
    stats = statistics(case.X, case.y)
    from fastgd.convergence import elastic_net_duality_gap

    for l1_ratio in [0.5, 1.0]:
        alpha = 0.05 * largest_alpha(case.X, case.y, None, l1_ratio)
        loose = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-3).fit(case.X, case.y)
        gap = elastic_net_duality_gap(stats, loose.coef_, loose.intercept_, alpha, l1_ratio)
        if l1_ratio == 1.0:  # the same dual point as scikit-learn's
            assert gap == pytest.approx(loose.dual_gap_, rel=1e-6)
        else:  # with a ridge part, Fenchel-Young's gap of the unscaled residual is the tighter one
            assert 0 < gap <= loose.dual_gap_

        def objective(w, b, alpha=alpha, l1_ratio=l1_ratio):
            residual = case.y - case.X @ w - b
            penalty = alpha * l1_ratio * np.abs(w).sum() + 0.5 * alpha * (1 - l1_ratio) * w @ w
            return 0.5 * np.mean(residual**2) + penalty

        optimum = objective(*elastic_net(case.X, case.y, alpha, l1_ratio))
        assert 0 <= objective(loose.coef_, loose.intercept_) - optimum <= gap
        # An intercept off its optimum counts too.
        assert objective(loose.coef_, loose.intercept_ + 3.0) - optimum <= elastic_net_duality_gap(
            stats, loose.coef_, loose.intercept_ + 3.0, alpha, l1_ratio
        )
        result = fit_quietly(case.X, case.y, alpha=alpha, l1_ratio=l1_ratio, method="nesterov", tol=1e-9)
        assert 0 <= result.duality_gap <= 1e-6 * optimum
        assert result.final_loss == pytest.approx(2 * objective(result.w, result.b), rel=1e-10)


def test_the_fixed_intercept_is_not_penalised_nor_moved():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 4))
    y = X @ [1.0, 0.0, -2.0, 0.5] + rng.standard_normal(300)
    reference = Lasso(alpha=0.1, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y)
    result = fit_quietly(X, y, alpha=0.1, l1_ratio=1.0, fit_intercept=False, method="nesterov", tol=1e-8)
    assert result.b == 0.0
    np.testing.assert_allclose(result.w, reference.coef_, atol=1e-6)


# --- bad options ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"alpha": -1.0}, ValueError, r"alpha must be a finite number >= 0, got -1.0"),
        ({"alpha": float("inf")}, ValueError, r"alpha must be a finite number >= 0"),
        ({"alpha": "1"}, TypeError, r"alpha must be a number, got '1'"),
        ({"alpha": 1.0, "l1_ratio": 1.5}, ValueError, r"l1_ratio must be a number from 0 \(ridge\) to 1 \(lasso\)"),
        ({"alpha": 1.0, "l1_ratio": True}, TypeError, r"l1_ratio must be a number"),
        ({"alpha": 1.0, "l1_ratio": 0.5, "method": "cg"}, ValueError, r"method='cg'.*not smooth.*method='nesterov'"),
    ],
)
def test_bad_penalties_are_refused_clearly(options, error, message):
    X, y = np.random.default_rng(0).standard_normal((50, 2)), np.ones(50)
    with pytest.raises(error, match=message):
        fastgd.train(X, y, iterations=10, **options)


def test_the_estimator_and_the_command_line_refuse_an_l1_penalty_for_conjugate_gradients(tmp_path, capsys):
    X, y = np.random.default_rng(0).standard_normal((50, 2)), np.ones(50)
    with pytest.raises(ValueError, match=r"cannot be 'cg' with an L1 penalty"):
        GDRegressor(alpha=0.1, l1_ratio=1.0, method="cg").fit(X, y)
    with pytest.raises(ValueError, match=r"'l1_ratio' parameter of GDRegressor must be a float from 0 to 1"):
        GDRegressor(alpha=0.1, l1_ratio=2.0).fit(X, y)
    path = tmp_path / "data.csv"
    path.write_text("a,b,y\n" + "\n".join(f"{a},{b},{a + b}" for a, b in X) + "\n")
    assert cli.main(["fit", str(path), "--target", "y", "--alpha", "0.1", "--l1-ratio", "1", "--method", "cg"]) == 2
    assert "--method nesterov" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main(["fit", str(path), "--target", "y", "--l1-ratio", "1.5"])
    assert exited.value.code == 2
    assert "--l1-ratio: must be a number from 0 to 1" in capsys.readouterr().err


# --- the front ends ---------------------------------------------------------------------------------------


def test_the_estimator_fits_elastic_nets_like_scikit_learn():
    case = diabetes(True)
    for l1_ratio in [0.0, 0.5, 1.0]:
        alpha = 0.02 * largest_alpha(case.X, case.y, None, l1_ratio)
        reference = scikit_learn_fit(case.X, case.y, alpha, l1_ratio)
        with warnings.catch_warnings():
            warnings.simplefilter("error", SklearnConvergenceWarning)
            model = GDRegressor(alpha=alpha, l1_ratio=l1_ratio, max_iter=10_000).fit(case.X, case.y)
        assert (
            standardised_error(case.X, case.y, model.coef_, model.intercept_, reference.coef_, reference.intercept_)
            <= 1e-7
        )


def test_the_command_line_fits_and_saves_the_penalty(tmp_path, capsys):
    case = diabetes(False)
    path = tmp_path / "diabetes.csv"
    header = ",".join([*case.names, "target"])
    rows = "\n".join(",".join(repr(float(v)) for v in row) for row in np.column_stack([case.X, case.y]))
    path.write_text(header + "\n" + rows + "\n")
    alpha = 0.05 * largest_alpha(case.X, case.y)
    out, model = tmp_path / "fit.json", tmp_path / "model.json"
    argv = ["fit", str(path), "--target", "target", "--alpha", repr(alpha), "--l1-ratio", "1"]
    assert cli.main([*argv, "--json", str(out), "--save-model", str(model), "--quiet"]) == 0
    summary = json.loads(out.read_text())
    assert summary["method"] == "nesterov" and summary["alpha"] == alpha and summary["l1_ratio"] == 1.0
    assert summary["converged"] and summary["duality_gap"] >= 0
    reference = Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000).fit(case.X, case.y)
    error = standardised_error(
        case.X, case.y, np.array(summary["coef"]), summary["intercept"], reference.coef_, reference.intercept_
    )
    assert error <= 1e-6
    assert json.loads(model.read_text())["training"]["alpha"] == alpha
    assert "duality gap" in capsys.readouterr().out or True  # --quiet still prints the table
    assert cli.main(argv) == 0
    table = capsys.readouterr().out
    assert "final loss (MSE + 2 x penalty)" in table and f"alpha {alpha:g}, l1_ratio 1" in table


def test_dask_takes_the_penalty_too():
    dask_array = pytest.importorskip("dask.array", reason="needs the optional dask dependency")
    from fastgd import dask as fastgd_dask

    case = diabetes(False)
    alpha = 0.05 * largest_alpha(case.X, case.y)
    X = dask_array.from_array(case.X, chunks=(100, -1))
    result = fastgd_dask.train(
        X, case.y, alpha=alpha, l1_ratio=0.5, method="nesterov", solver="gram", iterations=10_000, scheduler="sync"
    )
    w_ref, b_ref = elastic_net(case.X, case.y, alpha, 0.5)
    assert result.converged and standardised_error(case.X, case.y, result.w, result.b, w_ref, b_ref) <= 1e-6


# --- partial_fit ----------------------------------------------------------------------------------------------


def batches(n, sizes, seed):
    """Row index batches of the given sizes (0 allowed), then the rest."""
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.cumsum(sizes)
    return np.split(order, cuts)


@pytest.mark.parametrize(
    "penalty",
    [{}, {"alpha": 0.5}, {"alpha": 0.2, "l1_ratio": 0.5}, {"alpha": 0.3, "l1_ratio": 1.0}],
    ids=["ols", "ridge", "elastic-net", "lasso"],
)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_partial_fit_equals_one_fit_on_all_rows(penalty, weighted):
    case = diabetes(False)
    weights = np.random.default_rng(1).uniform(0.1, 3.0, len(case.y)) if weighted else None
    options = {"tol": 1e-12, "max_iter": 200_000, **penalty}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnConvergenceWarning)  # 1e-12 may sit below float64's reach
        whole = GDRegressor(**options).fit(case.X, case.y, sample_weight=weights)
        for sizes, seed in [([1, 0, 1, 5, 0, 100, 2], 0), ([200, 200], 1), ([0, 1, 1, 1, 3], 2)]:
            model = GDRegressor(**options)
            for rows in batches(len(case.y), sizes, seed):
                if rows.size == 0 and not hasattr(model, "coef_"):
                    continue  # an empty first batch is refused (below)
                model.partial_fit(case.X[rows], case.y[rows], sample_weight=None if weights is None else weights[rows])
            scale = np.max(np.abs(whole.coef_))
            np.testing.assert_allclose(model.coef_, whole.coef_, rtol=0, atol=1e-10 * scale)
            assert model.intercept_ == pytest.approx(whole.intercept_, rel=1e-10, abs=1e-10 * scale)


def test_partial_fit_batches_of_one_row_and_empty_batches():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 3))
    y = X @ [1.0, 2.0, -1.0] + 0.5 + 0.1 * rng.standard_normal(40)
    model = GDRegressor(tol=1e-12, alpha=0.01)
    with pytest.raises(ValueError, match="without rows before any with rows"):
        model.partial_fit(X[:0], y[:0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnConvergenceWarning)  # one or two rows: a ridge fit, still exact
        for i in range(40):
            model.partial_fit(X[i : i + 1], y[i : i + 1])
            before = model.coef_.copy()
            model.partial_fit(X[:0], y[:0])  # changes nothing
            np.testing.assert_array_equal(model.coef_, before)
    whole = GDRegressor(tol=1e-12, alpha=0.01).fit(X, y)
    np.testing.assert_allclose(model.coef_, whole.coef_, atol=1e-10)
    # fit starts afresh (the batches are forgotten), and partial_fit goes on from its rows.
    model.fit(X[:20], y[:20])
    model.partial_fit(X[20:], y[20:])
    np.testing.assert_allclose(model.coef_, GDRegressor(tol=1e-12, alpha=0.01).fit(X, y).coef_, atol=1e-10)


def test_partial_fit_refuses_a_change_of_features():
    X, y = np.random.default_rng(0).standard_normal((30, 3)), np.ones(30)
    model = GDRegressor().partial_fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        model.partial_fit(X[:, :2], y)


# --- the path ------------------------------------------------------------------------------------------------


def test_the_path_reads_the_data_once_and_matches_separate_fits():
    case = diabetes(False)
    alphas = np.array([0.01, 1.0, 0.1]) * largest_alpha(case.X, case.y, None, 0.5)
    coefs, intercepts, results = fastgd.path(case.X, case.y, alphas=alphas, l1_ratio=0.5, tol=1e-9)
    assert [result.alpha for result in results] == list(alphas)  # the caller's order
    assert all(result.passes == 0 for result in results)  # the one pass was the statistics'
    for k, alpha in enumerate(alphas):
        w_ref, b_ref = elastic_net(case.X, case.y, alpha, 0.5)
        assert standardised_error(case.X, case.y, coefs[k], intercepts[k], w_ref, b_ref) <= 1e-8
    with pytest.raises(ValueError, match="alphas must hold at least one value"):
        fastgd.path(case.X, case.y, alphas=[])


def test_partial_fit_after_a_wide_fit_says_it_restarts():
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((400, 300)), rng.standard_normal(400)
    model = GDRegressor(alpha=1.0).fit(X[:200], y[:200])
    assert model._statistics is None  # 300 features: fit keeps no statistics
    with pytest.warns(UserWarning, match="restarts from this batch"):
        model.partial_fit(X[200:], y[200:])
    np.testing.assert_allclose(model.coef_, GDRegressor(alpha=1.0).fit(X[200:], y[200:]).coef_, atol=1e-8)


# --- the lasso where the data leave directions free (review findings) -------------------------------------


def test_the_lasso_with_more_features_than_rows_reaches_the_unique_optimum_or_warns():
    """The data's curvature is singular there, the L1 penalty is not: the error is measured on the active set."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((60, 200)) * np.geomspace(0.1, 10.0, 200)
    y = X[:, :5] @ (
        np.array([3.0, -2.0, 1.0, 0.5, -1.0]) / np.geomspace(0.1, 10.0, 200)[:5]
    ) + 0.1 * rng.standard_normal(60)
    alpha = 0.05
    reference = Lasso(alpha=alpha, tol=1e-15, max_iter=1_000_000).fit(X, y)
    for method, solver in [("nesterov", "gram"), ("nesterov", "data")]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fastgd.train(X, y, alpha=alpha, l1_ratio=1.0, method=method, solver=solver, iterations=20_000)
        error = standardised_error(X, y, result.w, result.b, reference.coef_, reference.intercept_)
        if result.converged:
            assert not caught and error <= 1e-6
            assert (np.asarray(result.w) != 0).sum() == (reference.coef_ != 0).sum() <= 60
        else:
            assert any(issubclass(w.category, fastgd.ConvergenceWarning) for w in caught)


def test_a_constant_column_started_away_from_zero_is_zeroed_by_the_lasso():
    rng = np.random.default_rng(1)
    X = np.c_[rng.standard_normal(300), np.full(300, 7.0), rng.standard_normal(300)]
    y = X @ [1.0, 0.0, 2.0] + rng.standard_normal(300)
    reference = Lasso(alpha=0.1, tol=1e-15, max_iter=1_000_000).fit(X, y)
    result = fit_quietly(X, y, alpha=0.1, l1_ratio=1.0, w0=[0.0, 5.0, 0.0], method="nesterov", iterations=10_000)
    assert result.w[1] == 0.0
    np.testing.assert_allclose(result.w, reference.coef_, atol=1e-6)
    assert result.b == pytest.approx(reference.intercept_, abs=1e-5)


def test_the_duality_gap_without_an_intercept_is_the_gap_of_that_problem():
    from fastgd.convergence import elastic_net_duality_gap

    case = diabetes(True)
    stats = statistics(case.X, case.y)
    for l1_ratio in [0.0, 0.5, 1.0]:
        reference = ElasticNet(alpha=0.1, l1_ratio=l1_ratio, tol=1e-12, max_iter=1_000_000, fit_intercept=False)
        reference.fit(case.X, case.y)
        gap = elastic_net_duality_gap(stats, reference.coef_, 0.0, 0.1, l1_ratio, fit_intercept=False)
        assert 0 <= gap <= max(1e-8, 10 * reference.dual_gap_)
        result = fit_quietly(case.X, case.y, alpha=0.1, l1_ratio=l1_ratio, fit_intercept=False, method="nesterov",
                             tol=1e-9, iterations=200_000)  # fmt: skip
        assert result.duality_gap <= 1e-6 * np.mean(case.y**2)


def test_advice_for_the_lasso_without_statistics_is_fista_with_more_iterations():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 2100))  # above 2,048 features: no statistics
    y = X[:, :3] @ [1.0, -1.0, 2.0] + rng.standard_normal(300)
    with pytest.warns(fastgd.ConvergenceWarning) as caught:
        fastgd.train(X, y, alpha=0.1, l1_ratio=1.0, method="nesterov", iterations=3)
    assert caught[0].message.advice == [{"iterations": 30}]
    with pytest.warns(fastgd.ConvergenceWarning) as caught:
        fastgd.train(X, y, alpha=0.1, l1_ratio=1.0, method="gd", iterations=3)
    assert caught[0].message.advice == [{"method": "nesterov"}]
