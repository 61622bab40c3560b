"""How close each entry point's defaults get to ordinary least squares, on real and realistic data.

For every data set of ``fastgd.datasets`` (Longley, stack loss, scikit-learn's diabetes data scaled
and raw, and data built to mimic real trouble), fits with the defaults of ``GDRegressor()``, ``fastgd fit``
(the same options through ``fastgd.train``) and ``fastgd.train(iterations=1000)`` and prints, as Markdown,
each fit's largest standardised coefficient error ``|w_j - w*_j| * std(x_j) / std(y)`` and relative loss
gap to ``numpy.linalg.lstsq`` (on standardised columns), fastgd's own error estimate, whether it warned,
its iterations and its time (median of ``--repeats`` runs, compile excluded).

Run:  python scripts/right_answers.py [--repeats 5]
Needs scikit-learn (the diabetes data and the estimator).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

import fastgd
from fastgd.datasets import all_cases
from fastgd.estimator import GDRegressor


def estimator(case):
    model = GDRegressor().fit(case.X, case.y, sample_weight=case.sample_weight)
    return model.coef_, model.intercept_, model.coef_error_, model.n_iter_


def command_line_defaults(case):
    # What `fastgd fit` passes to fastgd.train with its defaults (see fastgd.cli).
    result = fastgd.train(case.X, case.y, iterations=1000, method="cg", solver="auto", tol=1e-8)
    return result.w, result.b, result.coef_error, result.n_iter


def train_defaults(case):
    result = fastgd.train(case.X, case.y, iterations=1000, sample_weight=case.sample_weight)
    return result.w, result.b, result.coef_error, result.n_iter


ENTRY_POINTS = {
    "GDRegressor()": estimator,
    "fastgd fit": command_line_defaults,
    "train(iterations=1000)": train_defaults,
}


def measure(case, fit, repeats):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(case)  # compile, or load numba's cache
    times = []
    for _ in range(repeats):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            started = time.perf_counter()
            w, b, estimate, n_iter = fit(case)
            times.append(time.perf_counter() - started)
    warned = any("Convergence" in type(warning.message).__name__ for warning in caught)
    return case.standardised_error(w, b), case.relative_loss_gap(w, b), estimate, warned, n_iter, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(
        "| data set | n × d | cond [X 1] | entry point | coefficient error | loss gap | estimate | warned | iterations | ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for case in all_cases():
        condition = np.linalg.cond(np.column_stack([case.X, np.ones(len(case.y))]))
        for name, fit in ENTRY_POINTS.items():
            if name == "fastgd fit" and case.sample_weight is not None:
                continue  # the command line takes no weights
            error, gap, estimate, warned, n_iter, times = measure(case, fit, args.repeats)
            print(
                f"| {case.name} | {case.X.shape[0]:,} × {case.X.shape[1]} | {condition:.1e} | {name} | {error:.1e} "
                f"| {gap:.1e} | {estimate:.1e} | {'yes' if warned else 'no'} | {n_iter} "
                f"| {statistics.median(times) * 1e3:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
