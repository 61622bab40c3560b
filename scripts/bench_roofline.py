"""The fused epoch and the statistics pass as fractions of the read-once roofline, over a grid of cases.

For every combination of ``--rows``, ``--features``, ``--dtypes``, ``--orders`` and ``--threads``
this times, taking turns in one process (so all three see the same background load), the
fused epoch (``fastgd.backends.get("numba").evaluate``), the sufficient-statistics pass
(``fastgd.gram.kernel_statistics``) and the read-once kernel over the same arrays, and prints
read-once time / epoch time (the epoch's fraction of the roofline) and statistics time /
read-once time. Medians of ``--repeats`` turns after one warm-up. One table row per case.

Run:  python scripts/bench_roofline.py [--rows 1000000,10000000] [--features 1,8,64]
          [--dtypes float32,float64] [--orders C,F] [--threads 1,all] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics

import numba
import numpy as np

from fastgd import benchmarking, gram
from fastgd.benchmarking import MAX_ELEMENTS
from fastgd.validation import prepare_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000")
    parser.add_argument("--features", default="1,8,64")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--orders", default="C,F")
    parser.add_argument("--threads", default="1,all")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    threads = [numba.config.NUMBA_NUM_THREADS if t == "all" else int(t) for t in args.threads.split(",")]
    print(f"machine: {benchmarking.cpu_model()}; numba {numba.__version__}; median of {args.repeats} turns\n")
    print("| rows × features, dtype, order | threads | epoch ms | statistics ms | read-once ms "
          "| epoch / roofline | statistics / read-once |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for rows in map(int, args.rows.split(",")):
        for features in map(int, args.features.split(",")):
            if rows * features > MAX_ELEMENTS:
                continue
            for dtype in args.dtypes.split(","):
                base_X, y = benchmarking.generate_data(rows, features, dtype)
                for order in args.orders.split(","):
                    if order == "F" and features == 1:
                        continue  # one column: the same vector either way
                    X = np.asfortranarray(base_X) if order == "F" else base_X
                    data = prepare_data(X, y)
                    functions = {
                        "epoch": benchmarking.epoch_callable(X, y, "numba"),
                        "statistics": lambda data=data: gram.kernel_statistics(data),
                        "read": benchmarking.read_once_callable(X, y),
                    }
                    for count in threads:
                        numba.set_num_threads(count)
                        times = benchmarking.interleaved_timings(functions, args.repeats)
                        epoch, stats, read = (
                            statistics.median(times[name]) for name in ("epoch", "statistics", "read")
                        )
                        print(
                            f"| {rows:,} × {features}, {dtype}, {order} | {count} | {epoch * 1e3:.2f} "
                            f"| {stats * 1e3:.2f} | {read * 1e3:.2f} | {read / epoch:.0%} | {stats / read:.2f}× |",
                            flush=True,
                        )
                    del X, data, functions
                del base_X, y


if __name__ == "__main__":
    main()
