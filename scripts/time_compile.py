"""Time the first ``fastgd.train`` call in a fresh interpreter: compiling cold, and loading numba's on-disk cache.

Run: python scripts/time_compile.py [--repeats 3]

The same measurement as asv's ``compile`` benchmarks (``asv_bench/benchmarks/compile.py``), without asv:
each run is a new Python process that imports fastgd, makes 1,000 rows of data (1-D, or 8 float64
features) and times one two-iteration ``fastgd.train`` call. "cold" points ``NUMBA_CACHE_DIR`` at a
new empty directory, so everything compiles; "cached" uses numba's usual cache, filled by the first run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

_PROGRAM = """
import time, warnings
import numpy as np
import fastgd
warnings.simplefilter("ignore", fastgd.ConvergenceWarning)  # two iterations are the point, not convergence
X = {data}
y = np.ones(1000)
start = time.perf_counter()
fastgd.train(X, y, lr=0.4, iterations=2)
print(time.perf_counter() - start)
"""
_DATA = {"1-D": "np.linspace(-1.0, 1.0, 1000)", "2-D": "np.random.default_rng(0).standard_normal((1000, 8))"}


def first_call_seconds(layout: str, cache_dir: str | None) -> float:
    environment = dict(os.environ)
    if cache_dir is not None:
        environment["NUMBA_CACHE_DIR"] = cache_dir
    program = _PROGRAM.format(data=_DATA[layout])
    completed = subprocess.run(
        [sys.executable, "-c", program], env=environment, capture_output=True, text=True, check=True
    )
    return float(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for layout in _DATA:
        first_call_seconds(layout, None)  # fill numba's usual cache for the "cached" runs
        for label in ("cold", "cached"):
            times = []
            for _ in range(args.repeats):
                cache_dir = tempfile.mkdtemp(prefix="fastgd-cold-cache-") if label == "cold" else None
                try:
                    times.append(first_call_seconds(layout, cache_dir))
                finally:
                    if cache_dir is not None:
                        shutil.rmtree(cache_dir, ignore_errors=True)
            print(
                f"{layout} X, {label:>6}: median {statistics.median(times):.2f} s "
                f"(min {min(times):.2f}, max {max(times):.2f}, {args.repeats} runs)"
            )


if __name__ == "__main__":
    main()
