"""Time fastgd's first call in a fresh interpreter: compiling cold, compiling one more variant, and from the cache.

Run: python scripts/time_compile.py [--repeats 3] [--only NAME[,NAME...]]

Each measurement is a new Python process that imports fastgd, makes the
data of one variant and times its first training call (5 iterations):

* cold: ``NUMBA_CACHE_DIR`` is a new empty folder, so everything that call
  needs compiles, as on a user's first run;
* more: the cache already holds the default variant (``C``, the first row),
  so only what this variant adds compiles: the "every other variant" cost;
* cached: the cache holds this variant, so the call only loads machine code.

The variants (``fastgd.benchmarking.COMPILE_VARIANTS``) are what real data
brings; the same measurement runs in asv (``asv_bench/benchmarks/compile.py``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

from fastgd.benchmarking import COMPILE_VARIANTS, first_call_code

DEFAULT_VARIANT = "C"
_PROGRAM = """{setup}
import time
start = time.perf_counter()
{statement}
print(time.perf_counter() - start)
"""


def first_call_seconds(variant: str, cache_dir: str) -> float:
    """Seconds of the first training call of ``variant`` in a fresh process caching in ``cache_dir``."""
    setup, statement = first_call_code(variant)
    environment = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    completed = subprocess.run(
        [sys.executable, "-c", _PROGRAM.format(setup=setup, statement=statement)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(completed.stdout.strip().splitlines()[-1])


def measure(variant: str) -> dict[str, float]:
    """One cold, one incremental ("more") and one cached measurement of ``variant``."""
    times = {}
    with tempfile.TemporaryDirectory(prefix="fastgd-compile-") as cache_dir:
        times["cold"] = first_call_seconds(variant, cache_dir)
        times["cached"] = first_call_seconds(variant, cache_dir)
    with tempfile.TemporaryDirectory(prefix="fastgd-compile-") as cache_dir:
        first_call_seconds(DEFAULT_VARIANT, cache_dir)
        times["more"] = first_call_seconds(variant, cache_dir) if variant != DEFAULT_VARIANT else 0.0
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="variants to run, separated by commas (default: all)")
    args = parser.parse_args()
    names = [name.strip() for name in args.only.split(",")] if args.only else list(COMPILE_VARIANTS)
    unknown = [name for name in names if name not in COMPILE_VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; known: {', '.join(COMPILE_VARIANTS)}")
    print(f"{'variant':<14} {'cold s':>8} {'more s':>8} {'cached s':>9}   (medians of {args.repeats})")
    for name in names:
        runs = [measure(name) for _ in range(args.repeats)]
        medians = {key: statistics.median(run[key] for run in runs) for key in ("cold", "more", "cached")}
        print(f"{name:<14} {medians['cold']:>8.2f} {medians['more']:>8.2f} {medians['cached']:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
