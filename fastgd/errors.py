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
from collections.abc import Iterator, Sequence
from typing import Any

from .types import ConvergenceWarning, DivergenceError, Suggestion  # noqa: F401  (raised and warned by fastgd)

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
    "l1_ratio": "--l1-ratio",
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
