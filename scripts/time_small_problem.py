"""Time 20,000 iterations on 30 rows, after compilation: the cost of the compiled loop itself.

Run: python scripts/time_small_problem.py [--repeats 15]
Prints the median, min and max over the repeats, for both backends, and the
time of a 2-iteration run on the same data: what a run costs around its
iterations (set-up, checks, the loop's entry from Python).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numba
import numpy as np

import fastgd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument("--iterations", type=int, default=20_000)
    args = parser.parse_args()
    x = np.linspace(0.0, 1.0, args.rows)
    y = 3.0 * x + 2.0
    with warnings.catch_warnings():  # a 2-iteration warm-up is far from converged, on purpose
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fastgd.train(x, y, lr=0.5, iterations=2)  # compile (or load from the on-disk cache)
    print(
        f"{args.rows} rows, {args.iterations:,} iterations; numba {numba.__version__}, {numba.get_num_threads()} threads"
    )
    for backend, repeats in (("numba", args.repeats), ("numpy", 3)):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fastgd.train(x, y, lr=0.5, iterations=args.iterations, backend=backend)
            times.append(time.perf_counter() - start)
        print(
            f"{backend:>6}: median {statistics.median(times) * 1e3:8.2f} ms  "
            f"(min {min(times) * 1e3:.2f}, max {max(times) * 1e3:.2f}, {repeats} runs)"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        short = []
        for _ in range(10 * args.repeats):
            start = time.perf_counter()
            fastgd.train(x, y, lr=0.5, iterations=2)
            short.append(time.perf_counter() - start)
    print(f" a 2-iteration run (numba): median {statistics.median(short) * 1e3:.3f} ms ({len(short)} runs)")


if __name__ == "__main__":
    main()
