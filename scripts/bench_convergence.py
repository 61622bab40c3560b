"""Time and passes to the least-squares optimum: fastgd's methods and solvers against exact solvers and SGD.

Each contender runs in a fresh subprocess on the same synthetic data (features of different scales and
non-zero means, fixed seed), so thread pools and caches do not interfere. The reference optimum is
``numpy.linalg.lstsq``'s. fastgd's runs stop on their own convergence test (every standardised
coefficient within ``tol``, default 1e-6) or at ``--max-passes`` iterations; the table reports the true
standardised coefficient error and loss gap of every contender against the reference. Data generation and
numba compilation are excluded from every time.

Run:  python scripts/bench_convergence.py [--rows 10000000] [--features 8] [--repeats 3]
Needs scikit-learn for the scikit-learn rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from fastgd import benchmarking, datasets

# name: keyword arguments of fastgd.train (None for the other contenders)
FASTGD = {
    "fastgd train(method='cg', solver='gram')": {"method": "cg", "solver": "gram"},
    "fastgd train(method='cg')": {"method": "cg"},
    "fastgd train(method='nesterov')": {"method": "nesterov"},
    "fastgd train(method='nesterov', solver='gram')": {"method": "nesterov", "solver": "gram"},
    "fastgd train() (gd, lr='auto')": {},
    "fastgd train(center=False, scale=False) (gd, no preconditioner)": {"center": False, "scale": False},
}
OTHERS = [
    "fastgd GDRegressor() (defaults)",
    "numpy.linalg.lstsq",
    "numpy normal equations",
    "sklearn LinearRegression",
    "sklearn SGDRegressor (defaults)",
    "sklearn SGDRegressor (tuned)",
]
CONTENDERS = [*FASTGD, *OTHERS]


def mse(X, y, w, b) -> float:
    import fastgd

    return fastgd.loss_and_gradients(X, y, w, b)[0]


def lstsq(X, y) -> tuple[np.ndarray, float]:
    solution = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)[0]
    return solution[:-1], float(solution[-1])


def run_one(name: str, rows: int, features: int, max_passes: int) -> dict:
    X, y = benchmarking.generate_convergence_data(rows, features)
    passes = None
    note = ""
    if name in FASTGD:
        import fastgd

        kwargs = FASTGD[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastgd.ConvergenceWarning)  # reported in the table instead
            fastgd.train(X[:1000], y[:1000], iterations=3, **kwargs)  # compile (or load the cache) on a slice
            start = time.perf_counter()
            result = fastgd.train(X, y, iterations=max_passes, **kwargs)
            seconds = time.perf_counter() - start
        w, b, passes = result.w, result.b, result.passes
        note = f"{result.n_iter} iterations, {result.stop_reason}"
        if not result.converged:
            note += f", warned (estimated error {result.coef_error:.1g})"
    elif name == "fastgd GDRegressor() (defaults)":
        from fastgd.estimator import GDRegressor

        GDRegressor().fit(X[:1000], y[:1000])
        start = time.perf_counter()
        model = GDRegressor().fit(X, y)
        seconds = time.perf_counter() - start
        w, b, note = model.coef_, model.intercept_, f"{model.n_iter_} iterations"
        passes = 1
    elif name == "numpy.linalg.lstsq":
        start = time.perf_counter()
        w, b = lstsq(X, y)
        seconds = time.perf_counter() - start
    elif name == "numpy normal equations":
        start = time.perf_counter()
        w, b = benchmarking.normal_equations(X, y)
        seconds = time.perf_counter() - start
    else:
        from sklearn.linear_model import LinearRegression, SGDRegressor

        if name == "sklearn LinearRegression":
            model = LinearRegression()
        elif name == "sklearn SGDRegressor (defaults)":
            model = SGDRegressor(random_state=0)
        else:
            # A fair tuning: constant small step with averaging, more epochs, tight tolerance.
            model = SGDRegressor(
                learning_rate="constant", eta0=1e-4, average=True, max_iter=50, tol=1e-8, random_state=0
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
        w, b = model.coef_, float(np.atleast_1d(model.intercept_)[0])
        passes = getattr(model, "n_iter_", None)
    reference = lstsq(X, y)
    optimum = mse(X, y, *reference)
    return {
        "name": name,
        "seconds": seconds,
        "loss_gap": (mse(X, y, w, b) - optimum) / optimum,
        "coef_error": datasets.standardised_error(X, y, w, b, *reference),
        "passes": passes,
        "note": note,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="runs per contender (median reported)")
    parser.add_argument("--max-passes", type=int, default=3000)
    parser.add_argument("--only", default=None, help="contender names separated by semicolons (default: all)")
    parser.add_argument("--json", default=None, help="also write every run's figures to this file")
    parser.add_argument("--run", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run, args.rows, args.features, args.max_passes)))
        return

    def spawn(name: str) -> dict:
        command = [sys.executable, __file__, "--run", name, "--rows", str(args.rows), "--features", str(args.features)]
        command += ["--max-passes", str(args.max_passes)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        return json.loads(output.strip().splitlines()[-1])

    names = CONTENDERS if args.only is None else [n.strip() for n in args.only.split(";")]
    import numba

    print(f"{args.rows:,} rows x {args.features} features, float64; reference optimum: numpy.linalg.lstsq")
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, numba {numba.__version__}, {args.repeats} runs each")
    print()
    print("| contender | median s (min-max) | passes over data | coefficient error | loss gap | note |")
    print("| --- | --- | --- | --- | --- | --- |")
    everything = []
    for name in names:
        runs = [spawn(name) for _ in range(args.repeats)]
        everything.append(runs)
        times = [r["seconds"] for r in runs]
        last = runs[-1]
        passes = "" if last["passes"] is None else str(last["passes"])
        print(
            f"| {name} | {statistics.median(times):.3f} ({min(times):.3f}-{max(times):.3f}) | {passes} "
            f"| {last['coef_error']:.1e} | {last['loss_gap']:.1e} | {last['note']} |",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1) + "\n")


if __name__ == "__main__":
    main()
