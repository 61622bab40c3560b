"""Time one epoch of both backends, the read-once roofline and training's memory, as one Markdown table row.

Run from the repository root, for example::

    python scripts/bench_epoch.py --rows 10000000 --features 1 --dtype float64 --threads all

Each measurement runs in a fresh worker process (``asv_bench/benchmarks/benchmarking.py``,
the same code the asv suite times), one after the other, on one data set
generated once with a fixed seed:

* the numpy reference epoch, alone in its process (no numba thread pool alive);
* the fused numba epoch and the read-once kernel over the same arrays and
  chunks, in the same process, taking turns (so both see the same background
  load): read-once time over epoch time is the fraction of the roofline;
* training for ``--iterations`` iterations per backend, reporting the peak
  resident memory it adds (Linux: the peak is reset just before the call).

Epoch and read-once times are the median (min–max) of ``--repeats`` runs after
one warm-up. The output starts with the machine, numba's threading layer and
thread count, then a Markdown table (header, separator, one row); pass
``--no-header`` to print the row alone, to append to an existing table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

from fastgd import benchmarking

COLUMNS = (
    "data",
    "threads",
    "size",
    "fused epoch (numba)",
    "reference epoch (numpy)",
    "speed-up",
    "read-once",
    "read-once GB/s",
    "fraction of roofline (read-once ÷ epoch)",
    "training's extra peak memory, numba / numpy",
)


def _milliseconds(timing: dict) -> str:
    return f"{timing['median'] * 1e3:.3g} ms ({timing['min'] * 1e3:.3g}–{timing['max'] * 1e3:.3g})"


def _megabytes(count: float) -> str:
    return f"{count / 1e6:,.1f} MB"


def measure(args: argparse.Namespace, directory: str) -> dict:
    """Run every worker and return their raw results together."""
    shape = (args.rows, args.features, args.dtype)
    benchmarking.ensure_dataset(directory, *shape)
    record = {
        "rows": args.rows, "features": args.features, "dtype": args.dtype, "threads": args.threads, "order": args.order,
    }  # fmt: skip
    # The reference first, in its own process; then the kernels and the roofline together.
    record["numpy"] = benchmarking.run_epoch_worker(
        directory, *shape, "numpy", args.threads, args.repeats, order=args.order
    )
    record["numba"] = benchmarking.run_epoch_worker(
        directory, *shape, "numba", args.threads, args.repeats, read_once=True, order=args.order
    )
    for backend in ("numba", "numpy"):
        record[f"{backend}_memory"] = benchmarking.run_memory_worker(
            directory, *shape, backend, args.threads, args.iterations
        )
    numba_run = record["numba"]
    record.update(
        data_bytes=numba_run["data_bytes"],
        numba_threads=numba_run["numba_threads"],
        threading_layer=numba_run["threading_layer"],
        cpu=numba_run["cpu"],
        speedup=record["numpy"]["epoch"]["median"] / numba_run["epoch"]["median"],
        read_once_gb_per_s=numba_run["data_bytes"] / numba_run["read_once"]["median"] / 1e9,
        fraction_of_read_once=numba_run["read_once"]["median"] / numba_run["epoch"]["median"],
    )
    return record


def markdown_row(record: dict) -> str:
    data_bytes = record["data_bytes"]
    memory = " / ".join(
        f"{_megabytes(record[f'{backend}_memory']['extra_bytes'])} "
        f"({record[f'{backend}_memory']['extra_bytes'] / data_bytes:.2f}× data)"
        for backend in ("numba", "numpy")
    )
    cells = (
        f"{record['rows']:,} × {record['features']}, {record['dtype']}"
        + (", Fortran order" if record.get("order") == "F" else ""),
        f"{record['numba_threads']} ({record['threading_layer']})",
        _megabytes(data_bytes),
        _milliseconds(record["numba"]["epoch"]),
        _milliseconds(record["numpy"]["epoch"]),
        f"{record['speedup']:.2f}×",
        _milliseconds(record["numba"]["read_once"]),
        f"{record['read_once_gb_per_s']:.1f}",
        f"{record['fraction_of_read_once']:.0%}",
        memory,
    )
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=1, help="1 gives a 1-D X (default 1)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    parser.add_argument("--threads", default="all", help="'all' (numba's pool) or a number; a number also limits BLAS")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per measurement (default 7)")
    parser.add_argument("--iterations", type=int, default=10, help="training iterations for the memory figure")
    parser.add_argument(
        "--order", choices=("C", "F"), default="C", help="memory order of X for the epoch timings (memory: always C)"
    )
    parser.add_argument("--data-dir", help="keep the generated data set here (default: a temporary directory)")
    parser.add_argument("--json", help="also write every raw figure to this JSON file")
    parser.add_argument("--no-header", action="store_true", help="print the table row only")
    args = parser.parse_args(argv)
    if args.threads != "all" and not (args.threads.isdigit() and int(args.threads) >= 1):
        parser.error("--threads takes 'all' or a positive number")
    if args.rows < 1000 or args.features < 1 or args.repeats < 1 or args.iterations < 1:
        parser.error("--rows must be >= 1000; --features, --repeats and --iterations >= 1")

    if args.data_dir:
        os.makedirs(args.data_dir, exist_ok=True)
        record = measure(args, args.data_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="fastgd-bench-") as directory:
            record = measure(args, directory)

    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2))
    if not args.no_header:
        import numba
        import numpy

        blas_hints = [name for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ]
        print(
            f"machine: {record['cpu']}; Python {platform.python_version()}, numpy {numpy.__version__}, "
            f"numba {numba.__version__} ({record['threading_layer']} layer, {record['numba_threads']} threads); "
            f"{args.repeats} runs per timing, median (min–max)"
            + (f"; set: {', '.join(blas_hints)}" if blas_hints else "")
        )
        print()
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "---|" * len(COLUMNS))
    print(markdown_row(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
