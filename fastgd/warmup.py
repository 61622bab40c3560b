"""Compile ahead of time: fill numba's on-disk cache for every kind of data fastgd meets.

numba compiles fastgd's kernels and loop for each kind of input on its first
use (seconds each; see ``scripts/time_compile.py``) and keeps the machine
code in its cache. :func:`precompile` (the ``fastgd compile`` command) makes
those first uses happen now, on tiny data, so a container image or every
worker of a cluster starts with a full cache and no run waits for the
compiler. It trains on each variant: float64 and float32 features (float32
with a float32 or a float64 target), C order, Fortran order (what
``DataFrame.to_numpy()`` returns), one feature and strided columns (a column
slice), with and without sample weights, small (serial kernels) and large
enough for the parallel kernels, with the data-pass and the statistics
solver, and predicts with each layout.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ._config import GRAM_KERNEL_MIN_ROWS, PARALLEL_MIN_ELEMENTS
from .errors import ConvergenceWarning
from .ops import predict
from .training import train

__all__ = ["DTYPES", "LAYOUTS", "Variant", "precompile", "variants"]

# Feature dtype -> target dtypes it is compiled with (float64 features always get a float64 target).
DTYPES: dict[str, tuple[str, ...]] = {"float64": ("float64",), "float32": ("float32", "float64")}
LAYOUTS: tuple[str, ...] = ("C", "F", "1-D", "strided")

_FEATURES = 4
_SMALL_ROWS = 64


def _large_rows(n_columns: int) -> int:
    """Rows enough for the parallel kernels (by elements) and for the statistics kernel (by rows)."""
    return max(GRAM_KERNEL_MIN_ROWS, -(-PARALLEL_MIN_ELEMENTS // n_columns))


@dataclass(frozen=True)
class Variant:
    """One kind of input: what numba compiles a separate specialisation for."""

    dtype: str
    target_dtype: str
    layout: str
    weighted: bool
    large: bool

    def __str__(self) -> str:
        target = "" if self.target_dtype == self.dtype else f", {self.target_dtype} target"
        weights = ", weights" if self.weighted else ""
        return f"{self.dtype} {self.layout}{target}{weights}, {'parallel' if self.large else 'serial'}"

    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Small random ``(X, y, sample_weight)`` of this kind."""
        n_rows = _large_rows(1 if self.layout == "1-D" else _FEATURES) if self.large else _SMALL_ROWS
        rng = np.random.default_rng(0)
        wide = rng.standard_normal((n_rows, 2 * _FEATURES)).astype(self.dtype)  # cast first: a cast copies
        X = {
            "C": np.ascontiguousarray(wide[:, :_FEATURES]),
            "F": np.asfortranarray(wide[:, :_FEATURES]),
            "1-D": np.ascontiguousarray(wide[:, 0]),
            "strided": wide[:, ::2],  # every other column: neither C nor Fortran order
        }[self.layout]
        signal = X if X.ndim == 1 else X.sum(axis=1)
        y = (signal + rng.standard_normal(n_rows)).astype(self.target_dtype)
        weights = rng.uniform(0.5, 1.5, n_rows) if self.weighted else None
        return X, y, weights


def variants(dtypes: Iterable[str] = tuple(DTYPES), layouts: Iterable[str] = LAYOUTS) -> list[Variant]:
    """Every :class:`Variant` with a feature dtype in ``dtypes`` and a layout in ``layouts``."""
    dtypes, layouts = list(dtypes), list(layouts)
    for name, allowed in (("dtypes", tuple(DTYPES)), ("layouts", LAYOUTS)):
        unknown = [value for value in (dtypes if name == "dtypes" else layouts) if value not in allowed]
        if unknown:
            raise ValueError(f"{name} must be among {allowed}, got {unknown}")
    return [
        Variant(dtype, target_dtype, layout, weighted, large)
        for dtype in dtypes
        for target_dtype in DTYPES[dtype]
        for layout in layouts
        for weighted in (False, True)
        for large in (False, True)
    ]


def precompile(
    dtypes: Iterable[str] = tuple(DTYPES),
    layouts: Iterable[str] = LAYOUTS,
    *,
    report: Callable[[Variant, float], None] | None = None,
) -> list[tuple[Variant, float]]:
    """Compile (or load from the cache) what training and prediction need for each variant.

    Parameters
    ----------
    dtypes, layouts : iterables of str
        Which feature dtypes (:data:`DTYPES`) and layouts (:data:`LAYOUTS`) to
        cover; the default is all of them.
    report : callable, optional
        Called as ``report(variant, seconds)`` after each variant.

    Returns
    -------
    list of (Variant, float)
        Each variant and the seconds it took (compile or cache load, plus a
        few milliseconds of training).
    """
    timings = []
    for variant in variants(dtypes, layouts):
        started = time.perf_counter()
        X, y, weights = variant.data()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a few iterations fill the cache
            # Every method runs the same compiled loop; the solvers differ in what the loop reads.
            for solver in ("data", "gram"):
                train(X, y, sample_weight=weights, iterations=3, solver=solver, progress=False)
        predict(X, 1.0 if X.ndim == 1 else np.ones(X.shape[1]), 0.0)
        seconds = time.perf_counter() - started
        timings.append((variant, seconds))
        if report is not None:
            report(variant, seconds)
    return timings
