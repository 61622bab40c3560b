"""Benchmark support: the table of cases, the data, timing loops, thread settings, memory probes.

The one table of cases (:data:`FEATURES`, :data:`DTYPES`, :data:`ORDERS`,
:data:`ROWS`; :func:`grid`) drives the asv suite (``asv_bench/``), the scripts
(``scripts/bench_*.py``), ``fastgd bench`` and the kernel-parity tests, so they
all compare the two paths on the same shapes and time exactly the same work.
Scripts import this module like any other (``from fastgd import
benchmarking``); ``import fastgd`` does not import it.

It also runs as the worker that a benchmark or a script starts in a fresh
process (to generate a data set, or to time one backend with no other thread
pool alive in the process)::

    python -m fastgd.benchmarking generate --directory DIR --rows N --features D --dtype float64
    python -m fastgd.benchmarking epoch --directory DIR ... --backend numba --threads all --read-once
    python -m fastgd.benchmarking memory --directory DIR ... --backend numpy --iterations 10

Each worker command prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import backends, kernels, training
from ._config import PARALLEL_MIN_ELEMENTS, chunk_rows_for
from .types import ConvergenceWarning, n_features_of
from .validation import prepare_data

# The seed of every synthetic data set; the shape and dtype are mixed in, so
# each parameter set has its own fixed data.
SEED = 1234

# Stable for standard-normal features: the loss Hessian is close to 2·I, so
# any lr below about 1 converges (see fastgd.demo).
LEARNING_RATE = 0.4

# Rows per block while computing y, so generating it needs no O(n) temporaries.
_GENERATION_BLOCK_ROWS = 1 << 16

# --- the table of cases -----------------------------------------------------------------------------

# Features (1 means a one-dimensional X), dtypes, memory orders and backends every comparison covers.
FEATURES: tuple[int, ...] = (1, 8, 64)
DTYPES: tuple[str, ...] = ("float32", "float64")
ORDERS: tuple[str, ...] = ("C", "F")
BACKENDS: tuple[str, ...] = ("numba", "numpy")

# Rows per preset: "full" for real measurements, "tiny" for smoke runs (20,000 rows keep one feature below
# the kernels' parallel threshold and 8 features above it, so both the serial and parallel kernels run).
ROWS: dict[str, tuple[int, ...]] = {"full": (100_000, 1_000_000, 10_000_000), "tiny": (20_000,)}
TINY_FEATURES: tuple[int, ...] = (1, 8)

# Skipped: above this many elements (10^7 x 64) X alone is 5.1 GB and one reference epoch takes seconds.
MAX_ELEMENTS = 10**8

# The first training call of each of these, in a fresh interpreter, is what the compile benchmarks time
# (scripts/time_compile.py, asv's compile module): name -> (code making X from `rng`, train's keywords).
# They are what real data brings: C or Fortran order (DataFrame.to_numpy()), weights, float32, one
# feature, the data-pass solver (train's default) and the statistics solver (GDRegressor's and the
# command line's), 1,000 rows (serial kernels) and 200,000 (parallel kernels, the statistics kernel).
COMPILE_VARIANTS: dict[str, tuple[str, str]] = {
    "C": ("rng.standard_normal((1000, 8))", ""),
    "C gram": ("rng.standard_normal((1000, 8))", "solver='gram', method='cg'"),
    "F": ("np.asfortranarray(rng.standard_normal((1000, 8)))", ""),
    "F gram": ("np.asfortranarray(rng.standard_normal((1000, 8)))", "solver='gram', method='cg'"),
    "C weights": ("rng.standard_normal((1000, 8))", "sample_weight=np.ones(1000)"),
    "C large": ("rng.standard_normal((200_000, 8))", ""),
    "C large gram": ("rng.standard_normal((200_000, 8))", "solver='gram', method='cg'"),
    "F large gram": ("np.asfortranarray(rng.standard_normal((200_000, 8)))", "solver='gram', method='cg'"),
    "float32": ("rng.standard_normal((1000, 8)).astype(np.float32)", ""),
    "1-D": ("rng.standard_normal(1000)", ""),
}
TINY_COMPILE_VARIANTS: tuple[str, ...] = ("C", "1-D")


def first_call_code(variant: str) -> tuple[str, str]:
    """``(setup, statement)``: make ``variant``'s data, then its first (timed) ``fastgd.train`` call of 5 iterations."""
    data, options = COMPILE_VARIANTS[variant]
    setup = (
        "import warnings\nimport numpy as np\nimport fastgd\n"
        "warnings.simplefilter('ignore', fastgd.ConvergenceWarning)  # five iterations are the point\n"
        f"rng = np.random.default_rng(0)\nX = {data}\n"
        "y = (X if X.ndim == 1 else X.sum(axis=1)) + 1.0 + rng.standard_normal(len(X))  # noisy, as real targets\n"
    )
    return setup, f"fastgd.train(X, y, iterations=5, {options})"


