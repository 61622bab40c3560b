"""Run every asv benchmark once, at tiny sizes, so the suite cannot rot.

The suite in ``asv_bench/benchmarks`` is imported the way asv imports it, with
``FASTGD_BENCH_SIZES=tiny``. For every benchmark and every parameter
combination this calls what asv calls: ``setup_cache`` (once), ``setup``, the
benchmark, ``teardown``. ``timeraw_`` code runs in a fresh interpreter through
``timeit``, as asv runs it. A real ``asv run --quick`` smoke run is in CI
(``.github/workflows/benchmarks.yml``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import itertools
import json
import math
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from fastgd import benchmarking

REPO = Path(__file__).resolve().parents[1]
SUITE_DIR = REPO / "asv_bench" / "benchmarks"
SUITE_NAME = "fastgd_asv_benchmarks"  # a unique name: "benchmarks" is too common to import as is
BENCHMARK_PREFIXES = ("time_", "timeraw_", "peakmem_", "mem_", "track_")


def _load_suite_at_tiny_sizes() -> list:
    """Import the suite's benchmark modules with FASTGD_BENCH_SIZES=tiny (parameters are fixed at import)."""
    forced = {"FASTGD_BENCH_SIZES": "tiny", "FASTGD_BENCH_THREADS": "1,all"}
    previous = {key: os.environ.get(key) for key in forced}
    os.environ.update(forced)
    try:
        spec = importlib.util.spec_from_file_location(
            SUITE_NAME, SUITE_DIR / "__init__.py", submodule_search_locations=[str(SUITE_DIR)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[SUITE_NAME] = package
        spec.loader.exec_module(package)
        return [
            importlib.import_module(f"{SUITE_NAME}.{info.name}")
            for info in pkgutil.iter_modules([str(SUITE_DIR)])
            if not info.name.startswith("_")
        ]
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


MODULES = _load_suite_at_tiny_sizes()
PARAMETERS = sys.modules[f"{SUITE_NAME}._parameters"]


def _benchmarks() -> list[tuple[str, object, str]]:
    """(id, owner, method name) for every benchmark: owner is a class or, for a function, its module."""
    found = []
    for module in MODULES:
        short = module.__name__.rsplit(".", 1)[1]
        for name, value in vars(module).items():
            if name.startswith("_"):
                continue
            if (
                inspect.isfunction(value)
                and name.startswith(BENCHMARK_PREFIXES)
                and value.__module__ == module.__name__
            ):
                found.append((f"{short}.{name}", module, name))
            elif inspect.isclass(value) and value.__module__ == module.__name__:
                for method in dir(value):
                    if method.startswith(BENCHMARK_PREFIXES):
                        found.append((f"{short}.{name}.{method}", value, method))
    return found


# The compile benchmarks last: by then the in-process benchmarks have filled
# numba's on-disk cache, so priming it for the "from cache" case only loads.
BENCHMARKS = sorted(_benchmarks(), key=lambda benchmark: benchmark[0].startswith("compile."))


def _run_timeraw(code: str | tuple[str, str]) -> float:
    """Run timeraw code as asv does: ``timeit(stmt, setup, number=1)`` in a new interpreter."""
    statement, setup = code if isinstance(code, tuple) else (code, "")
    program = f"import timeit\nprint(repr(timeit.timeit(stmt={statement!r}, setup={setup!r}, number=1)))"
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    return float(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def dataset_directory(tmp_path_factory):
    """What asv's shared ``setup_cache`` returns: the directory it runs in (here a fresh temporary one)."""
    directory = tmp_path_factory.mktemp("asv-cache")
    previous = Path.cwd()
    os.chdir(directory)
    try:
        return PARAMETERS.DatasetBenchmark().setup_cache()
    finally:
        os.chdir(previous)


def _missing_peer(skip: NotImplementedError) -> str:
    """The optional peer module ``skip`` names, checked not to import; re-raises any other skip."""
    module, _, rest = str(skip).partition(" ")
    if rest != "is not installed":
        raise skip
    with pytest.raises(ImportError):
        importlib.import_module(module)
    return module


def _run_every_combination(owner, method_name: str, dataset_directory: str, missing: set | None = None) -> list:
    """Call setup, the benchmark and teardown once per parameter combination; return the results.

    Peers that are not installed go into ``missing`` (when given) instead of failing the run.
    """
    if inspect.ismodule(owner):
        return [getattr(owner, method_name)()]
    combinations = list(itertools.product(*owner.params)) if getattr(owner, "params", None) else [()]
    results = []
    for combination in combinations:
        instance = owner()
        leading = (dataset_directory,) if hasattr(instance, "setup_cache") else ()
        arguments = (*leading, *combination)
        if hasattr(instance, "setup"):
            try:
                instance.setup(*arguments)  # a skip (NotImplementedError) at tiny sizes is a failure...
            except NotImplementedError as skip:
                peer = _missing_peer(skip)  # ...except for a peer that is really not installed
                if missing is None:
                    raise
                missing.add(peer)
                continue
        try:
            result = getattr(instance, method_name)(*arguments)
            if method_name.startswith("timeraw_"):
                result = _run_timeraw(result)
            results.append(result)
        finally:
            if hasattr(instance, "teardown"):
                instance.teardown(*arguments)
    return results


def test_the_suite_has_every_kind_of_benchmark():
    names = {benchmark_id for benchmark_id, _, _ in BENCHMARKS}
    expected = {
        "epoch.Epoch.time_epoch",
        "epoch.KernelSpeedup.track_speedup_over_reference",
        "predict.Predict.time_predict",
        "training.Training.time_train_100_iterations",
        "memory.TrainingPeakMemory.peakmem_train",
        "memory.TrainingExtraMemory.track_extra_memory_per_data_byte",
        "compile.CompileCold.timeraw_first_train",
        "compile.CompileFromCache.timeraw_first_train",
        "roofline.Roofline.time_read_once",
        "roofline.Roofline.track_epoch_fraction_of_read_once",
        "environment.Threading.track_threading_layer_in_use",
        "environment.track_numba_thread_pool",
        "convergence.TimeToOptimum.time_to_optimum",
        "convergence.PassesToOptimum.track_passes",
        "peers.JaxIterations.time_jax_iterations",
        "penalties.RegularisationPath.time_path",
        "penalties.TrainStream.time_train",
    }
    assert names == expected


# Peers that start their own thread pools run in a child interpreter, as asv runs
# every benchmark: JAX warns at each later os.fork (the pseudo-terminal tests fork),
# and warnings are errors in this suite.
OWN_PROCESS_MODULES = {"peers"}
CHILD_FLAG = "FASTGD_ASV_TEST_CHILD"


def _run_in_child_process(benchmark_id: str) -> None:
    """Run this test for ``benchmark_id`` alone in a fresh pytest; skip where the child skipped (a missing peer)."""
    node = f"tests/{Path(__file__).name}::test_benchmark_runs_for_every_parameter_combination[{benchmark_id}]"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", node],
        cwd=REPO,
        env={**os.environ, CHILD_FLAG: "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode == 0 and "1 skipped" in completed.stdout:
        pytest.skip(next(line for line in completed.stdout.splitlines() if line.startswith("SKIPPED")))
    assert completed.returncode == 0 and "1 passed" in completed.stdout, completed.stdout + completed.stderr


@pytest.mark.parametrize(("owner", "method_name"), [b[1:] for b in BENCHMARKS], ids=[b[0] for b in BENCHMARKS])
def test_benchmark_runs_for_every_parameter_combination(owner, method_name, dataset_directory, request):
    benchmark_id = request.node.callspec.id
    if benchmark_id.split(".", 1)[0] in OWN_PROCESS_MODULES and not os.environ.get(CHILD_FLAG):
        _run_in_child_process(benchmark_id)
        return
    missing: set[str] = set()
    results = _run_every_combination(owner, method_name, dataset_directory, missing)
    if not results and missing:
        pytest.skip(f"needs {', '.join(sorted(missing))} (the fastgd[compare] extra), not installed here")
    assert results
    if method_name.startswith(("track_", "timeraw_")):
        assert all(isinstance(value, (int, float)) and math.isfinite(value) and value >= 0 for value in results), (
            results
        )
    if method_name.startswith("timeraw_"):
        assert all(value > 0 for value in results)


def test_tiny_sizes_replace_the_full_grid():
    assert (PARAMETERS.ROWS, PARAMETERS.FEATURES) == ((20_000,), (1, 8))
    assert PARAMETERS.ROWS == benchmarking.ROWS["tiny"] and PARAMETERS.FEATURES == benchmarking.TINY_FEATURES
    assert PARAMETERS.THREADS == ("1", "all")


def test_exactly_one_threading_layer_is_reported_in_use():
    threading = sys.modules[f"{SUITE_NAME}.environment"].Threading
    values = _run_every_combination(threading, "track_threading_layer_in_use", "")
    assert sorted(values) == [0.0, 0.0, 1.0]


def test_oversized_combinations_are_skipped_before_any_data_is_made(tmp_path):
    epoch = sys.modules[f"{SUITE_NAME}.epoch"].Epoch()
    training = sys.modules[f"{SUITE_NAME}.training"].Training()
    with pytest.raises(NotImplementedError, match="epoch"):
        epoch.setup(str(tmp_path), 10_000_000, 64, "float64", "numba", "1")
    with pytest.raises(NotImplementedError, match="training"):
        training.setup(str(tmp_path), 10_000_000, 8, "float32", "numpy", "1")
    assert list(tmp_path.iterdir()) == []
    # The largest combinations that do run are within the limits.
    PARAMETERS.skip_if_larger(10_000_000, 8, PARAMETERS.MAX_ELEMENTS, "epoch")
    PARAMETERS.skip_if_larger(10_000_000, 1, PARAMETERS.TRAINING_MAX_ELEMENTS, "training")


def test_datasets_are_fixed_by_their_parameters(tmp_path):
    workload = benchmarking
    X, y = workload.load_dataset(tmp_path, 1000, 8, "float32")
    X_again, y_again = workload.generate_data(1000, 8, "float32")
    assert X.shape == (1000, 8) and X.dtype == y.dtype == "float32"
    assert (X == X_again).all() and (y == y_again).all()
    x_one, _ = workload.generate_data(1000, 1, "float64")
    assert x_one.shape == (1000,)


def test_bench_epoch_script_prints_a_markdown_row(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_epoch.py"), "--rows", "20000", "--features", "8",
         "--dtype", "float32", "--threads", "1", "--repeats", "3", "--json", str(tmp_path / "row.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    table_lines = [line for line in completed.stdout.splitlines() if line.startswith("|")]
    assert len(table_lines) == 3  # header, separator, the row
    assert table_lines[0].count("|") == table_lines[2].count("|")
    record = json.loads((tmp_path / "row.json").read_text())
    assert record["rows"] == 20000 and record["features"] == 8 and record["numba_threads"] == 1
    assert record["numba"]["epoch"]["median"] > 0 and record["numpy"]["epoch"]["median"] > 0
    assert record["numba_memory"]["extra_bytes"] >= 0


def test_more_threads_than_numbas_pool_is_skipped_not_mislabelled():
    import numba

    workload = benchmarking
    with pytest.raises(NotImplementedError, match="pool"):
        workload.ThreadSetting(str(numba.config.NUMBA_NUM_THREADS + 1))
    setting = workload.ThreadSetting("1")
    try:
        assert numba.get_num_threads() == 1
    finally:
        setting.restore()
