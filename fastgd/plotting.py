"""Plots of a training run: the loss curve and, for one feature, the fitted line.

matplotlib is optional (``pip install fastgd[plot]``) and imported only when
a plot is drawn. With ``ax=None`` the functions draw on a new pyplot figure
(on a machine without a display, matplotlib's non-interactive Agg backend);
:func:`save_plots` draws without pyplot at all, for scripts and the CLI.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["plot_fit", "plot_loss", "save_plots"]

# plot_fit draws at most this many points; more only turns the scatter into a blot.
MAX_SCATTER_POINTS = 5_000

_INSTALL_HINT = "plotting needs matplotlib: pip install fastgd[plot] (or pip install matplotlib)"


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    return matplotlib


def _new_axes() -> Any:
    matplotlib = _require_matplotlib()
    headless = sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless and "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # no display: draw into memory instead of failing to open a window
    import matplotlib.pyplot as plt

    _figure, ax = plt.subplots()
    return ax


def plot_loss(result: Any, ax: Any = None, log: bool = True, **line_options: Any) -> Any:
    """Plot the loss at each iteration of a training run.

    Parameters
    ----------
    result : TrainResult
        Any object with a ``loss_history`` array (e.g. from :func:`fastgd.train`).
    ax : matplotlib Axes, optional
        Where to draw; a new figure's axes by default.
    log : bool
        Logarithmic loss axis (when every loss is positive).
    **line_options
        Passed to ``ax.plot`` (e.g. ``label=``, ``linestyle=``).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np, fastgd
    >>> from fastgd.plotting import plot_loss
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> ax = plot_loss(fastgd.train(x, 3 * x + 2, lr=0.5, iterations=200))
    >>> ax.get_yscale()
    'log'
    """
    losses = np.asarray(result.loss_history, dtype=np.float64)
    if ax is None:
        ax = _new_axes()
    else:
        _require_matplotlib()
    ax.plot(np.arange(losses.shape[0]), losses, **line_options)
    optimum = getattr(result, "optimal_loss", float("nan"))
    if np.isfinite(optimum) and losses.size:
        # Where the curve is heading: a plateau above this line is not convergence.
        ax.axhline(optimum, color="0.4", linestyle="--", linewidth=1.0, label="least-squares optimum")
        ax.annotate(
            f"optimum {optimum:.6g}", xy=(0.98, optimum), xycoords=("axes fraction", "data"), ha="right", va="top",
            fontsize="small", color="0.3",
        )  # fmt: skip
    # Within one decade a log axis shows nothing a linear one does not, and labels its few ticks as
    # "5.3x10^0": linear there.
    shown = np.append(losses, optimum) if np.isfinite(optimum) and losses.size else losses
    if log and shown.size and (shown > 0).all() and shown.max() > 10.0 * shown.min():
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (mean squared error)")
    ax.set_title(_convergence_title(result))
    ax.grid(True, which="major", alpha=0.3)
    if getattr(result, "converged", True) is False:
        # A loss curve flattens long before the coefficients converge: say so where the eye looks.
        ax.annotate(
            "not converged: a flat loss is not the optimum",
            xy=(0.98, 0.95),
            xycoords="axes fraction",
            ha="right",
            va="top",
            fontsize="small",
            color="C3",
        )
    return ax


def _convergence_title(result: Any) -> str:
    """The loss panel's title: whether the run reached the least-squares answer, by its coefficient error."""
    converged, error, tol = (getattr(result, name, None) for name in ("converged", "coef_error", "tol"))
    if converged is None or error is None:
        return "training loss"
    if converged and error <= tol:
        return f"training loss: converged (coefficient error {error:.1e} <= tol {tol:g})"
    if converged:  # tol below what float64 resolves for these data: as close as it gets
        return f"training loss: converged to float64 resolution (coefficient error {error:.1e})"
    return f"training loss: NOT converged (coefficient error {error:.2g} > tol {tol:g})"