def grid(preset: str = "full") -> list[tuple[int, int, str]]:
    """Every ``(rows, features, dtype)`` of ``preset`` within :data:`MAX_ELEMENTS`."""
    if preset not in ROWS:
        raise ValueError(f"the preset must be one of {sorted(ROWS)}, got {preset!r}")
    features = TINY_FEATURES if preset == "tiny" else FEATURES
    return [(n, d, dtype) for n in ROWS[preset] for d in features for dtype in DTYPES if n * d <= MAX_ELEMENTS]


def chunk_boundary_rows(features: int) -> list[int]:
    """Row counts the kernel-parity tests check for ``features``: around one reduction chunk, and parallel."""
    chunk = chunk_rows_for(features)
    return [1, 2, chunk - 1, chunk, chunk + 1, max(chunk + 2, PARALLEL_MIN_ELEMENTS // features + 1)]


# --- data -------------------------------------------------------------------------------------------


def generate_data(rows: int, features: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic regression data: ``X ~ N(0, 1)``, ``y = X @ w + 1.5 + 0.1·noise``.

    ``X`` has shape ``(rows,)`` for one feature (fastgd's 1-D case) and
    ``(rows, features)`` otherwise, C order, in ``dtype``; ``y`` has the same
    dtype. The same arguments always give the same arrays.

    Examples
    --------
    >>> X, y = generate_data(5, 3, "float32")
    >>> X.shape, y.shape, X.dtype, y.dtype
    ((5, 3), (5,), dtype('float32'), dtype('float32'))
    """
    dtype = np.dtype(dtype)
    rng = np.random.default_rng([SEED, rows, features, dtype.itemsize])
    X = rng.standard_normal((rows,) if features == 1 else (rows, features), dtype=dtype)
    true_w = rng.uniform(-2.0, 2.0, size=features)
    y = np.empty(rows, dtype=dtype)
    for start in range(0, rows, _GENERATION_BLOCK_ROWS):
        stop = min(start + _GENERATION_BLOCK_ROWS, rows)
        block = X[start:stop]
        signal = block * true_w[0] if features == 1 else block @ true_w
        y[start:stop] = signal + 1.5 + 0.1 * rng.standard_normal(stop - start)
    return X, y


# Per-feature scales and means of the convergence problem: unequal scales
# and non-zero means make it ill-conditioned, as real features often are.
CONVERGENCE_SCALES = np.array([1.0, 2.0, 5.0, 10.0, 0.5, 0.2, 3.0, 1.0])
CONVERGENCE_MEANS = np.array([3.0, -2.0, 10.0, 0.0, 1.0, -5.0, 0.5, 2.0])


def generate_convergence_data(rows: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """float64 regression data with features of different scales and means, for time-to-optimum runs.

    ``X[:, j] ~ N(mean_j, scale_j²)`` (the 8 scales and means above, repeated
    for more features), ``y = X @ linspace(-2, 3, d) + 4 + N(0, 1)``.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    X *= np.resize(CONVERGENCE_SCALES, features)
    X += np.resize(CONVERGENCE_MEANS, features)
    y = X @ np.linspace(-2.0, 3.0, features) + 4.0
    y += rng.standard_normal(rows)
    return X, y


def dataset_paths(directory: str | os.PathLike, rows: int, features: int, dtype: str) -> tuple[Path, Path]:
    """Where the ``.npy`` files of one data set live inside ``directory``."""
    stem = f"{rows}x{features}-{dtype}-seed{SEED}"
    return Path(directory) / f"X-{stem}.npy", Path(directory) / f"y-{stem}.npy"


def write_dataset(directory: str | os.PathLike, rows: int, features: int, dtype: str) -> None:
    """Generate one data set and save it; files appear complete or not at all."""
    for path, array in zip(
        dataset_paths(directory, rows, features, dtype), generate_data(rows, features, dtype), strict=True
    ):
        partial = path.with_name(path.name + f".{os.getpid()}.partial")
        with open(partial, "wb") as file:
            np.save(file, array)
        os.replace(partial, path)


def load_dataset(directory: str | os.PathLike, rows: int, features: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Load one data set from ``directory``, generating it first if it is missing.

    Generation runs in a child process, so its temporaries never count toward
    this process's peak memory; loading a ``.npy`` file allocates only the
    arrays themselves.
    """
    x_path, y_path = ensure_dataset(directory, rows, features, dtype)
    return np.load(x_path), np.load(y_path)


def ensure_dataset(directory: str | os.PathLike, rows: int, features: int, dtype: str) -> tuple[Path, Path]:
    """The paths of one data set's files, generating them in a child process if they are missing."""
    x_path, y_path = dataset_paths(directory, rows, features, dtype)
    if not (x_path.exists() and y_path.exists()):
        _run_worker(
            "generate", "--directory", str(directory), "--rows", str(rows),
            "--features", str(features), "--dtype", dtype,
        )  # fmt: skip
    return x_path, y_path


# --- threads ----------------------------------------------------------------------------------------


class ThreadSetting:
    """Run numba (and numpy's BLAS) on ``threads`` threads until :meth:`restore`.

    ``threads`` is ``"all"`` (numba's whole pool, ``NUMBA_NUM_THREADS``; BLAS
    left at its default) or a number as a string, which limits both numba and
    the BLAS thread pools, so that "1 thread" means one thread for either
    backend. More threads than numba's pool raises NotImplementedError.
    """

    def __init__(self, threads: str):
        import numba

        self._numba = numba
        self._previous = numba.get_num_threads()
        self._blas_limits = None
        pool = numba.config.NUMBA_NUM_THREADS
        count = pool if threads == "all" else int(threads)
        if count > pool:
            # asv's way to skip: a 16-thread result from a 2-thread pool would be mislabelled.
            raise NotImplementedError(f"{count} threads asked for, but numba's pool has {pool} (NUMBA_NUM_THREADS)")
        if threads != "all":
            from threadpoolctl import threadpool_limits

            self._blas_limits = threadpool_limits(limits=count)
        numba.set_num_threads(count)

    def restore(self) -> None:
        self._numba.set_num_threads(self._previous)
        if self._blas_limits is not None:
            self._blas_limits.restore_original_limits()
            self._blas_limits = None


def threading_description() -> dict:
    """numba's threading layer and thread count, and the CPU, for the record."""
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region has run in this process yet
        layer = "not started"
    return {"threading_layer": layer, "numba_threads": numba.get_num_threads(), "cpu": cpu_model()}


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux) and its logical CPU count."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} CPUs"


# --- the timed work ---------------------------------------------------------------------------------


def epoch_callable(X: np.ndarray, y: np.ndarray, backend: str) -> Callable[[], float]:
    """A no-argument function that runs one epoch (loss and both gradients).

    Validation happens here, once (``prepare_data``); the returned function
    only passes over the data: the compiled fused kernel for ``"numba"``, the
    numpy reference for ``"numpy"``. Parameters are fixed at 0.1.
    """
    data = prepare_data(X, y)
    n_features = n_features_of(data.X)
    params = np.full(n_features + 1, 0.1)
    grad = np.empty_like(params)
    evaluate = backends.get(backend).evaluate
    return lambda: evaluate(data, params, grad)


def read_once_callable(X: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    """A no-argument function that reads the epoch's arrays once: the roofline.

    ``fastgd.kernels.read_once`` over the very arrays (after ``prepare_data``,
    so a single column is the same 1-D vector) and chunking
    (``fastgd._config.chunk_rows_for(d)``) that the fused epoch uses.
    """
    data = prepare_data(X, y)
    return lambda: kernels.read_once(data.X, data.y, data.chunk_rows)


def timed_calls(function: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Seconds taken by each of ``repeats`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        function()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return seconds


def interleaved_timings(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Time several functions in turns (a, b, a, b, ...), after one warm-up call each.

    Taking turns exposes every function to the same background load, so a
    ratio of their medians stays meaningful on a busy machine, where timing
    one function's runs and then the other's would not.
    """
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    for function in functions.values():
        function()
    for _ in range(repeats):
        for name, function in functions.items():
            seconds[name] += timed_calls(function, 1, warmup=0)
    return seconds


def summary(seconds: list[float]) -> dict:
    """Median, min and max of a list of timings."""
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds), "runs": len(seconds)}


# --- memory -----------------------------------------------------------------------------------------

_PROC_STATUS = Path("/proc/self/status")
_PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_bytes(field: str) -> int:
    for line in _PROC_STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in {_PROC_STATUS}")


def can_reset_peak_memory() -> bool:
    """Whether this OS lets a process reset its peak RSS (Linux: ``/proc/self/clear_refs``)."""
    try:
        _PROC_CLEAR_REFS.write_text("5")
        _status_bytes("VmHWM")
    except OSError:
        return False
    return True


def extra_peak_memory(function: Callable[[], object]) -> int:
    """Bytes by which the peak resident memory rises above the current one while ``function`` runs.

    Linux only: writing ``5`` to ``/proc/self/clear_refs`` resets the peak
    (``VmHWM``) to the current resident size, so the result is what the call
    itself added, whatever the process did before.
    """
    gc.collect()
    _PROC_CLEAR_REFS.write_text("5")
    before = _status_bytes("VmRSS")
    function()
    return max(0, _status_bytes("VmHWM") - before)


def train_callable(X: np.ndarray, y: np.ndarray, backend: str, iterations: int) -> Callable[[], object]:
    """A no-argument function that trains for ``iterations`` iterations with the stable learning rate."""

    def train() -> object:
        # A fixed number of iterations is the measured workload; stopping
        # before convergence is expected, so its warning is noise here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return training.train(X, y, lr=LEARNING_RATE, iterations=iterations, backend=backend)

    return train


def normal_equations(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """The least-squares peer a numpy user writes: centred ``X.T @ X`` through BLAS, then one solve."""
    mean_x, mean_y = X.mean(axis=0), y.mean()
    centred = X - mean_x
    w = np.linalg.solve(centred.T @ centred, centred.T @ (y - mean_y))
    return w, float(mean_y - mean_x @ w)


def jax_descent_callable(X: np.ndarray, y: np.ndarray, iterations: int, lr: float) -> Callable[[], object]:
    """The peer of fastgd's compiled loop: ``iterations`` GD steps as ``jax.jit`` of a ``lax.fori_loop``.

    Each step is ``jax.value_and_grad`` of the mean squared error, then the
    update, in ``X``'s dtype (float64 enabled). The returned function runs
    the compiled loop from zero and waits for its result; the first call
    compiles. Needs JAX (``pip install 'fastgd[compare]'``).
    """
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    design = jnp.asarray(X.reshape(X.shape[0], -1))
    targets = jnp.asarray(y)

    def loss(params):
        w, b = params
        residual = design @ w + b - targets
        return jnp.mean(residual * residual)

    value_and_grad = jax.value_and_grad(loss)

    @jax.jit
    def descend(params):
        def step(_, carry):
            params, _previous = carry
            value, grads = value_and_grad(params)
            return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), value

        return jax.lax.fori_loop(0, iterations, step, (params, jnp.zeros((), design.dtype)))

    start = (jnp.zeros(design.shape[1], design.dtype), jnp.zeros((), design.dtype))
    return lambda: jax.block_until_ready(descend(start))


def compile_for(X: np.ndarray, y: np.ndarray, backend: str) -> None:
    """Compile (or load from the cache) everything training on this layout and dtype needs, on a slice."""
    train_callable(X[:256], y[:256], backend, 2)()


# --- the worker (run as a script) -------------------------------------------------------------------


def _run_worker(*arguments: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "fastgd.benchmarking", *arguments], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"worker {' '.join(arguments)} failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_epoch_worker(
    directory: str | os.PathLike, rows: int, features: int, dtype: str, backend: str, threads: str,
    repeats: int, read_once: bool = False, order: str = "C",
) -> dict:  # fmt: skip
    """Time epochs of one backend in a fresh process; see the ``epoch`` command."""
    arguments = [
        "epoch", "--directory", str(directory), "--rows", str(rows), "--features", str(features),
        "--dtype", dtype, "--backend", backend, "--threads", threads, "--repeats", str(repeats), "--order", order,
    ]  # fmt: skip
    return _run_worker(*arguments, *(["--read-once"] if read_once else []))


def run_memory_worker(
    directory: str | os.PathLike, rows: int, features: int, dtype: str, backend: str, threads: str, iterations: int
) -> dict:
    """Measure training's extra peak memory in a fresh process; see the ``memory`` command."""
    return _run_worker(
        "memory", "--directory", str(directory), "--rows", str(rows), "--features", str(features),
        "--dtype", dtype, "--backend", backend, "--threads", threads, "--iterations", str(iterations),
    )  # fmt: skip


def _epoch_command(args: argparse.Namespace) -> dict:
    X, y = load_dataset(args.directory, args.rows, args.features, args.dtype)
    if args.order == "F":
        X = np.asfortranarray(X)  # a copy made before any timing; both timed functions read it
    setting = ThreadSetting(args.threads)
    try:
        functions = {"epoch": epoch_callable(X, y, args.backend)}
        if args.read_once:
            functions["read_once"] = read_once_callable(X, y)
        timings = interleaved_timings(functions, args.repeats)
        result = {name: summary(seconds) for name, seconds in timings.items()}
        result["data_bytes"] = X.nbytes + y.nbytes
        result.update(threading_description())
    finally:
        setting.restore()
    return result


def _memory_command(args: argparse.Namespace) -> dict:
    X, y = load_dataset(args.directory, args.rows, args.features, args.dtype)
    setting = ThreadSetting(args.threads)
    try:
        compile_for(X, y, args.backend)
        train = train_callable(X, y, args.backend, args.iterations)
        if can_reset_peak_memory():
            extra, method = extra_peak_memory(train), "VmHWM reset (Linux)"
        else:
            # Peak since the process started: an upper bound on what training added.
            current = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            train()
            unit = 1 if sys.platform == "darwin" else 1024
            extra = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - current) * unit
            method = "ru_maxrss difference (upper bound)"
    finally:
        setting.restore()
    return {"extra_bytes": extra, "data_bytes": X.nbytes + y.nbytes, "method": method}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="fastgd benchmark worker (prints one JSON object)")
    parser.add_argument("command", choices=("generate", "epoch", "memory"))
    parser.add_argument("--directory", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--features", type=int, required=True)
    parser.add_argument("--dtype", choices=("float32", "float64"), required=True)
    parser.add_argument("--backend", choices=("numba", "numpy"), default="numba")
    parser.add_argument("--threads", default="all")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--order", choices=("C", "F"), default="C", help="memory order of X for the epoch command")
    parser.add_argument(
        "--read-once", action="store_true", help="also time the read-once roofline, in turns with the epoch"
    )
    args = parser.parse_args(argv)
    if args.command == "generate":
        write_dataset(args.directory, args.rows, args.features, args.dtype)
        result = {
            "written": [str(path) for path in dataset_paths(args.directory, args.rows, args.features, args.dtype)]
        }
    elif args.command == "epoch":
        result = _epoch_command(args)
    else:
        result = _memory_command(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
