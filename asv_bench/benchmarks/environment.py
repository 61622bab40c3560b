"""What the numbers were measured with: numba's threading layer and thread pool.

asv records the machine (CPU model, CPU count, memory) in ``machine.json``
when you run ``asv machine``; these tracks add what asv cannot see. Each
``track_threading_layer_in_use`` value is 1 for the layer numba picked in a
benchmark process and 0 for the others; ``track_numba_thread_pool`` is
``NUMBA_NUM_THREADS``, which the ``threads="all"`` parameter uses.
"""

from __future__ import annotations

import numba
import numpy as np

from fastgd import kernels
from fastgd.benchmarking import threading_description


class Threading:
    """numba's threading layer (one-hot) and thread-pool size in the benchmark processes."""

    params = (("omp", "tbb", "workqueue"),)
    param_names = ("layer",)
    unit = "1 if in use"

    def setup(self, layer):
        # numba picks its layer at the first parallel region: run one (read_once is always parallel).
        values = np.ones(1 << 17)
        kernels.read_once(values, values, 1 << 12)
        self.layer = threading_description()["threading_layer"]

    def track_threading_layer_in_use(self, layer):
        return float(self.layer == layer)


def track_numba_thread_pool():
    return numba.config.NUMBA_NUM_THREADS


track_numba_thread_pool.unit = "threads"
