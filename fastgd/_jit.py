"""How fastgd compiles: ``jit``, numba's ``njit`` with fastgd's options and a cache that cannot go stale.

numba keys each cached function on its own source file. fastgd's compiled
loop (``loop.py``) builds in kernels from ``kernels.py``, constants from
``_config.py`` and named tuples from ``types.py``, so after an edit to those
alone numba would load the loop compiled from the old sources. :func:`jit`
compiles every function under a name that carries a digest of those files:
cache entries of other sources have other file names and are never loaded
(old ones are simply left behind in ``__pycache__``). Nothing of numba is
patched; only the functions' names change.

numba caches in ``NUMBA_CACHE_DIR`` when set, else next to the sources, else
in the user's cache folder. Where none is writable (a read-only install, no
home directory) fastgd compiles without a cache and says so once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import types
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numba
from numba.core import event

from ._config import JIT_OPTIONS

_PACKAGE = Path(__file__).resolve().parent

# The modules whose source goes into compiled code (constants are frozen into it). types.py
# too: numba knows a named tuple by its class and field types, not its field names, so code
# cached before two fields of one type swapped places would read each other's.
COMPILED_MODULES = ("_config.py", "kernels.py", "loop.py", "types.py")


def _source_digest() -> str:
    digest = hashlib.sha256()
    for name in COMPILED_MODULES:
        digest.update(name.encode())
        digest.update((_PACKAGE / name).read_bytes())
    return digest.hexdigest()[:12]


SOURCE_DIGEST = _source_digest()


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (made if missing), checked by creating one."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _user_cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "numba"


def cache_available() -> bool:
    """Whether numba has a writable place for fastgd's cache: ``NUMBA_CACHE_DIR``, the package, or the user's cache."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return _writable(Path(os.environ["NUMBA_CACHE_DIR"]))
    return _writable(_PACKAGE / "__pycache__") or _writable(_user_cache_folder())


CACHE = cache_available()
if not CACHE:
    warnings.warn(
        "fastgd: no writable folder for numba's cache (fastgd's own folder, the user's cache folder or "
        "NUMBA_CACHE_DIR), so compiled code is not kept between processes and each one compiles again; set "
        "NUMBA_CACHE_DIR to a writable folder to keep it",
        RuntimeWarning,
        stacklevel=2,
    )
OPTIONS = {**JIT_OPTIONS, "cache": CACHE}


def renamed(function: types.FunctionType, name: str) -> types.FunctionType:
    """``function`` (same code, globals and defaults) under another name."""
    copy = types.FunctionType(function.__code__, function.__globals__, name, function.__defaults__)
    copy.__qualname__ = name
    copy.__doc__ = function.__doc__
    copy.__module__ = function.__module__
    return copy


def jit(function=None, *, parallel: bool = False, name: str | None = None, from_python: bool = True):
    """``numba.njit`` with fastgd's options, under a name stamped with :data:`SOURCE_DIGEST`.

    ``name`` (default: the function's own) lets one source compile twice,
    e.g. serial and ``parallel``. ``from_python=False`` is for a function
    only ever called through a pointer: numba then compiles no wrapper that
    converts Python objects to its arguments (for a loop's settings and
    state, a tenth of its compile time). Usable bare (``@jit``) or with options.
    """

    def decorate(function):
        stamped = renamed(function, f"{name or function.__name__}_{SOURCE_DIGEST}")
        return numba.njit(parallel=parallel, no_cpython_wrapper=not from_python, **OPTIONS)(stamped)

    return decorate if function is None else decorate(function)


class _CompileListener(event.Listener):
    """Calls back at the start and end of each outermost compilation (nested ones are part of it)."""

    def __init__(self, started: Callable[[], None], finished: Callable[[float], None]) -> None:
        self.started, self.finished = started, finished
        self.depth = 0
        self.since = 0.0

    def on_start(self, details: event.Event) -> None:
        self.depth += 1
        if self.depth == 1:
            self.since = time.perf_counter()
            self.started()

    def on_end(self, details: event.Event) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.finished(time.perf_counter() - self.since)


@contextlib.contextmanager
def watch_compiling(started: Callable[[], None], finished: Callable[[float], None]) -> Iterator[None]:
    """Inside the block, call ``started()`` when numba starts compiling and ``finished(seconds)`` when it is done.

    Through numba's event API (``numba:compile`` events), which fire only for
    real compilation, never for a function loaded from the on-disk cache.
    """
    with event.install_listener("numba:compile", _CompileListener(started, finished)):
        yield
