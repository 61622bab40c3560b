"""Cost of the progress bar: 20,000 iterations on 30 rows with and without it (tqdm drawing to /dev/null).

Run: python scripts/time_progress_overhead.py [repeats]
Prints the median, min and max over the repeats for each case, interleaved so load affects all alike.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings

import numpy as np

import fastgd
from fastgd.progress import ProgressBar, choose_callback_every

ITERATIONS = 20_000


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    x = np.linspace(0.0, 1.0, 30)
    y = 3.0 * x + 2.0
    with warnings.catch_warnings():  # a 2-iteration warm-up is far from converged, on purpose
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fastgd.train(x, y, lr=0.5, iterations=2)  # compile or load from the cache
    sink = open(os.devnull, "w")

    def with_bar(every: int):
        def run() -> None:
            with ProgressBar(ITERATIONS, enabled=True, file=sink) as bar:
                fastgd.train(x, y, lr=0.5, iterations=ITERATIONS, callback=bar, callback_every=every)

        return run

    chosen = choose_callback_every(ITERATIONS, x.size)
    cases = {
        "no bar": lambda: fastgd.train(x, y, lr=0.5, iterations=ITERATIONS),
        f"bar, every {chosen} (choose_callback_every)": with_bar(chosen),
        "bar, every iteration": with_bar(1),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(
            f"{name:<42} median {statistics.median(values) * 1e3:7.2f} ms "
            f"(min {min(values) * 1e3:.2f}, max {max(values) * 1e3:.2f}, {len(values)} runs)"
        )


if __name__ == "__main__":
    main()
