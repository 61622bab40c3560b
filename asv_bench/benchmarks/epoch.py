"""One epoch: the loss and both gradients in one call, and the kernel-vs-reference speed-up.

An epoch is what every training iteration costs. The numba backend is the
compiled fused kernel (``fastgd.loop.evaluate_kernels``); the numpy backend is
the reference path (``fastgd.loop.evaluate``, the same function run as plain
Python). Both get data already validated by ``fastgd.training.prepare_data``,
so only the pass over the data is timed; compilation happens in ``setup``.
"""

from __future__ import annotations

from fastgd.benchmarking import ThreadSetting, ensure_dataset, epoch_callable, load_dataset, run_epoch_worker

from ._parameters import BACKENDS, DTYPES, FEATURES, MAX_ELEMENTS, ROWS, THREADS, DatasetBenchmark, skip_if_larger


class Epoch(DatasetBenchmark):
    """Seconds per epoch, both backends; skipped for n·d > 10⁸ (10⁷ × 64, see ``_parameters``)."""

    params = (ROWS, FEATURES, DTYPES, BACKENDS, THREADS)
    param_names = ("rows", "features", "dtype", "backend", "threads")
    timeout = 180

    def setup(self, directory, rows, features, dtype, backend, threads):
        skip_if_larger(rows, features, MAX_ELEMENTS, "epoch")
        self.thread_setting = ThreadSetting(threads)
        X, y = load_dataset(directory, rows, features, dtype)
        self.run_epoch = epoch_callable(X, y, backend)
        self.run_epoch()  # compile, or load from numba's on-disk cache, outside the timing

    def teardown(self, *params):
        # asv calls teardown after a skipped setup too.
        if hasattr(self, "thread_setting"):
            self.thread_setting.restore()

    def time_epoch(self, directory, rows, features, dtype, backend, threads):
        self.run_epoch()


class KernelSpeedup(DatasetBenchmark):
    """Reference epoch time over fused-kernel epoch time (medians of 7), each backend in its own process.

    Measured with all threads, the default users get; ``scripts/bench_epoch.py
    --threads 1`` gives the one-thread figure.

    Why separate processes: numba's thread pool can keep spinning after a
    parallel region and slow numpy's BLAS down in the same process, so the two
    backends are timed in two fresh worker processes, one after the other,
    on the same saved data set.
    """

    params = (ROWS, FEATURES, DTYPES)
    param_names = ("rows", "features", "dtype")
    unit = "times faster"
    timeout = 300
    worker_repeats = 7

    def setup(self, directory, rows, features, dtype):
        skip_if_larger(rows, features, MAX_ELEMENTS, "epoch speed-up")
        ensure_dataset(directory, rows, features, dtype)  # write it now, outside the workers

    def track_speedup_over_reference(self, directory, rows, features, dtype):
        # The reference first: its process never starts numba's thread pool.
        reference, kernel = (
            run_epoch_worker(directory, rows, features, dtype, backend, "all", self.worker_repeats)["epoch"]["median"]
            for backend in ("numpy", "numba")
        )
        return reference / kernel
