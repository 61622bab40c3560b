"""fastgd against the strongest peers, side by side, each contender in its own fresh process.

Two questions, two tables:

* **Time to the exact least-squares answer** on the badly scaled problem of
  ``scripts/bench_convergence.py`` (float64, features of unequal scales and non-zero means):
  fastgd's exact path (``solver="gram"``: one statistics pass, then O(d²) iterations) and its
  data-pass ``cg``; scikit-learn-intelex's (oneDAL) ``LinearRegression``; numpy normal equations
  (centred ``X.T @ X``, ``np.linalg.solve``); scikit-learn's ``LinearRegression``; glum's
  ``GeneralizedLinearRegressor(alpha=0)``. The floor is one read of the data (fastgd's read-once
  kernel), timed in the same way. Every answer is checked against ``numpy.linalg.lstsq`` in
  standardised units (``|Δw_j|·std(x_j)/std(y)``).
* **Time per gradient-descent iteration** (loss, both gradients, update): fastgd's compiled loop
  (``TrainResult.loop_seconds / n_iter``) against ``jax.jit`` of a ``lax.fori_loop`` over
  ``jax.value_and_grad`` (float64 enabled) and against the same iteration in numpy BLAS
  (``X @ w``, ``X.T @ r``), with the read-once time per pass beside them.

Peers come from the optional extra ``fastgd[compare]``; a peer that is not installed is skipped and
listed as such. Thread counts are whatever each library uses by default on all cores; the header
prints the machine, the versions and the thread settings. Times are medians of ``--repeats`` fresh
processes; data generation, compilation (numba, XLA) and the first call are excluded.

Run:  python scripts/bench_peers.py [--exact 10000000x8,1000000x64] [--iteration-rows 1000000]
          [--iteration-features 1,8,64] [--dtypes float32,float64] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

from fastgd import benchmarking, datasets

EXACT = [
    "read-once pass (floor)",
    "fastgd statistics pass alone",
    "fastgd GDRegressor() (gram + cg, defaults)",
    "fastgd train(method='cg', solver='data')",
    "sklearnex LinearRegression (oneDAL)",
    "numpy normal equations",
    "sklearn LinearRegression",
    "glum GeneralizedLinearRegressor(alpha=0)",
]
PER_ITERATION = ["read-once pass", "fastgd compiled loop", "jax jit fori_loop value_and_grad", "numpy BLAS"]
# The distribution (for its version) and the module each peer needs.
NEEDS = {
    "sklearnex LinearRegression (oneDAL)": ("scikit-learn-intelex", "sklearnex"),
    "sklearn LinearRegression": ("scikit-learn", "sklearn"),
    "glum GeneralizedLinearRegressor(alpha=0)": ("glum", "glum"),
    "jax jit fori_loop value_and_grad": ("jax", "jax"),
}
ITERATIONS_PER_RUN = 50
STEP = 0.1  # fixed step for the per-iteration runs: the work per iteration does not depend on it


def installed(name: str) -> bool:
    if name not in NEEDS:
        return True
    try:
        __import__(NEEDS[name][1])
    except ImportError:
        return False
    return True


def versions() -> str:
    found = []
    for distribution in ["numpy", "numba", "scikit-learn", "scikit-learn-intelex", "glum", "jax", "jaxlib"]:
        try:
            found.append(f"{distribution} {importlib.metadata.version(distribution)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{distribution} not installed")
    return ", ".join(found)


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run_exact(name: str, rows: int, features: int) -> dict:
    X, y = benchmarking.generate_convergence_data(rows, features)
    answer: dict = {}

    def keep(w, b):
        answer["w"], answer["b"] = np.asarray(w, dtype=np.float64).ravel(), float(np.ravel(b)[0])

    if name == "read-once pass (floor)":
        read = benchmarking.read_once_callable(X, y)
        read()
        return {"seconds": timed(read), "error": None}
    if name == "fastgd statistics pass alone":
        from fastgd import gram
        from fastgd.validation import prepare_data

        data = prepare_data(X, y, None)
        gram.kernel_statistics(prepare_data(X[:50_000], y[:50_000], None))  # compile or load the cache
        return {"seconds": timed(lambda: gram.kernel_statistics(data)), "error": None}
    if name.startswith("fastgd GDRegressor"):
        from fastgd import GDRegressor

        GDRegressor().fit(X[:50_000], y[:50_000])

        def fit():
            model = GDRegressor().fit(X, y)
            keep(model.coef_, model.intercept_)
    elif name.startswith("fastgd train"):
        import fastgd

        fastgd.train(X[:50_000], y[:50_000], iterations=3, method="cg", solver="data")

        def fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fastgd.ConvergenceWarning)  # the error column says
                result = fastgd.train(X, y, iterations=1000, method="cg", solver="data")
            keep(result.w, result.b)
            answer["passes"] = result.passes
    elif name.startswith("sklearnex"):
        from sklearnex.linear_model import LinearRegression

        LinearRegression().fit(X[:1000], y[:1000])

        def fit():
            model = LinearRegression().fit(X, y)
            keep(model.coef_, model.intercept_)
    elif name == "numpy normal equations":

        def fit():
            keep(*benchmarking.normal_equations(X, y))
    elif name == "sklearn LinearRegression":
        from sklearn.linear_model import LinearRegression

        def fit():
            model = LinearRegression().fit(X, y)
            keep(model.coef_, model.intercept_)
    else:
        from glum import GeneralizedLinearRegressor

        GeneralizedLinearRegressor(alpha=0).fit(X[:1000], y[:1000])

        def fit():
            model = GeneralizedLinearRegressor(alpha=0).fit(X, y)
            keep(model.coef_, model.intercept_)

    seconds = timed(fit)
    error = datasets.standardised_error(X, y, answer["w"], answer["b"], *datasets.least_squares(X, y))
    return {"seconds": seconds, "error": error, "passes": answer.get("passes")}


def run_iteration(name: str, rows: int, features: int, dtype: str) -> dict:
    X, y = benchmarking.generate_data(rows, features, dtype)
    n_iter = ITERATIONS_PER_RUN
    if name == "read-once pass":
        read = benchmarking.read_once_callable(X, y)
        read()
        return {"seconds": statistics.median(timed(read) for _ in range(5))}
    if name == "fastgd compiled loop":
        import fastgd

        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
                result = fastgd.train(X, y, iterations=n_iter, lr=STEP, tol=0.0, center=False, scale=False)
            return result.loop_seconds / result.n_iter

        run()
        return {"seconds": run()}
    if name == "numpy BLAS":
        w = np.zeros(features, dtype=X.dtype)
        b = X.dtype.type(0)
        design = X.reshape(rows, -1)

        def run():
            nonlocal w, b
            for _ in range(n_iter):
                residual = design @ w + b - y
                _loss = residual @ residual / rows
                w = w - STEP * (2.0 / rows) * (design.T @ residual)
                b = b - STEP * (2.0 / rows) * residual.sum()

        run()
        return {"seconds": timed(run) / n_iter}
    descend = benchmarking.jax_descent_callable(X, y, n_iter, STEP)
    descend()  # compile
    return {"seconds": timed(descend) / n_iter}


def spawn(arguments: list[str]) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--worker", *arguments]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def median_of(arguments: list[str], repeats: int) -> tuple[float, dict]:
    runs = [spawn(arguments) for _ in range(repeats)]
    return statistics.median(run["seconds"] for run in runs), runs[-1]


def shape_of(text: str) -> tuple[int, int]:
    rows, features = text.lower().split("x")
    return int(float(rows)), int(features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exact", default="10000000x8,1000000x64", help="rows x features of the exact runs")
    parser.add_argument("--iteration-rows", type=int, default=1_000_000)
    parser.add_argument("--iteration-features", default="1,8,64")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per contender (median)")
    parser.add_argument("--only", default="exact,iteration", help="which tables")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--worker", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, name, *rest = args.worker
        if kind == "exact":
            print(json.dumps(run_exact(name, int(rest[0]), int(rest[1]))))
        else:
            print(json.dumps(run_iteration(name, int(rest[0]), int(rest[1]), rest[2])))
        return

    threads = {key: os.environ.get(key, "unset") for key in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS")}
    print(f"machine: {benchmarking.cpu_model()}, {platform.system()} {platform.machine()}")
    print(f"versions: {versions()}")
    print(f"threads: every library's default on all {os.cpu_count()} CPUs ({threads})")
    print(f"median of {args.repeats} fresh processes per figure\n")
    missing = [name for name in [*EXACT, *PER_ITERATION] if not installed(name)]
    if missing:
        print("skipped, not installed (pip install 'fastgd[compare]'): " + "; ".join(missing) + "\n")
    figures: dict = {"exact": {}, "iteration": {}}

    if "exact" in args.only:
        shapes = [shape_of(text) for text in args.exact.split(",")]
        print("Time to the exact least-squares answer, float64, badly scaled (seconds; error vs lstsq, standardised)\n")
        print("| contender | " + " | ".join(f"{rows:,} × {features}" for rows, features in shapes) + " |")
        print("| --- |" + " --- |" * len(shapes))
        for name in EXACT:
            if not installed(name):
                continue
            cells = []
            for rows, features in shapes:
                seconds, last = median_of(["exact", name, str(rows), str(features)], args.repeats)
                figures["exact"].setdefault(name, {})[f"{rows}x{features}"] = {"seconds": seconds, **last}
                error = "" if last["error"] is None else f" (error {last['error']:.0e})"
                passes = "" if not last.get("passes") else f", {last['passes']} passes"
                cells.append(f"{seconds:.3f}{error}{passes}")
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
        print()

    if "iteration" in args.only:
        rows = args.iteration_rows
        cases = [(int(d), dtype) for d in args.iteration_features.split(",") for dtype in args.dtypes.split(",")]
        print(f"Time per gradient-descent iteration, {rows:,} rows (ms)\n")
        names = [name for name in PER_ITERATION if installed(name)]
        header = " | ".join(names)
        print(f"| features, dtype | {header} | fastgd / read-once | JAX / fastgd |")
        print("| --- |" + " --- |" * (len(names) + 2))
        for features, dtype in cases:
            row = {}
            for name in names:
                seconds, _last = median_of(["iteration", name, str(rows), str(features), dtype], args.repeats)
                row[name] = seconds
            figures["iteration"][f"{features},{dtype}"] = row
            fraction = row["read-once pass"] / row["fastgd compiled loop"]
            jax_ratio = row.get("jax jit fori_loop value_and_grad", float("nan")) / row["fastgd compiled loop"]
            cells = " | ".join(f"{row[name] * 1e3:.2f}" for name in names)
            print(f"| {features}, {dtype} | {cells} | {fraction:.0%} | {jax_ratio:.1f}× |", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=1)


if __name__ == "__main__":
    main()
