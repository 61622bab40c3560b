"""The roofline: how close the fused epoch gets to reading its data once.

No epoch can be faster than reading ``X`` and ``y`` once. ``time_read_once``
times ``fastgd.kernels.read_once``, a numba parallel loop over the very arrays
and chunks (``fastgd._config.chunk_rows_for(d)``) the fused epoch uses, which
only sums what it reads. ``track_epoch_fraction_of_read_once`` is read-once
time over fused-epoch time, both medians of several runs taken in the same
process, in turns so both see the same background load: 1.0 means the epoch
runs at memory speed. The ratio is stable across machines where absolute
times are not. numba only: the reference path is compared in
``epoch.KernelSpeedup``.
"""

from __future__ import annotations

import statistics

from fastgd.benchmarking import ThreadSetting, epoch_callable, interleaved_timings, load_dataset, read_once_callable

from ._parameters import DTYPES, FEATURES, MAX_ELEMENTS, ROWS, THREADS, DatasetBenchmark, skip_if_larger


class Roofline(DatasetBenchmark):
    """Read-once time and the fused epoch's fraction of it; skipped for n·d > 10⁸ (see ``_parameters``)."""

    params = (ROWS, FEATURES, DTYPES, THREADS)
    param_names = ("rows", "features", "dtype", "threads")
    timeout = 180
    fraction_repeats = 9

    def setup(self, directory, rows, features, dtype, threads):
        skip_if_larger(rows, features, MAX_ELEMENTS, "roofline")
        self.thread_setting = ThreadSetting(threads)
        X, y = load_dataset(directory, rows, features, dtype)
        self.read_once = read_once_callable(X, y)
        self.run_epoch = epoch_callable(X, y, "numba")
        self.read_once()  # compile both outside the timing
        self.run_epoch()

    def teardown(self, *params):
        if hasattr(self, "thread_setting"):
            self.thread_setting.restore()

    def time_read_once(self, directory, rows, features, dtype, threads):
        self.read_once()

    def track_epoch_fraction_of_read_once(self, directory, rows, features, dtype, threads):
        seconds = interleaved_timings({"read_once": self.read_once, "epoch": self.run_epoch}, self.fraction_repeats)
        return statistics.median(seconds["read_once"]) / statistics.median(seconds["epoch"])

    track_epoch_fraction_of_read_once.unit = "fraction of read-once speed"
