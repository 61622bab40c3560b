"""Time to the least-squares optimum: fastgd's solvers against exact solvers.

The problem is ill-conditioned on purpose (``fastgd.benchmarking.generate_convergence_data``:
8 float64 features of different scales and means). A fastgd run stops on its
own convergence test, every standardised coefficient within 10⁻⁶ of the
optimum (the default ``tol``), and counts its passes over the data; a run that
misses it fails the benchmark.
Rows: 10⁶ in the full grid (asv repeats every run, and the 10⁷-row comparison
is ``scripts/bench_convergence.py``'s job; its figures are in docs/performance.md),
20,000 at tiny sizes. A peer (scikit-learn, scikit-learn-intelex, glum: the
``fastgd[compare]`` extra) is skipped where it is not installed.
"""

from __future__ import annotations

import importlib
import os
import warnings

import numpy as np

from fastgd.benchmarking import ThreadSetting, generate_convergence_data, normal_equations

from ._parameters import THREADS

ROWS = 20_000 if os.environ.get("FASTGD_BENCH_SIZES", "full") == "tiny" else 1_000_000
FEATURES = 8
MAX_ITERATIONS = 5_000

# name: keyword arguments of fastgd.train (lr="auto", so centred and scaled)
FASTGD_SOLVERS = {
    "fastgd gram+cg": {"solver": "gram", "method": "cg"},
    "fastgd cg": {"solver": "data", "method": "cg"},
    "fastgd gram+nesterov": {"solver": "gram", "method": "nesterov"},
    "fastgd nesterov": {"solver": "data", "method": "nesterov"},
}
EXACT_SOLVERS = (
    "numpy lstsq",
    "numpy normal equations",
    "sklearn LinearRegression",
    "sklearnex LinearRegression",
    "glum GeneralizedLinearRegressor",
)
# The module each peer needs: a benchmark whose module is missing is skipped.
PEER_MODULES = {
    "sklearn LinearRegression": "sklearn",
    "sklearnex LinearRegression": "sklearnex",
    "glum GeneralizedLinearRegressor": "glum",
}


def _lstsq(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    design = np.column_stack([X, np.ones(X.shape[0])])
    return np.linalg.lstsq(design, y, rcond=None)[0]


class _ConvergenceProblem:
    number = 1
    repeat = (3, 10, 30.0)
    warmup_time = 0.0
    timeout = 300

    def _prepare(self, threads: str) -> None:
        self.thread_setting = ThreadSetting(threads)
        self.X, self.y = generate_convergence_data(ROWS, FEATURES)

    def _train(self, options: dict):
        import fastgd

        with warnings.catch_warnings():
            warnings.simplefilter("error", fastgd.ConvergenceWarning)  # a run that misses the optimum must fail
            return fastgd.train(self.X, self.y, iterations=MAX_ITERATIONS, **options)

    def teardown(self, *params):
        if hasattr(self, "thread_setting"):
            self.thread_setting.restore()


class TimeToOptimum(_ConvergenceProblem):
    """Seconds to coefficients within 1e-6 of the optimum (fastgd), or to the exact solution (the others)."""

    params = ((*FASTGD_SOLVERS, *EXACT_SOLVERS), THREADS)
    param_names = ("solver", "threads")

    def setup(self, solver, threads):
        if solver in PEER_MODULES:
            try:
                importlib.import_module(PEER_MODULES[solver])
            except ImportError:
                raise NotImplementedError(f"{PEER_MODULES[solver]} is not installed") from None
        self._prepare(threads)
        if solver in FASTGD_SOLVERS:
            self._train(FASTGD_SOLVERS[solver])  # compile (or load from the cache), and check it converges
        elif solver in PEER_MODULES and solver != "sklearn LinearRegression":
            self.time_to_optimum(solver, threads)  # first call: the peer's own set-up is not timed

    def time_to_optimum(self, solver, threads):
        if solver in FASTGD_SOLVERS:
            self._train(FASTGD_SOLVERS[solver])
        elif solver == "numpy lstsq":
            _lstsq(self.X, self.y)
        elif solver == "numpy normal equations":
            normal_equations(self.X, self.y)
        elif solver == "sklearn LinearRegression":
            from sklearn.linear_model import LinearRegression

            LinearRegression().fit(self.X, self.y)
        elif solver == "sklearnex LinearRegression":
            from sklearnex.linear_model import LinearRegression

            LinearRegression().fit(self.X, self.y)
        else:
            from glum import GeneralizedLinearRegressor

            GeneralizedLinearRegressor(alpha=0).fit(self.X, self.y)


class PassesToOptimum(_ConvergenceProblem):
    """Passes over the data fastgd needs to get within 1e-6 of the optimum (setup and final checks included)."""

    params = (tuple(FASTGD_SOLVERS),)
    param_names = ("solver",)

    def setup(self, solver):
        self._prepare("all")

    def track_passes(self, solver):
        return self._train(FASTGD_SOLVERS[solver]).passes

    track_passes.unit = "passes"
