"""Predictions ``X @ w + b`` through the public ``fastgd.predict``.

This is what a user calls, so it includes ``predict``'s input validation (one
blocked finiteness check over ``X``) and the float64 output allocation.
Compilation happens in ``setup``.
"""

from __future__ import annotations

import numpy as np

import fastgd
from fastgd.benchmarking import ThreadSetting, load_dataset

from ._parameters import BACKENDS, DTYPES, FEATURES, MAX_ELEMENTS, ROWS, THREADS, DatasetBenchmark, skip_if_larger


class Predict(DatasetBenchmark):
    """Seconds per ``fastgd.predict`` call; skipped for n·d > 10⁸ (10⁷ × 64, see ``_parameters``)."""

    params = (ROWS, FEATURES, DTYPES, BACKENDS, THREADS)
    param_names = ("rows", "features", "dtype", "backend", "threads")
    timeout = 180

    def setup(self, directory, rows, features, dtype, backend, threads):
        skip_if_larger(rows, features, MAX_ELEMENTS, "predict")
        self.thread_setting = ThreadSetting(threads)
        self.X, _ = load_dataset(directory, rows, features, dtype)
        self.w = 0.5 if features == 1 else np.linspace(-1.0, 1.0, features)
        fastgd.predict(self.X, self.w, 1.5, backend=backend)  # compile outside the timing

    def teardown(self, *params):
        if hasattr(self, "thread_setting"):
            self.thread_setting.restore()

    def time_predict(self, directory, rows, features, dtype, backend, threads):
        fastgd.predict(self.X, self.w, 1.5, backend=backend)
