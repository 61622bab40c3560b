"""Time and passes to reach the least-squares optimum: fastgd's solvers against scikit-learn and numpy.

Each contender runs in a fresh subprocess on the same synthetic data (features of different scales and
non-zero means, fixed seed), so thread pools and caches do not interfere. The optimum comes from
``numpy.linalg.lstsq``; fastgd's runs stop when the loss is within ``--rel`` (default 1e-6) of it.
Data generation and numba compilation are excluded from every time.

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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "asv_bench" / "benchmarks"))

import _workload  # found through the path added just above

CONTENDERS = [
    "numpy.linalg.lstsq",
    "sklearn LinearRegression",
    "sklearn SGDRegressor (defaults)",
    "sklearn SGDRegressor (tuned)",
    "fastgd gd, lr=auto",
    "fastgd gd, lr=auto, center",
    "fastgd nesterov, center",
    "fastgd gram + nesterov, center",
    "fastgd gram + gd, center",
]


def mse(X, y, w, b) -> float:
    import fastgd

    return fastgd.loss_and_gradients(X, y, w, b)[0]


def run_one(name: str, rows: int, features: int, optimum: float | None, rel: float, max_passes: int) -> dict:
    X, y = _workload.generate_convergence_data(rows, features)
    threshold = None if optimum is None else optimum * (1 + rel)
    passes = None
    if name.startswith("fastgd"):
        import fastgd

        kwargs = {"center": "center" in name, "method": "nesterov" if "nesterov" in name else "gd"}
        kwargs["solver"] = "gram" if "gram" in name else "data"
        # Compile (or load from the on-disk cache) on a slice first.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fastgd.train(X[:1000], y[:1000], iterations=3, **kwargs)
            start = time.perf_counter()
            result = fastgd.train(X, y, iterations=max_passes, loss_threshold=threshold, **kwargs)
            seconds = time.perf_counter() - start
        w, b, passes = result.w, result.b, result.passes
        note = "" if result.stop_reason == "loss_threshold" else f"stopped at the {max_passes}-iteration cap"
    elif name == "numpy.linalg.lstsq":
        start = time.perf_counter()
        design = np.column_stack([X, np.ones(rows)])
        solution = np.linalg.lstsq(design, y, rcond=None)[0]
        seconds = time.perf_counter() - start
        w, b, note = solution[:-1], solution[-1], ""
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
        note = ""
    return {"name": name, "seconds": seconds, "loss": mse(X, y, w, b), "passes": passes, "note": note}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="runs per contender (median reported)")
    parser.add_argument("--rel", type=float, default=1e-6, help="relative loss gap that counts as optimal")
    parser.add_argument("--max-passes", type=int, default=3000)
    parser.add_argument("--only", default=None, help="contender names separated by semicolons (default: all)")
    parser.add_argument("--run", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--optimum", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        result = run_one(args.run, args.rows, args.features, args.optimum, args.rel, args.max_passes)
        print(json.dumps(result))
        return

    def spawn(name: str, optimum: float | None) -> dict:
        command = [sys.executable, __file__, "--run", name, "--rows", str(args.rows), "--features", str(args.features)]
        command += ["--rel", str(args.rel), "--max-passes", str(args.max_passes)]
        if optimum is not None:
            command += ["--optimum", repr(optimum)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        return json.loads(output.strip().splitlines()[-1])

    optimum = spawn("numpy.linalg.lstsq", None)["loss"]
    names = CONTENDERS if args.only is None else [n.strip() for n in args.only.split(";")]
    import numba

    print(f"{args.rows:,} rows x {args.features} features, float64; optimum loss {optimum:.10g} (numpy.linalg.lstsq)")
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, numba {numba.__version__}, {args.repeats} runs each")
    print()
    print("| contender | median s (min-max) | passes over data | loss gap to optimum | note |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        runs = [spawn(name, optimum) for _ in range(args.repeats)]
        times = [r["seconds"] for r in runs]
        last = runs[-1]
        gap = (last["loss"] - optimum) / optimum
        passes = "" if last["passes"] is None else str(last["passes"])
        print(
            f"| {name} | {statistics.median(times):.3f} ({min(times):.3f}-{max(times):.3f}) | {passes} | {gap:.1e} | {last['note']} |"
        )


if __name__ == "__main__":
    main()
