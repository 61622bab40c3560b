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
from .gram import SufficientStatistics
from .ops import loss_and_gradients, predict
from .plotting import plot_fit, plot_loss
from .training import ConvergenceWarning, DivergenceError, TrainResult, train

__all__ = [
    "ConvergenceWarning",
    "DivergenceError",
    "SufficientStatistics",
    "TrainResult",
    "loss_and_gradients",
    "plot_fit",
    "plot_loss",
    "predict",
    "reference",
    "train",
]
__version__ = "0.1.0"
