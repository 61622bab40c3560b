"""asv benchmarks for fastgd, one module per kind of measurement.

* ``epoch``: one epoch (loss and both gradients) per backend, and the
  kernel-vs-reference speed-up measured in separate processes;
* ``predict``: ``fastgd.predict``;
* ``training``: ``fastgd.train`` for 100 iterations;
* ``memory``: peak memory of training, and the memory it adds per byte of data;
* ``compile``: the first training call in a fresh interpreter, cold and from
  numba's on-disk cache;
* ``roofline``: the read-once kernel, and the fused epoch as a fraction of it;
* ``environment``: numba's threading layer and thread-pool size.

Parameters, the skipped (too large) combinations and the environment switches
(``FASTGD_BENCH_SIZES=tiny``, ``FASTGD_BENCH_THREADS``) are in ``_parameters``;
the data, timing loops and worker processes in ``fastgd.benchmarking``. Data sets are
generated once per run with a fixed seed; compilation always happens in
``setup``, never inside a timing.
"""
