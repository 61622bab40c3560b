"""numba's on-disk cache: a second process loads the compiled code instead of compiling, and it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, time
    start = time.perf_counter()
    import numpy as np, fastgd
    from fastgd.loop import descent_loop_compiled, evaluate_compiled
    rng = np.random.default_rng(0)
    # Large enough for the parallel path: loading cached code that calls a parallel kernel must work.
    X = rng.standard_normal((200_000, 4)); y = X @ [1.0, 2.0, 3.0, 4.0] + 0.5
    loss, grad_w, grad_b = fastgd.loss_and_gradients(X, y, np.zeros(4), 0.0)
    result = fastgd.train(X, y, lr=0.4, iterations=30)
    seconds = time.perf_counter() - start
    stats = [descent_loop_compiled.stats, evaluate_compiled.stats]
    print(json.dumps({
        "hits": sum(sum(s.cache_hits.values()) for s in stats),
        "misses": sum(sum(s.cache_misses.values()) for s in stats),
        "loss": loss, "w": list(result.w), "seconds": seconds,
    }))
    """
)


def run_fresh_interpreter(cache_dir) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    completed = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, f"exit {completed.returncode}: {completed.stderr[-2000:]}"
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_second_process_loads_compiled_code_from_the_cache_and_runs_it(tmp_path):
    first = run_fresh_interpreter(tmp_path)
    second = run_fresh_interpreter(tmp_path)
    assert first["misses"] > 0 and first["hits"] == 0
    assert second["hits"] > 0 and second["misses"] == 0
    assert second["loss"] == first["loss"] and second["w"] == first["w"]
