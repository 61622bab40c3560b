"""Training: ``fastgd.train`` for 100 iterations, validation and result included.

The learning rate is 0.4, stable for the standard-normal features of the
synthetic data; there is no loss threshold, so every run does all 100 full
passes (plus one for the final loss). Compilation happens in ``setup``, on a
slice of the same layout and dtype.
"""

from __future__ import annotations

from fastgd.benchmarking import ThreadSetting, compile_for, load_dataset, train_callable

from ._parameters import (
    BACKENDS,
    DTYPES,
    FEATURES,
    ROWS,
    THREADS,
    TRAINING_ITERATIONS,
    TRAINING_MAX_ELEMENTS,
    DatasetBenchmark,
    skip_if_larger,
)


class Training(DatasetBenchmark):
    """Seconds per 100-iteration training run; skipped for n·d > 10⁷ (see ``_parameters``)."""

    params = (ROWS, FEATURES, DTYPES, BACKENDS, THREADS)
    param_names = ("rows", "features", "dtype", "backend", "threads")
    # One run is up to ~5 s on the reference path at 10⁷ rows: a few samples, no warm-up.
    number = 1
    repeat = (3, 10, 30.0)
    warmup_time = 0.0
    timeout = 300

    def setup(self, directory, rows, features, dtype, backend, threads):
        skip_if_larger(rows, features, TRAINING_MAX_ELEMENTS, "training")
        self.thread_setting = ThreadSetting(threads)
        X, y = load_dataset(directory, rows, features, dtype)
        compile_for(X, y, backend)
        self.train = train_callable(X, y, backend, TRAINING_ITERATIONS)

    def teardown(self, *params):
        if hasattr(self, "thread_setting"):
            self.thread_setting.restore()

    def time_train_100_iterations(self, directory, rows, features, dtype, backend, threads):
        self.train()
