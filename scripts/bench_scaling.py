"""Thread scaling of the fused epoch against the read-once roofline, as a Markdown table.

Run from the repository root, for example::

    python scripts/bench_scaling.py --rows 10000000 --features 8 --dtype float64 --threads 1,2,4,8,16

For each thread count, a fresh worker process (``asv_bench/benchmarks/benchmarking.py``,
the code the asv suite times) runs the fused numba epoch and the read-once
kernel in turns over the same arrays; one more worker times the numpy
reference at its default thread count, for scale. Thread counts above numba's
pool (``NUMBA_NUM_THREADS``) are skipped. Times are medians (min–max) of
``--repeats`` runs after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

from fastgd import benchmarking


def _milliseconds(timing: dict) -> str:
    return f"{timing['median'] * 1e3:.3g} ms ({timing['min'] * 1e3:.3g}–{timing['max'] * 1e3:.3g})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=8, help="1 gives a 1-D X")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    parser.add_argument("--threads", default="1,2,4,8,16", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--data-dir", help="keep the generated data set here (default: a temporary directory)")
    parser.add_argument("--json", help="also write every raw figure to this JSON file")
    args = parser.parse_args(argv)
    import numba

    counts = [int(count) for count in args.threads.split(",")]
    pool = numba.config.NUMBA_NUM_THREADS
    shape = (args.rows, args.features, args.dtype)
    with tempfile.TemporaryDirectory(prefix="fastgd-scaling-") as scratch:
        directory = args.data_dir or scratch
        Path(directory).mkdir(parents=True, exist_ok=True)
        benchmarking.ensure_dataset(directory, *shape)
        reference = benchmarking.run_epoch_worker(directory, *shape, "numpy", "all", args.repeats)
        runs = {
            count: benchmarking.run_epoch_worker(directory, *shape, "numba", str(count), args.repeats, read_once=True)
            for count in counts
            if count <= pool
        }
    if args.json:
        Path(args.json).write_text(json.dumps({"reference": reference, "numba": runs}, indent=2))

    data_bytes = reference["data_bytes"]
    layer = next(iter(runs.values()))["threading_layer"] if runs else "none"
    print(
        f"machine: {reference['cpu']}; Python {platform.python_version()}, numba {numba.__version__} ({layer} layer); "
        f"{args.rows:,} × {args.features} {args.dtype} ({data_bytes / 1e6:,.1f} MB); {args.repeats} runs, "
        "median (min–max)"
    )
    print(f"numpy reference epoch, default threads: {_milliseconds(reference['epoch'])}")
    print()
    print(
        "| threads | fused epoch | epoch GB/s | read-once | read-once GB/s | fraction of roofline | speed-up over 1 thread |"
    )
    print("|---|---|---|---|---|---|---|")
    one_thread = runs.get(1, {}).get("epoch", {}).get("median")
    for count, run in runs.items():
        epoch, read_once = run["epoch"]["median"], run["read_once"]["median"]
        speedup = f"{one_thread / epoch:.2f}×" if one_thread else "–"
        print(
            f"| {count} | {_milliseconds(run['epoch'])} | {data_bytes / epoch / 1e9:.1f} | "
            f"{_milliseconds(run['read_once'])} | {data_bytes / read_once / 1e9:.1f} | {read_once / epoch:.0%} | {speedup} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
