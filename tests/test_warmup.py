"""Compiling ahead of time (``fastgd compile``, fastgd.warmup) and the command line's note when it compiles."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from fastgd import warmup
from fastgd._config import parallel_for

COUNT_COMPILES = """
import warnings
import fastgd
from fastgd._jit import watch_compiling
from fastgd.warmup import variants
compiles = []
warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
with watch_compiling(lambda: None, compiles.append):
    for variant in variants(["float64"], ["1-D"]):
        X, y, weights = variant.data()
        for solver in ("data", "gram"):
            fastgd.train(X, y, sample_weight=weights, iterations=5, solver=solver, progress=False)
        fastgd.predict(X, 2.0, 1.0)
        fastgd.train(X, y, sample_weight=weights, iterations=5, method="cg", progress=False)
print("compilations:", len(compiles))
"""


def test_variants_cover_every_dtype_layout_weighting_and_size():
    every = warmup.variants()
    assert len(every) == 3 * len(warmup.LAYOUTS) * 2 * 2  # float64; float32 with either target dtype
    assert len(set(every)) == len(every)
    for variant in every:
        X, y, weights = variant.data()
        assert X.dtype == variant.dtype and y.dtype == variant.target_dtype
        assert (weights is not None) == variant.weighted
        assert (parallel_for(X.size) is True) == variant.large  # the large ones run the parallel kernels
        layout_holds = {
            "C": X.ndim == 2 and X.flags.c_contiguous,
            "F": X.ndim == 2 and X.flags.f_contiguous and not X.flags.c_contiguous,
            "1-D": X.ndim == 1,
            "strided": X.ndim == 2 and not (X.flags.c_contiguous or X.flags.f_contiguous),
        }[variant.layout]
        assert layout_holds, variant
    with pytest.raises(ValueError, match="layouts must be among"):
        warmup.variants(layouts=["K"])


def test_fastgd_compile_fills_the_cache_so_a_new_process_compiles_nothing():
    completed = subprocess.run(
        [sys.executable, "-m", "fastgd", "compile", "--dtype", "float64", "--layout", "1-D"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "compiled or loaded 4 variants" in completed.stdout
    assert completed.stderr.count("float64 1-D") == 4
    counted = subprocess.run([sys.executable, "-c", COUNT_COMPILES], capture_output=True, text=True, timeout=900)
    assert counted.returncode == 0, counted.stderr
    assert "compilations: 0" in counted.stdout, counted.stdout


def test_the_cli_says_once_that_it_compiles_and_not_when_the_cache_has_it(tmp_path):
    rng = np.random.default_rng(2)
    table = rng.standard_normal((200, 3))
    np.savetxt(tmp_path / "small.csv", table, delimiter=",", header="a,b,y", comments="")
    command = [sys.executable, "-m", "fastgd", "fit", str(tmp_path / "small.csv"), "--target", "y"]
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}  # an empty cache: a first run
    first = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=900)
    assert first.returncode == 0, first.stderr
    note = "compiling kernels for float64 C-order data (first run only)..."
    assert first.stderr.count(note) == 1, first.stderr
    again = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=900)
    assert again.returncode == 0 and "compiling" not in again.stderr, again.stderr
    assert again.stdout == first.stdout.replace(_training_time(first.stdout), _training_time(again.stdout))


def _training_time(summary: str) -> str:
    return next(line for line in summary.splitlines() if line.startswith("training time"))
