"""Peak memory of streamed training on a file several times larger than fastgd's buffer budget.

Writes a Parquet file (float64, ``--rows`` x ``--features`` plus a target, in row groups of 1e6 rows;
kept under ``--dir`` and reused), then in fresh processes:

* ``baseline``: imports fastgd and trains on a tiny in-memory problem (the interpreter, numpy, numba,
  pyarrow and the compiled kernels: what every run pays before reading data);
* ``stream``: ``fastgd.train_stream(path, target="y", solver=...)``, block by block;
* ``in-memory``: reads the whole file with pyarrow and calls ``fastgd.train`` (the answer to match).

Each prints its peak resident set size (``ru_maxrss``); fastgd's own buffers are the stream's peak
less the baseline. The streamed coefficients are compared with the in-memory ones in standardised
units.

Run:  python scripts/stream_memory.py [--rows 30000000] [--features 9] [--solver gram] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def write_file(path: Path, n_rows: int, n_features: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    truth = np.linspace(-2.0, 2.0, n_features)
    scales = np.geomspace(0.1, 1000.0, n_features)
    writer = None
    group = 1_000_000
    for start in range(0, n_rows, group):
        rows = min(group, n_rows - start)
        X = rng.standard_normal((rows, n_features)) * scales + 10.0
        y = X @ (truth / scales) + 3.0 + rng.standard_normal(rows)
        table = pa.table({**{f"x{j}": X[:, j] for j in range(n_features)}, "y": y})
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="none")
        writer.write_table(table)
    writer.close()


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def child(mode: str, path: str, solver: str) -> None:
    import fastgd

    tiny = np.random.default_rng(1).standard_normal((1000, 3))
    fastgd.train(tiny, tiny @ [1.0, 2.0, 3.0], iterations=10, method="cg", solver="gram")  # numba loaded
    import pyarrow.parquet as pq  # every mode imports the reader

    started = time.perf_counter()
    result = None
    if mode == "stream":
        result = fastgd.train_stream(path, target="y", solver=solver, iterations=1000, progress=False)
    elif mode == "in-memory":
        table = pq.read_table(path)
        columns = [name for name in table.column_names if name != "y"]
        X = np.column_stack([table.column(name).to_numpy() for name in columns])
        y = table.column("y").to_numpy()
        del table
        result = fastgd.train(X, y, iterations=1000, method="cg", solver=solver)
    seconds = time.perf_counter() - started
    out = {"peak_mib": peak_mib(), "seconds": seconds}
    if result is not None:
        out.update(w=np.asarray(result.w).tolist(), b=result.b, passes=result.passes, converged=result.converged)
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=30_000_000)
    parser.add_argument("--features", type=int, default=9)
    parser.add_argument("--solver", default="gram", choices=["gram", "data"])
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    path = Path(args.dir) / f"fastgd-stream-{args.rows}x{args.features}.parquet"
    if not path.exists():
        started = time.perf_counter()
        write_file(path, args.rows, args.features)
        print(f"wrote {path} in {time.perf_counter() - started:.0f} s")
    size = path.stat().st_size
    print(f"# {path.name}: {size / 2**30:.2f} GiB, {args.rows:,} rows x {args.features} features + target; "
          f"{os.cpu_count()} cores; solver={args.solver}")  # fmt: skip
    results = {}
    for mode in ("baseline", "stream", "in-memory"):
        command = [sys.executable, __file__, "--child", mode, str(path), args.solver]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[mode] = json.loads(output.strip().splitlines()[-1])
        print(f"{mode:>10}: peak RSS {results[mode]['peak_mib']:8.0f} MiB, {results[mode]['seconds']:7.2f} s"
              + (f", {results[mode]['passes']} pass(es)" if "passes" in results[mode] else ""))  # fmt: skip
    own = results["stream"]["peak_mib"] - results["baseline"]["peak_mib"]
    print(f"fastgd's own buffers while streaming: {own:.0f} MiB (file: {size / 2**20:,.0f} MiB)")
    streamed, whole = results["stream"], results["in-memory"]
    sample = (
        np.random.default_rng(2).standard_normal((100_000, args.features)) * np.geomspace(0.1, 1000.0, args.features)
        + 10.0
    )
    difference = np.max(np.abs(np.array(streamed["w"]) - whole["w"]) * sample.std(axis=0))
    print(f"largest difference of a coefficient x std(x_j), streamed vs in memory: {difference:.1e} "
          f"(both converged: {streamed['converged'] and whole['converged']})")  # fmt: skip


if __name__ == "__main__":
    main()
