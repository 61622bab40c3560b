"""fastgd.dask: training on dask arrays matches in-memory training, on every Dask scheduler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import fastgd
from fastgd import gram, stepsize

da = pytest.importorskip("dask.array", reason="fastgd.dask needs the optional dask[array] extra")
distributed = pytest.importorskip("distributed", reason="these tests run on a dask.distributed LocalCluster")
fastgd_dask = pytest.importorskip("fastgd.dask")

RTOL = 1e-10
# Uneven row blocks, so no block boundary lines up with the kernels' reduction chunks.
ROW_CHUNKS = ((1500, 700, 2000, 1800),)
N_ROWS = sum(ROW_CHUNKS[0])
# Converges well within the cap on the problem below (no ConvergenceWarning).
CONVERGING = {"solver": "gram", "method": "nesterov", "center": True, "iterations": 2000}


@pytest.fixture(scope="module")
def client():
    """A real multi-process cluster: two worker processes with one thread each."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    )
    with distributed.Client(cluster) as dask_client:
        yield dask_client
    cluster.close()


@pytest.fixture(scope="module")
def problem():
    """Features with large means and unequal scales (so centring matters), targets, positive weights."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N_ROWS, 3)) * [1.0, 2.0, 0.5] + [5.0, -3.0, 10.0]
    y = X @ [1.0, -2.0, 0.5] + 4.0 + rng.normal(size=N_ROWS)
    weights = rng.uniform(0.1, 2.0, size=N_ROWS)
    return X, y, weights


def as_dask(X, y, weights=None):
    chunks = ROW_CHUNKS + ((X.shape[1],) if X.ndim == 2 else ())
    dask_weights = None if weights is None else da.from_array(weights, chunks=ROW_CHUNKS)
    return da.from_array(X, chunks=chunks), da.from_array(y, chunks=ROW_CHUNKS), dask_weights


def assert_same_training(actual, expected):
    """Same trajectory: every loss, the parameters and the stop, to 1e-10 relative."""
    assert actual.n_iter == expected.n_iter
    assert actual.stop_reason == expected.stop_reason
    np.testing.assert_allclose(actual.loss_history, expected.loss_history, rtol=RTOL, atol=0)
    np.testing.assert_allclose(actual.w, expected.w, rtol=RTOL, atol=0)
    np.testing.assert_allclose(actual.b, expected.b, rtol=RTOL, atol=0)
    np.testing.assert_allclose(actual.final_loss, expected.final_loss, rtol=RTOL, atol=0)


def exact_lipschitz(X, y, weights, center):
    stats = gram.statistics(X, y, weights)
    d = stats.n_features
    hessian = stats.hessian(stats.mean[:d] if center else np.zeros(d), np.ones(d))
    # Centred, the intercept takes its own step and L is that of the weights' block.
    return stepsize.exact_lipschitz(hessian[:d, :d] if center else hessian)


@pytest.mark.filterwarnings("ignore::fastgd.ConvergenceWarning")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("center", [False, True], ids=["raw", "centred"])
@pytest.mark.parametrize("method", ["gd", "nesterov"])
def test_data_solver_matches_in_memory_on_a_cluster(client, problem, method, center, weighted):
    X, y, weights = problem
    weights = weights if weighted else None
    dX, dy, dweights = as_dask(X, y, weights)
    options = {"iterations": 40, "method": method, "center": center}
    automatic = fastgd_dask.train(
        dX, dy, sample_weight=dweights, scheduler=client, iterations=1, center=center, scale=False
    )
    # lr="auto" is 1/L for the exact L of the statistics pass, as in memory.
    np.testing.assert_allclose(1.0 / automatic.lr, exact_lipschitz(X, y, weights, center), rtol=RTOL)
    in_memory = fastgd.train(X, y, sample_weight=weights, iterations=1, center=center, scale=False)
    np.testing.assert_allclose(automatic.lr, in_memory.lr, rtol=RTOL)
    # Trajectories are compared with that one step size for every parameter on both sides.
    result = fastgd_dask.train(dX, dy, sample_weight=dweights, scheduler=client, lr=automatic.lr, **options)
    expected = fastgd.train(X, y, sample_weight=weights, lr=automatic.lr, backend="numba", **options)
    assert_same_training(result, expected)
    assert result.backend == "dask"
    assert result.passes == 1 + result.n_iter + 1  # setup pass, one per iteration, final loss


@pytest.mark.filterwarnings("ignore::fastgd.ConvergenceWarning")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("center", [False, True], ids=["raw", "centred"])
@pytest.mark.parametrize("method", ["gd", "nesterov"])
def test_gram_solver_matches_in_memory_with_one_pass(client, problem, method, center, weighted):
    X, y, weights = problem
    weights = weights if weighted else None
    dX, dy, dweights = as_dask(X, y, weights)
    options = {"iterations": 300, "method": method, "center": center, "solver": "gram"}
    result = fastgd_dask.train(dX, dy, sample_weight=dweights, scheduler=client, **options)
    expected = fastgd.train(X, y, sample_weight=weights, backend="numba", **options)
    np.testing.assert_allclose(result.lr, expected.lr, rtol=RTOL)
    assert_same_training(result, expected)
    assert result.passes == 1


@pytest.mark.filterwarnings("ignore::fastgd.ConvergenceWarning")
@pytest.mark.parametrize("scheduler", ["threads", "synchronous"])
@pytest.mark.parametrize("solver", ["data", "gram"])
def test_local_schedulers_match_in_memory(problem, scheduler, solver):
    X, y, weights = problem
    dX, dy, dweights = as_dask(X, y, weights)
    options = {"iterations": 40, "method": "nesterov", "center": True, "solver": solver, "lr": 0.01}
    result = fastgd_dask.train(dX, dy, sample_weight=dweights, scheduler=scheduler, **options)
    assert_same_training(result, fastgd.train(X, y, sample_weight=weights, **options))


def test_default_scheduler_is_the_active_client(client, problem):
    X, y, _ = problem
    dX, dy, _ = as_dask(X, y)
    # The scheduler's count of task state transitions only grows: it moves if the tasks ran on the cluster.
    # (Counting task groups, as this test once did, misses groups of the same name made by earlier tests.)
    before = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
    result = fastgd_dask.train(dX, dy, **CONVERGING)
    after = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
    assert after > before
    assert_same_training(result, fastgd.train(X, y, **CONVERGING))


@pytest.mark.filterwarnings("ignore::fastgd.ConvergenceWarning")
def test_results_are_bit_identical_from_run_to_run(client, problem):
    X, y, weights = problem
    runs = [
        fastgd_dask.train(*as_dask(X, y)[:2], sample_weight=weights, iterations=15, scheduler=client) for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].loss_history, runs[1].loss_history)
    np.testing.assert_array_equal(runs[0].w, runs[1].w)


@pytest.mark.filterwarnings("ignore::fastgd.ConvergenceWarning")
def test_killed_worker_mid_training_is_recovered_and_the_answer_is_unchanged(client, problem):
    X, y, _ = problem
    dX, dy, _ = as_dask(X, y)
    pids_before = client.run(os.getpid)
    killed = []

    def kill_a_worker(iteration, loss, w, b):
        if not killed:
            address = sorted(pids_before)[0]
            os.kill(pids_before[address], signal.SIGKILL)
            killed.append(iteration)

    options = {"iterations": 40, "method": "nesterov", "lr": 0.01, "center": True}
    try:
        result = fastgd_dask.train(dX, dy, callback=kill_a_worker, callback_every=10, scheduler=client, **options)
    except Exception as error:  # a clear error is acceptable, a silent wrong answer is not
        assert "worker" in str(error).lower(), f"unclear error after a worker died: {error!r}"
    else:
        assert_same_training(result, fastgd.train(X, y, **options))
    assert killed == [9]
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != set(pids_before.values())  # a worker really was replaced


def file_backed_blocks(folder, X, y):
    """A dask array whose row blocks are read from .npy files: recomputing a block reads its file again."""
    import dask

    blocks_X, blocks_y, start = [], [], 0
    for index, rows in enumerate(ROW_CHUNKS[0]):
        np.save(folder / f"X{index}.npy", X[start : start + rows])
        np.save(folder / f"y{index}.npy", y[start : start + rows])
        load = dask.delayed(np.load, pure=True)
        blocks_X.append(da.from_delayed(load(str(folder / f"X{index}.npy")), (rows, X.shape[1]), X.dtype))
        blocks_y.append(da.from_delayed(load(str(folder / f"y{index}.npy")), (rows,), y.dtype))
        start += rows
    return da.concatenate(blocks_X), da.concatenate(blocks_y)


@pytest.mark.parametrize("change", ["other values", "a NaN"])
def test_a_block_recomputed_from_a_changed_source_stops_training_with_a_clear_error(client, problem, tmp_path, change):
    # The worker holding the data dies mid-training and Dask recomputes its blocks from the files, which have
    # changed since training started: fastgd must not mix the two data sets (or call a NaN "divergence").
    X, y, _ = problem
    dX, dy = file_backed_blocks(tmp_path, X, y)
    pids = client.run(os.getpid)
    done = []

    def change_the_files_and_kill_a_worker(iteration, loss, w, b):
        if done:
            return
        done.append(iteration)
        for index in range(len(ROW_CHUNKS[0])):
            path = tmp_path / f"X{index}.npy"
            values = np.load(path)
            if change == "a NaN":
                values[5, 1] = np.nan
            else:
                values *= 1.5
            np.save(path, values)
        for pid in pids.values():  # every worker: whichever held a block, it is recomputed
            os.kill(pid, signal.SIGKILL)

    message = "holds different data than when training started" if change == "other values" else "X contains NaN at row"
    with pytest.raises(ValueError, match=message):
        fastgd_dask.train(
            dX, dy, method="nesterov", iterations=40, callback=change_the_files_and_kill_a_worker, callback_every=5,
            scheduler=client,
        )  # fmt: skip
    assert done == [4]
    client.wait_for_workers(2, timeout=60)


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def test_numpy_input_is_rejected_with_a_pointer_to_fastgd_train(problem):
    X, y, _ = problem
    with pytest.raises(TypeError, match=r"X must be a dask\.array\.Array.*fastgd\.train"):
        fastgd_dask.train(X, y, iterations=1)


def test_column_chunked_X_warns_and_is_rechunked(problem):
    X, y, _ = problem
    dX = da.from_array(X, chunks=(2000, 2))
    with pytest.warns(fastgd_dask.RechunkWarning, match="chunked along its columns"):
        result = fastgd_dask.train(dX, da.from_array(y, chunks=2000), scheduler="sync", **CONVERGING)
    assert_same_training(result, fastgd.train(X, y, **CONVERGING))


def test_targets_and_weights_are_aligned_to_the_row_chunks_of_X(problem):
    X, y, weights = problem
    dX = da.from_array(X, chunks=(1000, 3))
    result = fastgd_dask.train(dX, da.from_array(y, chunks=1700), sample_weight=weights, scheduler="sync", **CONVERGING)
    assert_same_training(result, fastgd.train(X, y, sample_weight=weights, **CONVERGING))


def test_nan_in_a_block_names_the_array_row_and_block(client, problem):
    X, y, _ = problem
    X = X.copy()
    X[4321, 1] = np.nan
    dX, dy, _ = as_dask(X, y)
    with pytest.raises(ValueError, match=r"X contains NaN at row 4321, column 1 \(in row block 3\)"):
        fastgd_dask.train(dX, dy, iterations=5, scheduler=client)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ({"y": (10, np.inf)}, r"y contains infinity at row 10 \(in row block 0\)"),
        ({"sample_weight": (3000, -1.0)}, r"sample_weight has a negative value at row 3000 \(row block 2\)"),
        ({"sample_weight": (slice(None), 0.0)}, r"sample_weight sums to zero"),
    ],
)
def test_bad_values_raise_clear_errors(problem, damage, message):
    X, y, weights = problem
    arrays = {"y": y.copy(), "sample_weight": weights.copy()}
    ((name, (row, value)),) = damage.items()
    arrays[name][row] = value
    dX, dy, dweights = as_dask(X, arrays["y"], arrays["sample_weight"])
    with pytest.raises(ValueError, match=message):
        fastgd_dask.train(dX, dy, sample_weight=dweights, lr=0.01, iterations=5, scheduler="sync")


def test_shape_and_chunk_errors_are_clear(problem):
    X, y, _ = problem
    dX, dy, _ = as_dask(X, y)
    with pytest.raises(ValueError, match="mismatched lengths"):
        fastgd_dask.train(dX, dy[:-1], iterations=1, scheduler="sync")
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fastgd_dask.train(dX[dX[:, 0] > 0], dy, iterations=1, scheduler="sync")
    with pytest.raises(TypeError, match="non-numeric dtype"):
        fastgd_dask.train(dX.astype(str), dy, iterations=1, scheduler="sync")


def test_one_feature_float32_and_empty_blocks(problem):
    X, y, _ = problem
    x = X[:, 0].astype(np.float32)
    target = y.astype(np.float32)
    chunks = ((0, 2000, 0, 4000),)
    result = fastgd_dask.train(
        da.from_array(x, chunks=chunks), da.from_array(target, chunks=chunks), iterations=300, solver="gram",
        method="nesterov", center=True, scheduler="threads",
    )  # fmt: skip
    expected = fastgd.train(x, target, iterations=300, solver="gram", method="nesterov", center=True)
    assert isinstance(result.w, float)
    assert_same_training(result, expected)


@pytest.mark.filterwarnings("ignore::fastgd.ConvergenceWarning")
def test_divergence_and_callback_stop_behave_as_in_memory(problem):
    X, y, _ = problem
    dX, dy, _ = as_dask(X, y)
    with pytest.raises(fastgd.DivergenceError, match="diverged"):
        fastgd_dask.train(dX, dy, lr=1.0, iterations=50, scheduler="sync")
    result = fastgd_dask.train(
        dX, dy, lr=0.003, iterations=50, callback=lambda *_: False, callback_every=5, scheduler="sync"
    )
    assert (result.stop_reason, result.n_iter) == ("callback", 5)
    # A callback stop is checked like any other end: lr=0.01 is above 2/L, and the rising loss is caught.
    with pytest.raises(fastgd.DivergenceError, match="rose"):
        fastgd_dask.train(dX, dy, lr=0.01, iterations=50, callback=lambda *_: False, callback_every=5, scheduler="sync")


def test_importing_fastgd_does_not_import_dask():
    code = "import sys, fastgd; assert 'dask' not in sys.modules, 'fastgd imported dask'"
    subprocess.run([sys.executable, "-c", code], check=True)
