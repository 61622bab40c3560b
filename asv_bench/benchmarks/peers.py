"""Peers per gradient-descent iteration: JAX's compiled loop beside fastgd's (``training.Training``).

``time_jax_iterations`` runs ``TRAINING_ITERATIONS`` steps of
``fastgd.benchmarking.jax_descent_callable`` (``jax.jit`` of a ``lax.fori_loop``
over ``jax.value_and_grad``) on the data sets ``Training`` uses, so the two
benchmarks compare per iteration. Skipped where JAX (the ``fastgd[compare]``
extra) is not installed. JAX runs on its own thread pool (all cores), so there is
no ``threads`` parameter: compare with ``Training`` at ``threads="all"``. The side-by-side table in fresh processes is
``scripts/bench_peers.py``'s job.
"""

from __future__ import annotations

from fastgd.benchmarking import LEARNING_RATE, jax_descent_callable, load_dataset

from ._parameters import (
    DTYPES,
    FEATURES,
    ROWS,
    TRAINING_ITERATIONS,
    TRAINING_MAX_ELEMENTS,
    DatasetBenchmark,
    skip_if_larger,
)


class JaxIterations(DatasetBenchmark):
    """Seconds per ``TRAINING_ITERATIONS`` JAX steps; skipped for n·d > 10⁷ or without JAX."""

    params = (ROWS, FEATURES, DTYPES)
    param_names = ("rows", "features", "dtype")
    number = 1
    repeat = (3, 10, 30.0)
    warmup_time = 0.0
    timeout = 300

    def setup(self, directory, rows, features, dtype):
        try:
            import jax  # noqa: F401
        except ImportError:
            raise NotImplementedError("jax is not installed") from None
        skip_if_larger(rows, features, TRAINING_MAX_ELEMENTS, "training")
        X, y = load_dataset(directory, rows, features, dtype)
        self.descend = jax_descent_callable(X, y, TRAINING_ITERATIONS, LEARNING_RATE)
        self.descend()  # XLA compiles here, outside the timing

    def time_jax_iterations(self, directory, rows, features, dtype):
        self.descend()
