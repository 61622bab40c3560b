"""Compilation options and tuning constants, kept in one place.

Every compiled function in fastgd takes its options from here (through
:func:`fastgd._jit.jit`), so a reviewer can see at a glance what the compiler
is allowed to do.
"""

from __future__ import annotations

# Only flags that keep NaN/inf semantics. ``reassoc`` lets LLVM split a
# floating-point reduction into several vector accumulators (without it a sum
# runs at one add per 4 cycles); ``contract`` allows fused multiply-adds.
# ``nnan``/``ninf`` are deliberately absent: with them a NaN loss could be
# optimised away and divergence would go unnoticed.
FASTMATH_FLAGS: frozenset[str] = frozenset({"reassoc", "contract"})

# ``cache=True`` writes compiled machine code next to the sources, so a second
# process loads it instead of compiling again.
JIT_OPTIONS: dict = {"cache": True, "nogil": True, "fastmath": set(FASTMATH_FLAGS)}

# Overload implementations are compiled into their (cached) callers; caching
# them on their own would only add cache entries that never hit.
OVERLOAD_OPTIONS: dict = {key: value for key, value in JIT_OPTIONS.items() if key != "cache"}

# Rows are reduced in chunks of about this many elements (rows x features).
# Chunk boundaries depend only on the data's shape, never on the thread count,
# and chunk partial sums are combined in chunk order: results are
# bit-identical on 1 thread and on 64.
CHUNK_ELEMENTS: int = 1 << 15
MIN_CHUNK_ROWS: int = 64

# The fused kernel for C-ordered 2-D X asks for data this far ahead of the
# row it is on (fastgd.kernels._chunk_sums_2d_contiguous): the best of a scan
# of 1..16 KiB (docs/performance.md, "Tuning constants").
PREFETCH_BYTES: int = 8192
CACHE_LINE_BYTES: int = 64

# Below this many elements (rows x features) one epoch takes a few
# microseconds, less than waking the thread pool costs, so kernels run
# serially. The chunking is the same either way.
PARALLEL_MIN_ELEMENTS: int = 1 << 17

# The statistics pass does about rows x (d + 1)^2 multiply-adds and hands work
# to Python threads (fastgd.kernels.sufficient_statistics), which costs about
# 0.1 ms more than a parallel region: below this much work one thread is
# faster (20,000 x 8: 0.26 ms on one thread, 0.5 ms on two; 100,000 x 8:
# 1.8 against 1.2 ms; 2-core EPYC).
STATISTICS_PARALLEL_MIN_WORK: int = 1 << 22


def parallel_for(n_elements: int) -> bool | None:
    """The ``parallel`` argument of :func:`fastgd.kernels.fused_loss_and_gradients` for data of ``n_elements`` (rows x features).

    ``True`` runs the chunks on numba's threads, ``None`` one after the other:
    below :data:`PARALLEL_MIN_ELEMENTS` waking the threads costs more than the
    epoch. The two are different types, so only the driver in use compiles
    (each takes seconds).
    """
    return True if n_elements >= PARALLEL_MIN_ELEMENTS else None


def chunk_rows_for(n_features: int) -> int:
    """Rows per reduction chunk for data with ``n_features`` columns."""
    return max(MIN_CHUNK_ROWS, CHUNK_ELEMENTS // max(1, n_features))


# The gram solver's pass keeps one (d+1) x (d+1) scatter matrix per chunk, so
# its chunks are larger: at most this many, and their matrices together at
# most GRAM_PARTIALS_BYTES. Inside a chunk, rows go in cache-sized blocks.
GRAM_MAX_CHUNKS: int = 256
GRAM_PARTIALS_BYTES: int = 64 << 20
GRAM_BLOCK_ROWS: int = 256


# From this many features on, the statistics pass multiplies float64 row
# blocks of about GRAM_BLAS_BLOCK_BYTES with numpy's BLAS
# (fastgd.gram._blocked_blas_statistics) instead of the numba kernel, whose
# tiled products (fastgd.kernels._block_scatter) run at a fixed fraction of
# the FMA rate while BLAS's blocking keeps improving with width. Measured on a
# 2-core Xeon (docs/performance.md, "Tuning constants"): the kernel is faster
# at 192 features (204 against 260 ms for 150,000 rows), BLAS at 256.
GRAM_BLAS_MIN_FEATURES: int = 256
GRAM_BLAS_BLOCK_BYTES: int = 32 << 20

# Below this many rows the statistics come from the BLAS blocks too: either
# way the pass takes under a millisecond, and the numba kernel, compiled per
# dtype, layout and weighting, would cost seconds to compile on first use.
GRAM_KERNEL_MIN_ROWS: int = 20_000


def gram_chunk_rows(n_rows: int, n_features: int) -> int:
    """Rows per chunk of the sufficient-statistics pass (a function of the shape only)."""
    p = n_features + 1
    max_chunks = max(1, min(GRAM_MAX_CHUNKS, GRAM_PARTIALS_BYTES // (8 * p * p)))
    return max(GRAM_BLOCK_ROWS, -(-n_rows // max_chunks))


# Up to this many features every solver starts with the sufficient
# statistics (one pass): they give the preconditioner, the exact step size
# and an exact convergence test. Wider data gets its means and spreads from a
# cheaper pass and an estimated error (fastgd.convergence).
STATISTICS_MAX_FEATURES: int = 2048

# solver="auto" uses the statistics solver up to this many features.
GRAM_AUTO_MAX_FEATURES: int = STATISTICS_MAX_FEATURES
