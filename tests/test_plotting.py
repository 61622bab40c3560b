"""Plots: the loss curve and the fitted line, on real matplotlib axes; a clear error without matplotlib."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastgd
from fastgd.plotting import plot_fit, plot_loss, save_plots

matplotlib = pytest.importorskip("matplotlib", reason="plots are optional (fastgd[plot])")
from matplotlib.figure import Figure  # noqa: E402

X = np.linspace(-1.0, 1.0, 50)
Y = 3.0 * X + 2.0


def short_run(X, y, **options):
    """A few iterations of fastgd.train, which may well stop before converging: not what these tests are about."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fastgd.train(X, y, lr=0.5, **options)


@pytest.fixture(scope="module")
def result():
    return short_run(X, Y, iterations=40)


def new_axes():
    return Figure().subplots()


def test_plot_loss_draws_the_loss_history_on_a_log_scale(result):
    ax = plot_loss(result, ax=new_axes())
    (line,) = ax.lines
    assert np.array_equal(line.get_ydata(), result.loss_history)
    assert np.array_equal(line.get_xdata(), np.arange(result.n_iter))
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "iteration"
    assert plot_loss(result, ax=new_axes(), log=False).get_yscale() == "linear"


def test_plot_loss_makes_its_own_axes(result):
    import matplotlib.pyplot as plt

    ax = plot_loss(result)
    try:
        assert ax.figure is not None and len(ax.lines) == 1
    finally:
        plt.close(ax.figure)


def test_plot_fit_draws_the_data_and_the_line(result):
    ax = plot_fit(X, Y, result, ax=new_axes())
    (line,) = ax.lines
    ends = line.get_xdata()
    assert ends.tolist() == [-1.0, 1.0]
    np.testing.assert_allclose(line.get_ydata(), result.w * ends + result.b)
    assert ax.collections[0].get_offsets().shape == (50, 2)


def test_plot_fit_subsamples_large_data():
    x = np.random.default_rng(0).standard_normal(100_000)
    fitted = short_run(x, 2 * x, iterations=30)
    ax = plot_fit(x[:, None], 2 * x, fitted, ax=new_axes(), max_points=1000)
    assert ax.collections[0].get_offsets().shape[0] <= 1000


def test_plot_fit_refuses_several_features():
    X2 = np.column_stack([X, X**2])
    fitted = short_run(X2, Y, iterations=5)
    with pytest.raises(ValueError, match="one feature"):
        plot_fit(X2, Y, fitted, ax=new_axes())


def test_save_plots_writes_a_small_valid_png(result, tmp_path):
    png = tmp_path / "curves.png"
    save_plots(png, {"first": result, "second": result}, (X, Y))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    height, width = imread(png).shape[:2]
    assert 300 <= height <= 1000 and 800 <= width <= 2000  # two panels side by side
    assert png.stat().st_size < 150_000
    assert [path.name for path in tmp_path.iterdir()] == ["curves.png"]


def test_without_matplotlib_the_error_says_what_to_install():
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"  # makes `import matplotlib` raise ImportError
        "import fastgd, fastgd.plotting as p\n"
        "r = fastgd.train([0.0, 1.0], [1.0, 3.0], lr=0.1, iterations=3)\n"
        "try:\n    p.plot_loss(r)\nexcept ImportError as e:\n    print(e)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "pip install fastgd[plot]" in completed.stdout


def test_importing_fastgd_and_its_front_ends_imports_no_optional_package():
    code = (
        "import sys, fastgd, fastgd.cli, fastgd.io, fastgd.plotting, fastgd.progress\n"
        "print(sorted(name for name in ('matplotlib', 'tqdm', 'pyarrow', 'pandas') if name in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert completed.stdout.strip() == "[]"


def test_the_loss_plot_says_whether_the_run_converged(result):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(200) + 50.0  # far from zero, unscaled: plain gradient descent crawls
    y = 2.0 * x + rng.standard_normal(200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        stopped_short = fastgd.train(x, y, lr=1e-4, iterations=50, center=False, scale=False)
    converged = fastgd.train(x, y, iterations=500, method="cg", solver="gram")
    assert not stopped_short.converged and converged.converged
    short_axes = plot_loss(stopped_short, ax=new_axes())
    assert short_axes.get_title().startswith("training loss: NOT converged (coefficient error")
    assert any("a flat loss is not the optimum" in text.get_text() for text in short_axes.texts)
    converged_axes = plot_loss(converged, ax=new_axes())
    assert "training loss: converged" in converged_axes.get_title()
    assert not any("not converged" in text.get_text() for text in converged_axes.texts)


def test_the_loss_plot_draws_the_least_squares_optimum_the_curve_is_heading_for():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(200) + 50.0
    y = 2.0 * x + rng.standard_normal(200)
    design = np.column_stack([x, np.ones_like(x)])
    optimum = float(np.mean((design @ np.linalg.lstsq(design, y, rcond=None)[0] - y) ** 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        stopped_short = fastgd.train(x, y, lr=1e-4, iterations=50, center=False, scale=False)
    assert stopped_short.optimal_loss == pytest.approx(optimum, rel=1e-10)
    ax = plot_loss(stopped_short, ax=new_axes())
    curve, line = ax.lines
    assert np.allclose(line.get_ydata(), optimum) and line.get_label() == "least-squares optimum"
    # The loss is within 0.2% of the optimum although the coefficients are far off: the line shows the gap.
    assert optimum < curve.get_ydata()[-1] < 1.01 * optimum
    assert any(text.get_text() == f"optimum {optimum:.6g}" for text in ax.texts)
    # A perfect fit's optimum (0) is below float64's resolution of the statistics: no line is drawn.
    assert np.isnan(fastgd.train(x, 2.0 * x + 1.0, iterations=100, method="cg").optimal_loss)
    # With a penalty the optimum of the objective is not known from the statistics: no line either.
    assert np.isnan(fastgd.train(x, y, iterations=100, method="cg", alpha=0.1).optimal_loss)


def test_a_loss_within_one_decade_is_drawn_on_a_linear_axis():
    class Run:
        loss_history = np.linspace(5.35, 4.6, 30)  # a log axis here would show ticks like 5.3x10^0

    assert plot_loss(Run(), ax=new_axes()).get_yscale() == "linear"
    assert plot_loss(Run(), ax=new_axes()).get_title() == "training loss"


def test_the_fit_plot_names_its_axes_after_the_columns(result):
    ax = plot_fit(X, Y, result, ax=new_axes(), x_label="area (m²)", y_label="price")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("area (m²)", "price")
