"""Make numba's on-disk cache notice edits anywhere in fastgd.

numba stamps each cached function with a hash of its own source file only.
The compiled training loop (``loop.py``) links in kernels from
``kernels.py``; after an edit to the kernels alone, numba would load the
stale loop, whose machine code calls into a kernel that no longer matches,
and the process can crash. The locators below stamp fastgd's cache entries
with a hash of all of fastgd's compiled modules instead. Users of a released
version never edit it, so for them this changes nothing; for developers it
turns a segfault into a recompile.

This relies on numba's cache-locator classes (public names since numba 0.59,
``numba.core.caching.*CacheLocator``). If they are missing, numba's default
behaviour applies.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


# The modules that define compiled functions or the constants frozen into them.
COMPILED_MODULES = ("_cache.py", "_config.py", "kernels.py", "loop.py")


@functools.lru_cache(maxsize=1)
def package_source_digest() -> str:
    """sha256 over the package's compiled modules, in name order."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR / name for name in COMPILED_MODULES):
        digest.update(path.relative_to(_PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _in_package(py_file: str) -> bool:
    try:
        return Path(py_file).resolve().is_relative_to(_PACKAGE_DIR)
    except (OSError, ValueError):
        return False


def _stamped(base: type) -> type:
    class PackageStampedLocator(base):
        def get_source_stamp(self):
            return (super().get_source_stamp(), package_source_digest())

        @classmethod
        def from_function(cls, py_func, py_file):
            if not _in_package(py_file):
                return None
            return super().from_function(py_func, py_file)

    PackageStampedLocator.__name__ = PackageStampedLocator.__qualname__ = f"Fastgd{base.__name__}"
    return PackageStampedLocator


def install() -> None:
    """Put package-stamped locators ahead of numba's own (idempotent)."""
    try:
        from numba.core import caching

        bases = [caching.UserProvidedCacheLocator, caching.InTreeCacheLocator, caching.UserWideCacheLocator]
        registry = caching.CacheImpl._locator_classes
    except AttributeError:  # an older or newer numba without these names: keep its defaults
        return
    if any(getattr(cls, "_fastgd", False) for cls in registry):
        return
    # Hash now, as the modules are being imported: a digest taken later could
    # describe files edited since, and stamp old code with a new source's hash.
    package_source_digest()
    locators = [_stamped(base) for base in bases]
    for locator in locators:
        locator._fastgd = True
    registry[0:0] = locators


if os.environ.get("FASTGD_DEFAULT_NUMBA_CACHE") != "1":
    install()
