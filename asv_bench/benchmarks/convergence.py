"""Time to the least-squares optimum: fastgd's fastest solvers against exact solvers.

The problem is ill-conditioned on purpose (``_workload.generate_convergence_data``:
8 float64 features of different scales and means). The optimum is
``numpy.linalg.lstsq``'s loss, computed in ``setup``; a fastgd run stops when
its loss is within 10⁻⁶ (relative) of it, and counts its passes over the data.
Rows: 10⁶ in the full grid (asv repeats every run, and the 10⁷-row comparison
is ``scripts/bench_convergence.py``'s job; its figures are in the README),
20,000 at tiny sizes. scikit-learn's contender is skipped where scikit-learn is
not installed.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from ._parameters import THREADS
from ._workload import ThreadSetting, generate_convergence_data

ROWS = 20_000 if os.environ.get("FASTGD_BENCH_SIZES", "full") == "tiny" else 1_000_000
FEATURES = 8
RELATIVE_GAP = 1e-6
MAX_ITERATIONS = 5_000

# name: keyword arguments of fastgd.train
FASTGD_SOLVERS = {
    "fastgd gram+nesterov": {"solver": "gram", "method": "nesterov", "center": True},
    "fastgd nesterov": {"solver": "data", "method": "nesterov", "center": True},
}
EXACT_SOLVERS = ("numpy lstsq", "sklearn LinearRegression")


def _optimal_loss(X: np.ndarray, y: np.ndarray) -> float:
    design = np.column_stack([X, np.ones(X.shape[0])])
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    return float(np.mean((design @ solution - y) ** 2))


class _ConvergenceProblem:
    number = 1
    repeat = (3, 10, 30.0)
    warmup_time = 0.0
    timeout = 300

    def _prepare(self, threads: str) -> None:
        self.thread_setting = ThreadSetting(threads)
        self.X, self.y = generate_convergence_data(ROWS, FEATURES)
        self.threshold = _optimal_loss(self.X, self.y) * (1.0 + RELATIVE_GAP)

    def _train(self, options: dict):
        import fastgd

        with warnings.catch_warnings():
            warnings.simplefilter("error", fastgd.ConvergenceWarning)  # a run that misses the optimum must fail
            return fastgd.train(self.X, self.y, iterations=MAX_ITERATIONS, loss_threshold=self.threshold, **options)

    def teardown(self, *params):
        if hasattr(self, "thread_setting"):
            self.thread_setting.restore()


class TimeToOptimum(_ConvergenceProblem):
    """Seconds to a loss within 1e-6 of the optimum (fastgd), or to the exact solution (lstsq, scikit-learn)."""

    params = ((*FASTGD_SOLVERS, *EXACT_SOLVERS), THREADS)
    param_names = ("solver", "threads")

    def setup(self, solver, threads):
        if solver == "sklearn LinearRegression":
            try:
                import sklearn  # noqa: F401
            except ImportError:
                raise NotImplementedError("scikit-learn is not installed") from None
        self._prepare(threads)
        if solver in FASTGD_SOLVERS:
            self._train(FASTGD_SOLVERS[solver])  # compile (or load from the cache), and check it converges

    def time_to_optimum(self, solver, threads):
        if solver in FASTGD_SOLVERS:
            self._train(FASTGD_SOLVERS[solver])
        elif solver == "numpy lstsq":
            _optimal_loss(self.X, self.y)
        else:
            from sklearn.linear_model import LinearRegression

            LinearRegression().fit(self.X, self.y)


class PassesToOptimum(_ConvergenceProblem):
    """Passes over the data fastgd needs to get within 1e-6 of the optimum (setup passes included)."""

    params = (tuple(FASTGD_SOLVERS),)
    param_names = ("solver",)

    def setup(self, solver):
        self._prepare("all")

    def track_passes(self, solver):
        return self._train(FASTGD_SOLVERS[solver]).passes

    track_passes.unit = "passes"
