"""``fastgd demo`` (or ``python -m fastgd``): train on synthetic data with both paths and compare.

The data: features drawn from a standard normal, ``y = X @ w_true + b_true``
plus noise, so the least-squares answer is known and a learning rate of 0.5
is stable and fast (the Hessian of the loss is close to twice the identity).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import time
import warnings

import numba
import numpy as np

from .io import DataError, check_writable
from .progress import ProgressBar, choose_callback_every
from .training import train


def make_data(rows: int, features: int, dtype: str, seed: int = 0):
    """Synthetic regression data with known coefficients, generated without float64 temporaries for float32."""
    rng = np.random.default_rng(seed)
    shape = (rows,) if features == 1 else (rows, features)
    X = rng.standard_normal(shape, dtype=np.dtype(dtype))
    true_w = np.round(rng.uniform(-3, 3, size=features), 2)
    true_b = 1.5
    y = (X * true_w[0] if features == 1 else X @ true_w.astype(dtype)) + true_b
    y += rng.standard_normal(rows, dtype=np.dtype(dtype)) * np.asarray(0.1, dtype)
    return X, y, true_w, true_b


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The demo's options, shared by ``python -m fastgd`` and ``fastgd demo``."""
    parser.add_argument("--rows", type=int, default=10_000_000, help="number of samples (default 10,000,000)")
    parser.add_argument("--features", type=int, default=1, help="number of features (1 gives a 1-D X; default 1)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    parser.add_argument("--iterations", type=int, default=30, help="gradient-descent iterations per path (default 30)")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    parser.add_argument("--threads", type=int, default=None, help="numba threads (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--plot",
        metavar="PATH.png",
        default=None,
        help="also write the loss curves of both paths (and the fitted line, for one feature) to this PNG; "
        "needs matplotlib (default: no plot)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return parser


def _format_w(w) -> str:
    values = np.atleast_1d(w)
    shown = ", ".join(f"{v:.4f}" for v in values[:6])
    return f"[{shown}{', ...' if values.size > 6 else ''}]"


def run(args: argparse.Namespace) -> int:
    """Run the demo with parsed options; returns the exit status."""
    if args.rows < 2 or args.features < 1 or args.iterations < 1:
        raise DataError("--rows must be >= 2, --features and --iterations >= 1")
    if args.plot is not None:
        if importlib.util.find_spec("matplotlib") is None:
            raise DataError("--plot needs matplotlib: pip install fastgd[plot]")
        check_writable(args.plot, "plot")
    X, y, true_w, true_b = make_data(args.rows, args.features, args.dtype, args.seed)
    data_bytes = X.nbytes + y.nbytes
    print(f"fastgd demo: {args.rows:,} rows x {args.features} feature(s), {args.dtype}, {data_bytes / 1e6:,.0f} MB")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; numba {numba.__version__}")

    # Compile on a small slice first, so the timings below exclude the JIT.
    compile_start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two iterations never converge; they only compile
        train(X[:1000], y[:1000], lr=args.lr, iterations=2, n_threads=args.threads)
    compile_seconds = time.perf_counter() - compile_start

    # Reference first: numba's thread pool can spin after a parallel region
    # and slow numpy down if it ran second.
    results = {}
    every = choose_callback_every(args.iterations, X.size)
    for backend, label in (("numpy", "reference numpy"), ("numba", "fused numba")):
        with ProgressBar(args.iterations, enabled=False if args.quiet else None, description=label, leave=False) as bar:
            results[backend] = train(
                X, y, lr=args.lr, iterations=args.iterations, backend=backend, n_threads=args.threads,
                callback=bar if bar.enabled else None, callback_every=every,
            )  # fmt: skip
    print(
        f"numba: threading layer {numba.threading_layer()}, {numba.get_num_threads()} threads; compile/cache load {compile_seconds:.2f} s"
    )
    print(f"true parameters:    w = {_format_w(true_w)}  b = {true_b:.4f}")
    print()
    header = f"{'path':<16}{'w':<34}{'b':>9}{'final loss':>13}{'ms/epoch':>11}{'GB/s':>8}"
    print(header)
    print("-" * len(header))
    for backend, label in (("numpy", "reference numpy"), ("numba", "fused numba")):
        result = results[backend]
        per_epoch = result.loop_seconds / result.n_iter
        print(
            f"{label:<16}{_format_w(result.w):<34}{result.b:>9.4f}{result.final_loss:>13.6g}"
            f"{per_epoch * 1e3:>11.2f}{data_bytes / per_epoch / 1e9:>8.2f}"
        )
    speedup = results["numpy"].loop_seconds / results["numba"].loop_seconds
    print(f"\nspeed-up of the fused kernels over the reference path: {speedup:.1f}x per epoch")
    if args.plot is not None:
        from .plotting import save_plots

        one_feature = (X, y) if X.ndim == 1 else None
        save_plots(args.plot, {"reference numpy": results["numpy"], "fused numba": results["numba"]}, one_feature)
        print(f"loss curves written to {args.plot}")
    return 0
