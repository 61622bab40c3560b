"""Compilation: the first ``fastgd.train`` call in a fresh interpreter.

asv's ``timeraw_`` benchmarks run their code in a new Python process. The
setup code (untimed) imports numpy and fastgd and makes 1,000 rows of data;
the timed statement is the first ``fastgd.train(..., iterations=2)``, which
compiles (or loads) the training loop and the fused kernel for that layout.

* cold: ``NUMBA_CACHE_DIR`` points at a fresh empty directory, so everything
  compiles from scratch (and is written to that cache) — a user's first run;
* cached: numba's usual cache location, filled beforehand by ``setup`` — every
  later run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_DATA = {
    "1-D": "X = np.linspace(-1.0, 1.0, 1000)",
    "2-D": "X = np.random.default_rng(0).standard_normal((1000, 8))",
}

_COLD_CACHE = """
import atexit, os, shutil, tempfile
cache_dir = tempfile.mkdtemp(prefix="fastgd-cold-numba-cache-")
atexit.register(shutil.rmtree, cache_dir, True)
os.environ["NUMBA_CACHE_DIR"] = cache_dir  # read by numba when it is imported, just below
"""

_SETUP = """
import warnings
import numpy as np
import fastgd
warnings.simplefilter("ignore", fastgd.ConvergenceWarning)  # two iterations are the point, not convergence
{data}
y = np.ones(1000)
"""

_STATEMENT = "fastgd.train(X, y, lr=0.4, iterations=2)"


def _setup_code(layout: str, cold: bool) -> str:
    return (_COLD_CACHE if cold else "") + _SETUP.format(data=_DATA[layout])


class _Compile:
    params = (tuple(_DATA),)
    param_names = ("X",)
    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0.0
    timeout = 300


class CompileCold(_Compile):
    """Seconds for the first training call in a new process, compiling everything (float64 X)."""

    def timeraw_first_train(self, layout):
        return _STATEMENT, _setup_code(layout, cold=True)


class CompileFromCache(_Compile):
    """Seconds for the first training call in a new process, loading from numba's on-disk cache (float64 X)."""

    def setup(self, layout):
        # Fill numba's usual cache for this layout, so the timed process loads, never compiles.
        code = textwrap.dedent(_setup_code(layout, cold=False)) + "\n" + _STATEMENT
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)

    def timeraw_first_train(self, layout):
        return _STATEMENT, _setup_code(layout, cold=False)
