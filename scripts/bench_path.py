"""The elastic net's regularisation path: fastgd against scikit-learn and glum, each in a fresh process.

One problem (float64, ``n`` rows, ``d`` correlated features of unequal scales and a sparse truth),
one grid of ``--alphas`` values from ``alpha_max`` down to ``alpha_max * --ratio``, one ``l1_ratio``.

* fastgd: ``fastgd.path`` (one statistics pass, then warm-started ``O(d²)`` FISTA per alpha, ``tol=1e-9``);
* scikit-learn: ``sklearn.linear_model.enet_path`` on centred data with ``precompute=True`` (its
  Gram-matrix coordinate descent, also one pass to form ``X'X``) and ``tol=1e-8``, as a user wanting
  tight answers would call it;
* glum: ``GeneralizedLinearRegressor(alpha=alphas, l1_ratio=..., alpha_search=True)``.

Every contender's coefficients at every alpha are compared with the exact solution
(``fastgd.datasets.elastic_net``) in standardised units; the table gives seconds (median of
``--repeats`` fresh processes, data generation and compilation excluded) and the largest error.
A peer that is not installed is skipped and named.

Run:  python scripts/bench_path.py [--rows 1000000] [--features 20] [--alphas 30] [--ratio 1e-3]
          [--l1-ratio 0.5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

CONTENDERS = ["fastgd path", "sklearn enet_path (gram)", "glum alpha_search"]
NEEDS = {"sklearn enet_path (gram)": "sklearn", "glum alpha_search": "glum"}


def problem(n_rows: int, n_features: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_rows, 1))
    X = 0.6 * latent + 0.8 * rng.standard_normal((n_rows, n_features))
    X = X * np.geomspace(0.01, 100.0, n_features) + np.linspace(-50.0, 50.0, n_features)
    truth = np.zeros(n_features)
    truth[:: max(1, n_features // 5)] = rng.uniform(1.0, 3.0, truth[:: max(1, n_features // 5)].shape)
    truth /= np.geomspace(0.01, 100.0, n_features)
    y = X @ truth + 5.0 + rng.standard_normal(n_rows)
    return X, y


def alpha_grid(X, y, n_alphas: int, ratio: float, l1_ratio: float) -> np.ndarray:
    centred = y - y.mean()
    largest = float(np.max(np.abs(centred @ (X - X.mean(0)))) / len(y) / max(l1_ratio, 1e-3))
    return np.geomspace(largest, largest * ratio, n_alphas)


def run_one(name: str, args) -> dict:
    """Time one contender in this process; return seconds and its coefficients."""
    X, y = problem(args.rows, args.features)
    alphas = alpha_grid(X, y, args.alphas, args.ratio, args.l1_ratio)
    if name == "fastgd path":
        import fastgd

        fastgd.path(X[:1000], y[:1000], alphas=alphas[:2], l1_ratio=args.l1_ratio)  # compile outside the timing
        started = time.perf_counter()
        coefs, intercepts, _ = fastgd.path(X, y, alphas=alphas, l1_ratio=args.l1_ratio, tol=1e-9)
        seconds = time.perf_counter() - started
    elif name == "sklearn enet_path (gram)":
        from sklearn.linear_model import enet_path

        started = time.perf_counter()
        mean_x, mean_y = X.mean(0), y.mean()
        _, coefs, _ = enet_path(
            X - mean_x, y - mean_y, alphas=alphas, l1_ratio=args.l1_ratio, precompute=True, tol=1e-8
        )
        coefs = coefs.T
        intercepts = mean_y - coefs @ mean_x
        seconds = time.perf_counter() - started
    else:
        from glum import GeneralizedLinearRegressor

        started = time.perf_counter()
        model = GeneralizedLinearRegressor(
            alphas=alphas, l1_ratio=args.l1_ratio, alpha_search=True, gradient_tol=1e-8
        ).fit(X, y)
        coefs, intercepts = model.coef_path_, np.asarray(model.intercept_path_)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "coefs": np.asarray(coefs).tolist(), "intercepts": np.asarray(intercepts).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--alphas", type=int, default=30)
    parser.add_argument("--ratio", type=float, default=1e-3)
    parser.add_argument("--l1-ratio", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args)))
        return

    from fastgd.datasets import elastic_net, standardised_error

    X, y = problem(args.rows, args.features)
    alphas = alpha_grid(X, y, args.alphas, args.ratio, args.l1_ratio)
    exact = [elastic_net(X, y, alpha, args.l1_ratio) for alpha in alphas]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"# {args.rows:,} x {args.features}, {args.alphas} alphas over {alphas[0]:.3g}..{alphas[-1]:.3g}, "
          f"l1_ratio {args.l1_ratio}, median of {args.repeats} fresh processes")  # fmt: skip
    print("| contender | seconds | largest standardised error over the path | zeros at the smallest alpha |")
    print("| --- | --- | --- | --- |")
    for name in CONTENDERS:
        module = NEEDS.get(name)
        if module and importlib.util.find_spec(module) is None:
            print(f"| {name} | not installed (pip install {module}) | | |")
            continue
        runs = []
        for _ in range(args.repeats):
            command = [sys.executable, __file__, "--one", name, "--rows", str(args.rows), "--features",
                       str(args.features), "--alphas", str(args.alphas), "--ratio", str(args.ratio),
                       "--l1-ratio", str(args.l1_ratio)]  # fmt: skip
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            runs.append(json.loads(output.strip().splitlines()[-1]))
        coefs, intercepts = np.array(runs[0]["coefs"]), np.array(runs[0]["intercepts"])
        errors = [standardised_error(X, y, coefs[k], intercepts[k], *exact[k]) for k in range(len(alphas))]
        seconds = statistics.median(run["seconds"] for run in runs)
        print(f"| {name} | {seconds:.3f} | {max(errors):.1e} | {int((coefs[-1] == 0).sum())} of {args.features} |")


if __name__ == "__main__":
    main()
