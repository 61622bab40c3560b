"""Memory of training against the size of the data.

``peakmem_train`` is asv's measure: the whole process's peak resident memory
(interpreter, numpy, numba and its compiled code, the loaded data, and
training). Read it against the data size, ``n·(d+1)·itemsize`` bytes. Data is
loaded from a ``.npy`` file (generated in another process), so no generation
temporaries inflate the peak.

``track_extra_memory_per_data_byte`` isolates training: the peak resident
memory *added* by the training call, divided by the data size. The kernel
path should add no O(n) temporaries (≈ 0); the reference path allocates
residuals and, for float32 X, a float64 copy of X.
"""

from __future__ import annotations

from fastgd.benchmarking import can_reset_peak_memory, compile_for, extra_peak_memory, load_dataset, train_callable

from ._parameters import (
    BACKENDS,
    DTYPES,
    FEATURES,
    MAX_ELEMENTS,
    MEMORY_ITERATIONS,
    ROWS,
    DatasetBenchmark,
    skip_if_larger,
)


class TrainingPeakMemory(DatasetBenchmark):
    """Peak RSS of a process that loads the data and trains 10 iterations; skipped for n·d > 10⁸."""

    params = (ROWS, FEATURES, DTYPES, BACKENDS)
    param_names = ("rows", "features", "dtype", "backend")
    timeout = 180

    def setup(self, directory, rows, features, dtype, backend):
        skip_if_larger(rows, features, MAX_ELEMENTS, "training memory")
        X, y = load_dataset(directory, rows, features, dtype)
        compile_for(X, y, backend)
        self.train = train_callable(X, y, backend, MEMORY_ITERATIONS)

    def peakmem_train(self, directory, rows, features, dtype, backend):
        self.train()


class TrainingExtraMemory(DatasetBenchmark):
    """Peak memory added by a 10-iteration training call, per byte of data (Linux only)."""

    params = (ROWS, FEATURES, DTYPES, BACKENDS)
    param_names = ("rows", "features", "dtype", "backend")
    unit = "bytes per data byte"
    timeout = 180

    def setup(self, directory, rows, features, dtype, backend):
        skip_if_larger(rows, features, MAX_ELEMENTS, "training memory")
        if not can_reset_peak_memory():
            raise NotImplementedError("needs /proc/self/clear_refs to reset the peak resident size (Linux)")
        X, y = load_dataset(directory, rows, features, dtype)
        self.data_bytes = X.nbytes + y.nbytes
        compile_for(X, y, backend)
        self.train = train_callable(X, y, backend, MEMORY_ITERATIONS)

    def track_extra_memory_per_data_byte(self, directory, rows, features, dtype, backend):
        return extra_peak_memory(self.train) / self.data_bytes
