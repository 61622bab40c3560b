"""What fastgd raises and warns, and how it words advice for each interface.

A leaf module: it imports nothing else of fastgd, so every other module
(training, the estimator, the command line, Dask) can import it.

Advice is kept as data (``{"method": "cg", "iterations": 120}``) and worded
when a message is made, in the syntax of the interface the user is in:
keywords of :func:`fastgd.train` by default, ``GDRegressor`` parameters
inside :meth:`fastgd.GDRegressor.fit`, flags of ``fastgd fit`` on the command
line (:func:`advice_syntax`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

Suggestion = Mapping[str, Any]

SYNTAXES = ("python", "estimator", "cli")

_syntax: contextvars.ContextVar[str] = contextvars.ContextVar("fastgd_advice_syntax", default="python")

# How each interface spells fastgd.train's options.
_ESTIMATOR_NAMES = {"lr": "learning_rate", "iterations": "max_iter"}
_CLI_FLAGS = {
    "lr": "--lr",
    "iterations": "--iterations",
    "method": "--method",
    "solver": "--solver",
    "tol": "--tol",
}


@contextlib.contextmanager
def advice_syntax(syntax: str) -> Iterator[None]:
    """Word the advice of warnings and errors raised inside the block for ``syntax`` (one of :data:`SYNTAXES`)."""
    if syntax not in SYNTAXES:
        raise ValueError(f"syntax must be one of {SYNTAXES}, got {syntax!r}")
    token = _syntax.set(syntax)
    try:
        yield
    finally:
        _syntax.reset(token)


def current_syntax() -> str:
    """The syntax set by the innermost :func:`advice_syntax` (``"python"`` outside any)."""
    return _syntax.get()


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return repr(value)


def format_suggestion(suggestion: Suggestion, syntax: str | None = None) -> str:
    """One suggestion as the user would type it: ``method='cg', iterations=120`` or ``--method cg --iterations 120``."""
    syntax = current_syntax() if syntax is None else syntax
    if syntax == "cli":
        parts = []
        for name, value in suggestion.items():
            if isinstance(value, bool):
                parts.append(f"--{name}" if value else f"--no-{name}")
            else:
                parts.append(
                    f"{_CLI_FLAGS.get(name, '--' + name)} {value if isinstance(value, str) else _value_text(value)}"
                )
        return " ".join(parts)
    names = _ESTIMATOR_NAMES if syntax == "estimator" else {}
    text = ", ".join(f"{names.get(name, name)}={_value_text(value)}" for name, value in suggestion.items())
    return f"GDRegressor({text})" if syntax == "estimator" else text


def format_advice(advice: Sequence[Suggestion], syntax: str | None = None) -> str:
    """``"try A; or B"`` for a list of alternative suggestions (empty text for none)."""
    if not advice:
        return ""
    options = [format_suggestion(suggestion, syntax) for suggestion in advice]
    return "Try " + "; or ".join(options) + "."


class ConvergenceWarning(UserWarning):
    """Training ended with its estimated coefficient error above the tolerance.

    Attributes
    ----------
    error : float
        The estimated largest error of a standardised coefficient
        (``|w_j - w*_j| * std(x_j) / std(y)``, see :attr:`fastgd.TrainResult.coef_error`).
    tol : float
        The tolerance it missed.
    advice : list of dict
        Alternative changes of options, each expected to converge when
        followed (worded in the message for the interface in use).
    """

    def __init__(self, message: str, *, error: float = float("nan"), tol: float = float("nan"), advice=()):
        super().__init__(message)
        self.error = error
        self.tol = tol
        self.advice = list(advice)


class DivergenceError(ValueError):
    """Training diverged: the loss became non-finite or grew.

    Attributes
    ----------
    iteration : int
        0-based iteration at which the bad loss was seen.
    lr : float
        The learning rate that diverged.
    w, b :
        The last parameters whose loss was finite and acceptable.
    loss_history : ndarray
        Every loss computed, the bad one last.
    advice : list of dict
        Changes of options that avoid the divergence.
    """

    def __init__(
        self,
        message: str,
        *,
        iteration: int,
        lr: float,
        w: Any,
        b: float,
        loss_history: NDArray[np.float64],
        advice: Sequence[Suggestion] = (),
    ):
        super().__init__(message)
        self.iteration = iteration
        self.lr = lr
        self.w = w
        self.b = b
        self.loss_history = loss_history
        self.advice = list(advice)
