"""numba's on-disk cache: a second process loads the compiled code instead of compiling, and it runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, time
    start = time.perf_counter()
    import numpy as np, fastgd
    from fastgd.kernels import fused_epoch_parallel
    from fastgd.loop import descent_loop_dispatcher
    rng = np.random.default_rng(0)
    # Large enough for the parallel path: loading cached code that calls a parallel kernel must work.
    X = rng.standard_normal((200_000, 4)); y = X @ [1.0, 2.0, 3.0, 4.0] + 0.5
    loss, grad_w, grad_b = fastgd.loss_and_gradients(X, y, np.zeros(4), 0.0)
    result = fastgd.train(X, y, lr=0.4, iterations=30)
    seconds = time.perf_counter() - start
    stats = [descent_loop_dispatcher.stats, fused_epoch_parallel.stats]
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


def test_a_read_only_install_without_a_home_trains_with_one_warning(tmp_path):
    # Where numba could cache nothing (the package's __pycache__ and the home folder unusable: here they are
    # files where folders should be, which stops root too), fastgd compiles without a cache and says so once.
    import shutil

    import fastgd

    package = tmp_path / "site" / "fastgd"
    shutil.copytree(os.path.dirname(fastgd.__file__), package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__pycache__").write_text("not a folder")
    home = tmp_path / "home"
    home.write_text("not a folder either")
    env = {key: value for key, value in os.environ.items() if key not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), PYTHONPATH=str(package.parent))
    script = (
        "import warnings, numpy as np\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import fastgd\n"
        "    result = fastgd.train(np.arange(50.0), 2 * np.arange(50.0) + 1, iterations=50, method='cg')\n"
        "print(fastgd.__file__, result.converged, round(result.w, 9), [str(w.message) for w in caught])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    location, converged, w, *rest = completed.stdout.split(" ", 3)
    assert location.startswith(str(package)) and converged == "True" and w == "2.0"
    assert rest[0].count("no writable folder for numba's cache") == 1


POINTER_SCRIPT = textwrap.dedent(
    """
    import json, re
    import numba, numpy as np, fastgd
    from fastgd import kernels, loop
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 3))
    fastgd.train(X, X @ [1.0, 2.0, 3.0], iterations=40, method="cg", solver="data")
    found = {"first_arguments": [], "loop": [], "epoch": []}
    for signature in loop.descent_loop_dispatcher.overloads:
        found["first_arguments"].append(type(signature[0]).__name__)
        found["loop"] += re.findall(r'^define [^@]*@"?([\\w.$]+)', loop.descent_loop_dispatcher.inspect_llvm(signature), re.M)
    for signature in kernels.fused_epoch_serial.overloads:
        found["epoch"] += re.findall(r'^define [^@]*@"?([\\w.$]+)', kernels.fused_epoch_serial.inspect_llvm(signature), re.M)
    print(json.dumps(found))
    """
)


def test_the_compiled_loop_calls_its_epoch_through_a_pointer_and_holds_none_of_the_kernels_code(tmp_path):
    # numba links every function a compiled function calls by name into it and compiles it again; the loop
    # receives its epochs as function pointers so that the row kernels compile once (docs/architecture.md).
    # numba inspects only code it compiled in the same process: an empty cache, in a fresh one, compiling
    # even where this suite runs with NUMBA_DISABLE_JIT=1.
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_DISABLE_JIT"}
    env["NUMBA_CACHE_DIR"] = str(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-c", POINTER_SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert found["first_arguments"] and set(found["first_arguments"]) == {"FunctionType"}
    assert any("descent_loop" in name for name in found["loop"])
    assert not [name for name in found["loop"] if "chunk_sums" in name or "fused_epoch" in name], found["loop"]
    assert any("chunk_sums" in name for name in found["epoch"])  # the search finds the kernel where it is


KINDS_SCRIPT = textwrap.dedent(
    """
    import json, re, warnings
    import numpy as np, fastgd
    from fastgd import loop
    warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200, 3)); y = X @ [1.0, 2.0, 3.0] + 0.5
    kinds = [(X, {}), (X, {"sample_weight": np.ones(200)}), (np.asfortranarray(X), {}), (X.astype(np.float32), {}),
             (X[:, 0].copy(), {}), (X, {"solver": "gram", "method": "cg"}), (X, {"method": "cg", "solver": "data"})]
    for data, options in kinds:
        fastgd.train(data, y, iterations=20, **options)
    defined = []
    for dispatcher in [*loop._LOOP_DRIVERS.values(), *loop._ERASED_EPOCHS.values()]:
        for signature in dispatcher.overloads:
            defined += re.findall(r'^define [^@]*@"?([\\w.$]+)', dispatcher.inspect_llvm(signature), re.M)
    print(json.dumps({"loops": len(loop.descent_loop_dispatcher.overloads),
                      "drivers": sum(len(driver.overloads) for driver in loop._LOOP_DRIVERS.values()),
                      "erased": len(loop._ERASED_EPOCHS), "defined": defined}))
    """
)


def test_the_loop_compiles_once_for_every_kind_of_data(tmp_path):
    # The loop reaches the data through an erased epoch of one signature (fastgd.loop), so C and Fortran order,
    # weights, float32, one feature and statistics share one compiled loop; each kind adds its epoch, a driver and
    # an erased epoch, and neither of those holds the loop's or the kernels' code.
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_DISABLE_JIT"}
    env["NUMBA_CACHE_DIR"] = str(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-c", KINDS_SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert found["loops"] == 1
    assert found["drivers"] == found["erased"] == 6  # cg on the data is the first kind's again
    leaked = [name for name in found["defined"] if re.search("descent_loop|chunk_sums|fused_epoch|gram_loss", name)]
    assert not leaked, leaked
