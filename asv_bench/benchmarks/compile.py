"""Compilation: the first ``fastgd.train`` call in a fresh interpreter, per kind of data.

asv's ``timeraw_`` benchmarks run their code in a new Python process. The
setup code (untimed) imports numpy and fastgd and makes the data of one
variant of ``fastgd.benchmarking.COMPILE_VARIANTS`` (C or Fortran order,
weights, float32, one feature, the data-pass or statistics solver, serial
or parallel sizes); the timed statement is its first
``fastgd.train(..., iterations=5)``, which compiles (or loads) what that
kind of data needs.

* cold: ``NUMBA_CACHE_DIR`` points at a fresh empty directory, so everything
  compiles from scratch (and is written to that cache) — a user's first run;
* cached: numba's usual cache location, filled beforehand by ``setup`` — every
  later run.

``scripts/time_compile.py`` measures the same, plus the cost of one more
variant after the default one, without asv.
"""

from __future__ import annotations

import subprocess
import sys

from fastgd.benchmarking import first_call_code

from ._parameters import COMPILE_VARIANTS

_COLD_CACHE = """
import atexit, os, shutil, tempfile
cache_dir = tempfile.mkdtemp(prefix="fastgd-cold-numba-cache-")
atexit.register(shutil.rmtree, cache_dir, True)
os.environ["NUMBA_CACHE_DIR"] = cache_dir  # read by numba when it is imported, just below
"""


class _Compile:
    params = (COMPILE_VARIANTS,)
    param_names = ("variant",)
    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0.0
    timeout = 300


class CompileCold(_Compile):
    """Seconds for the first training call in a new process, compiling everything it needs."""

    def timeraw_first_train(self, variant):
        setup, statement = first_call_code(variant)
        return statement, _COLD_CACHE + setup


class CompileFromCache(_Compile):
    """Seconds for the first training call in a new process, loading from numba's on-disk cache."""

    def setup(self, variant):
        # Fill numba's usual cache for this variant, so the timed process loads, never compiles.
        setup, statement = first_call_code(variant)
        subprocess.run([sys.executable, "-c", setup + statement], check=True, capture_output=True)

    def timeraw_first_train(self, variant):
        setup, statement = first_call_code(variant)
        return statement, setup
