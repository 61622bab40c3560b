"""fastgd: fast, trustworthy gradient descent for linear regression.

>>> import numpy as np, fastgd
>>> x = np.arange(10.0)
>>> result = fastgd.train(x, 2.0 * x + 1.0, iterations=20_000)
>>> round(result.w, 4), round(result.b, 4)
(2.0, 1.0)

``fastgd.reference`` is the plain-numpy path, for debugging;
``fastgd.ops`` has the single-pass functions (loss, gradients, predictions)
with either backend.
"""

from . import reference
from ._version import __version__
from .errors import ConvergenceWarning, DivergenceError
from .gram import SufficientStatistics
from .ops import loss_and_gradients, predict
from .plotting import plot_fit, plot_loss
from .training import TrainResult, path, train, train_statistics

__all__ = [
    "ConvergenceWarning",
    "DivergenceError",
    "GDRegressor",
    "SufficientStatistics",
    "TrainResult",
    "__version__",
    "loss_and_gradients",
    "path",
    "plot_fit",
    "plot_loss",
    "predict",
    "reference",
    "train",
    "train_statistics",
    "train_stream",
]


def __getattr__(name: str):
    # The scikit-learn estimator is imported on first use, so `import fastgd` never imports sklearn.
    if name == "GDRegressor":
        from .estimator import GDRegressor

        return GDRegressor
    if name == "train_stream":  # reads files: fastgd.io and its readers load on first use
        from .stream import train_stream

        return train_stream
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"GDRegressor", "train_stream"})
