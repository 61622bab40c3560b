"""The parameter grid (fastgd.benchmarking's table of cases), the environment switches, the skip rules.

Environment switches (read when asv imports the suite):

``FASTGD_BENCH_SIZES``
    ``full`` (default): rows n ∈ {10⁵, 10⁶, 10⁷}, features d ∈ {1, 8, 64}.
    ``tiny``: n = 20,000 and d ∈ {1, 8} only, for a smoke run. 20,000 rows
    keep one feature below the kernels' parallel threshold and 8 features
    above it, so both the serial and the parallel kernels run, and 1-D and
    2-D ``X`` are both covered (64 features run the same compiled code as 8);
    the compile benchmarks time two kinds of data instead of all of them.
``FASTGD_BENCH_THREADS``
    Comma-separated values of the ``threads`` parameter: ``1``, ``all`` or any
    number (default ``1,all``). ``all`` is numba's pool, ``NUMBA_NUM_THREADS``.

Skipped combinations (``setup`` raises ``NotImplementedError``, asv's way to skip):

* n·d > 10⁸, that is 10⁷ rows × 64 features: X alone is 5.1 GB in float64
  (2.6 GB in float32), the numpy reference makes a float64 copy of a float32
  X, and one reference epoch takes seconds on a small machine. The rest of
  the grid fits comfortably in 24 GiB.
* training (100 full passes) with n·d > 10⁷: each run would take tens of
  seconds on the reference path and asv repeats it.
"""

from __future__ import annotations

import os

from fastgd import benchmarking


def _sizes() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Rows and features of the preset ``FASTGD_BENCH_SIZES`` names, from fastgd's table of cases."""
    preset = os.environ.get("FASTGD_BENCH_SIZES", "full")
    if preset not in benchmarking.ROWS:
        raise ValueError(f"FASTGD_BENCH_SIZES must be one of {sorted(benchmarking.ROWS)}, got {preset!r}")
    return benchmarking.ROWS[preset], benchmarking.TINY_FEATURES if preset == "tiny" else benchmarking.FEATURES


def _threads() -> tuple[str, ...]:
    values = tuple(v.strip() for v in os.environ.get("FASTGD_BENCH_THREADS", "1,all").split(",") if v.strip())
    for value in values:
        if value != "all" and not (value.isdigit() and int(value) >= 1):
            raise ValueError(f"FASTGD_BENCH_THREADS takes 'all' or positive numbers, got {value!r}")
    return values


ROWS, FEATURES = _sizes()
# The compile benchmarks' kinds of data: two in a smoke run (each compiles cold for seconds).
COMPILE_VARIANTS = (
    benchmarking.TINY_COMPILE_VARIANTS
    if os.environ.get("FASTGD_BENCH_SIZES") == "tiny"
    else tuple(benchmarking.COMPILE_VARIANTS)
)
DTYPES = benchmarking.DTYPES
BACKENDS = benchmarking.BACKENDS
THREADS = _threads()

MAX_ELEMENTS = benchmarking.MAX_ELEMENTS
TRAINING_MAX_ELEMENTS = 10**7
TRAINING_ITERATIONS = 100
MEMORY_ITERATIONS = 10


def skip_if_larger(rows: int, features: int, max_elements: int, what: str) -> None:
    """Skip (asv's way: NotImplementedError in setup) when ``rows * features > max_elements``."""
    if rows * features > max_elements:
        raise NotImplementedError(
            f"{what}: {rows:,} rows x {features} features is over {max_elements:.0e} elements (see _parameters.py)"
        )


class DatasetBenchmark:
    """Base class of the benchmarks that read a synthetic data set.

    Every subclass inherits this one ``setup_cache``, so asv runs it once for
    the whole suite: it returns the directory asv runs the benchmarks in,
    which asv keeps until the last of them finished. Each data set is written
    there as ``.npy`` files the first time a benchmark needs it
    (:func:`fastgd.benchmarking.load_dataset`) and loaded by every later one, so a
    10⁷-row array is generated once per run, not once per benchmark process.
    asv passes the directory as the first argument of ``setup``, of every
    benchmark method and of ``teardown``.
    """

    def setup_cache(self) -> str:
        return os.getcwd()