def plot_fit(
    X: ArrayLike,
    y: ArrayLike,
    result: Any,
    ax: Any = None,
    max_points: int = MAX_SCATTER_POINTS,
    *,
    x_label: str = "x",
    y_label: str = "y",
) -> Any:
    """Scatter one-feature data and draw the fitted line ``y = w·x + b``.

    Parameters
    ----------
    X : array_like, shape (n,) or (n, 1)
        The single feature.
    y : array_like, shape (n,)
    result : TrainResult
        Any object with ``w`` (one value) and ``b``.
    ax : matplotlib Axes, optional
    max_points : int
        Large data is drawn as an evenly spaced subsample of this many points
        (the line always uses the full range of ``X``).
    x_label, y_label : str
        Axis labels: the feature's and the target's names.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``X`` has more than one feature.

    Examples
    --------
    >>> import numpy as np, fastgd
    >>> from fastgd.plotting import plot_fit
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> ax = plot_fit(x, 3 * x + 2, fastgd.train(x, 3 * x + 2, lr=0.5, iterations=2000))
    >>> len(ax.lines)
    1
    """
    x = np.asarray(X)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(
            f"plot_fit draws one feature against the target; X has shape {x.shape}. "
            "Plot one column at a time or use plot_loss"
        )
    y = np.asarray(y)
    if y.shape != x.shape:
        raise ValueError(f"X and y must have the same length; got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] == 0:
        raise ValueError("X is empty; nothing to plot")
    w = np.asarray(result.w, dtype=np.float64).reshape(-1)
    if w.shape[0] != 1:
        raise ValueError(f"plot_fit needs a one-feature model; this result has {w.shape[0]} weights")
    slope, intercept = float(w[0]), float(result.b)
    if ax is None:
        ax = _new_axes()
    else:
        _require_matplotlib()
    # An evenly spaced subsample is deterministic and keeps the data's order and spread.
    step = max(1, -(-x.shape[0] // max(1, max_points)))
    shown = f" (every {step}th of {x.shape[0]:,} points)" if step > 1 else ""
    ax.scatter(x[::step], y[::step], s=6, alpha=0.4, linewidths=0, label=f"data{shown}")
    ends = np.array([float(x.min()), float(x.max())])
    ax.plot(ends, slope * ends + intercept, color="C3", label=f"fit: y = {slope:.4g}·x + {intercept:.4g}")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title("fitted line")
    ax.legend(loc="best", fontsize="small")
    return ax


def save_plots(
    path: str | os.PathLike,
    results: dict[str, Any],
    data: tuple[ArrayLike, ArrayLike] | None = None,
    *,
    dpi: int = 100,
    labels: tuple[str, str] = ("x", "y"),
) -> Path:
    """Save a PNG of one or more loss curves (and the fit, given one-feature ``data``), atomically.

    Draws with matplotlib's object API and Agg canvas, so it never touches
    pyplot's global state or needs a display.

    Parameters
    ----------
    path : str or path
        The PNG to write.
    results : dict
        Label -> TrainResult; each loss curve is drawn with its label.
    data : (X, y), optional
        One-feature data: adds a second panel with :func:`plot_fit` of the
        last result.
    labels : (str, str)
        The feature's and the target's names, for the fit panel's axes.

    Examples
    --------
    >>> import numpy as np, fastgd, tempfile
    >>> from fastgd.plotting import save_plots
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> png = Path(tempfile.mkdtemp()) / "loss.png"
    >>> _ = save_plots(png, {"numba": fastgd.train(x, 3 * x + 2, lr=0.5, iterations=200)})
    >>> png.read_bytes()[:4]
    b'\\x89PNG'
    """
    _require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .io import write_atomic

    panels = 2 if data is not None else 1
    figure = Figure(figsize=(5.5 * panels, 3.8), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    styles = ("-", "--", ":", "-.")
    for k, (label, result) in enumerate(results.items()):
        plot_loss(result, ax=axes[0], label=label, linestyle=styles[k % len(styles)], linewidth=2 if k == 0 else 1.5)
    if len(results) > 1:
        axes[0].legend(loc="best", fontsize="small")
    if data is not None:
        plot_fit(data[0], data[1], list(results.values())[-1], ax=axes[1], x_label=labels[0], y_label=labels[1])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_atomic(path, lambda handle: handle.write(buffer.getvalue()))
