"""Benchmark fastgd.dask against dask-glm and dask-ml on a local Dask cluster.

For each solver it reports the time per iteration (median over timed
iterations) and the time to reach the least-squares optimum, defined as a
loss within ``--tolerance`` (relative) of the exact minimum. The data is
generated on the workers and persisted before any timing, so every
contender reads the same in-memory blocks.

Usage (the issue's full size; run at ``--rows 1000000`` on a shared machine)::

    python scripts/bench_dask.py --rows 10000000 --features 8 --chunks 16

Prints a Markdown table. dask-glm and dask-ml rows are skipped, with a note,
when those packages are not installed (``pip install fastgd[compare]``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import dask
import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster, wait

import fastgd
import fastgd.dask


def make_data(rows: int, features: int, chunks: int, seed: int = 0):
    """Features with unequal scales and non-zero means, generated and persisted on the workers."""
    rng = da.random.default_rng(seed)
    scales = np.linspace(1.0, 3.0, features)
    means = np.linspace(-2.0, 2.0, features)
    X = rng.standard_normal((rows, features), chunks=(-(-rows // chunks), features)) * scales + means
    w_true = np.linspace(1.0, -1.0, features)
    y = X @ w_true + 0.5 + rng.standard_normal(rows, chunks=X.chunks[0])
    X, y = dask.persist(X, y)
    wait([X, y])
    return X, y


def optimal_loss(X, y) -> float:
    """The loss of the exact least-squares fit (one statistics pass, one loss pass; not timed)."""
    blocks = fastgd.dask.RowBlocks(X, y, None)
    w, b = blocks.statistics().least_squares()
    passes = fastgd.dask.DaskPasses(blocks, float(X.shape[0]), np.zeros(X.shape[1]))
    return passes.epoch(np.append(w, b), np.empty(X.shape[1] + 1))


def loss_at(X, y, w, b) -> float:
    return float(((X @ w + b - y) ** 2).mean().compute())


def time_fastgd(X, y, method, solver, threshold, numba_threads, timed_iterations):
    """(seconds per iteration, seconds to optimum, iterations, passes, loss)."""
    stamps = []
    options = {"method": method, "solver": solver, "center": True, "n_threads": numba_threads}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fastgd.dask.train(
            X, y, iterations=timed_iterations, callback=lambda *_: stamps.append(time.perf_counter()),
            callback_every=1, **options,
        )  # fmt: skip
    per_iteration = statistics.median(np.diff(stamps))
    started = time.perf_counter()
    result = fastgd.dask.train(X, y, iterations=100_000, loss_threshold=threshold, **options)
    seconds = time.perf_counter() - started
    return per_iteration, seconds, result.n_iter, result.passes, result.final_loss


def with_intercept_column(X):
    ones = da.ones((X.shape[0], 1), chunks=(X.chunks[0], 1), dtype=X.dtype)
    Xi = da.concatenate([X, ones], axis=1).rechunk({1: -1}).persist()
    wait(Xi)
    return Xi


def time_dask_glm(X, y, threshold, timed_iterations):
    from dask_glm.algorithms import gradient_descent
    from dask_glm.families import Normal

    Xi = with_intercept_column(X)
    gradient_descent(Xi, y, max_iter=1, family=Normal)  # warm-up

    def run(max_iter, tol):
        started = time.perf_counter()
        beta = gradient_descent(Xi, y, max_iter=max_iter, tol=tol, family=Normal)
        return time.perf_counter() - started, beta

    # tol=-inf never stops early, so the difference of two runs is the cost of the extra iterations.
    short, _ = run(2, -np.inf)
    long, _ = run(2 + timed_iterations, -np.inf)
    per_iteration = (long - short) / timed_iterations
    seconds, beta = run(10_000, 1e-14)  # dask-glm's own convergence test, its default tol
    return per_iteration, seconds, beta[:-1], beta[-1]


def time_dask_ml(X, y, solver):
    from dask_ml.linear_model import LinearRegression

    # Newton ignores the penalty; lbfgs gets a negligible one (C is the inverse strength).
    model = LinearRegression(solver=solver, C=1e12, max_iter=1000, tol=1e-12)
    started = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - started, np.asarray(model.coef_), float(model.intercept_)


def one_pass_seconds(X, y, repeats=5):
    """A plain dask read of the data (column sums): what one pass costs here, for scale."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        dask.compute(X.sum(axis=0), y.sum())
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=8, help="row blocks")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--numba-threads", type=int, default=1, help="numba threads in each block task")
    parser.add_argument("--timed-iterations", type=int, default=20)
    parser.add_argument("--tolerance", type=float, default=1e-8, help="relative excess loss that counts as optimal")
    parser.add_argument("--skip-compare", action="store_true", help="fastgd only")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", FutureWarning)  # dask-glm uses deprecated dask config keys

    cluster = LocalCluster(
        n_workers=args.workers, threads_per_worker=args.threads_per_worker, processes=True, dashboard_address=None
    )
    with Client(cluster):
        X, y = make_data(args.rows, args.features, args.chunks)
        best_loss = optimal_loss(X, y)
        threshold = best_loss * (1.0 + args.tolerance)
        rows = []

        def excess(loss):
            return f"{(loss - best_loss) / best_loss:.1e}"

        pass_seconds = one_pass_seconds(X, y)
        rows.append(("one dask pass (X.sum, y.sum), for scale", pass_seconds * 1e3, "", "", pass_seconds, ""))
        # Warm the workers (numba's cache, imports) before timing.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
            fastgd.dask.train(X, y, iterations=1, solver="gram", n_threads=args.numba_threads)
            fastgd.dask.train(X, y, iterations=1, lr=1e-3, n_threads=args.numba_threads)
        for method, solver in [("gd", "data"), ("nesterov", "data"), ("nesterov", "gram")]:
            per_iteration, seconds, n_iter, passes, loss = time_fastgd(
                X, y, method, solver, threshold, args.numba_threads, args.timed_iterations
            )
            name = f"fastgd.dask method={method!r} solver={solver!r}"
            rows.append((name, per_iteration * 1e3, n_iter, passes, seconds, excess(loss)))
        notes = []
        if not args.skip_compare:
            try:
                per_iteration, seconds, w, b = time_dask_glm(X, y, threshold, args.timed_iterations)
                rows.append(
                    ("dask_glm.algorithms.gradient_descent", per_iteration * 1e3, "", "", seconds,
                     excess(loss_at(X, y, w, b)))
                )  # fmt: skip
                for solver in ("newton", "lbfgs"):
                    seconds, w, b = time_dask_ml(X, y, solver)
                    name = f"dask_ml LinearRegression(solver={solver!r})"
                    rows.append((name, float("nan"), "", "", seconds, excess(loss_at(X, y, w, b))))
            except ImportError as error:
                notes.append(f"dask-glm / dask-ml not installed ({error}); pip install fastgd[compare]")

    cluster.close()
    print(
        f"\n{args.rows:,} rows x {args.features} float64 features in {args.chunks} row blocks; "
        f"LocalCluster({args.workers} worker processes x {args.threads_per_worker} thread), "
        f"numba threads per task: {args.numba_threads}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs. Optimum: relative excess loss <= {args.tolerance:g}.\n"
    )
    print("| solver | ms per iteration (median) | iterations | passes | seconds to optimum | excess loss reached |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, per_iteration, n_iter, passes, seconds, reached in rows:
        per = "" if np.isnan(per_iteration) else f"{per_iteration:.3g}"
        print(f"| {name} | {per} | {n_iter} | {passes} | {seconds:.2f} | {reached} |")
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()
