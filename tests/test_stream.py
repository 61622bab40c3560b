"""Streaming: row blocks from files and from Python give in-memory training's answer, in bounded blocks.

Real files of every streamable format (CSV with each reader, Parquet, ``.npy``) are read in blocks far
smaller than the file, and the results compared with ``fastgd.train`` on the same data; bad cells must be
reported at their place in the file, a file changed between passes must stop the run, and the command
line must switch to streaming above ``--memory-budget``.
"""

from __future__ import annotations

import io as stdlib_io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastgd
from fastgd import cli
from fastgd.datasets import house_prices, standardised_error
from fastgd.io import DataError, iter_blocks
from fastgd.progress import ByteProgress
from fastgd.stream import RowStream, train_stream

CASE = house_prices(n=6_000, seed=9)
NAMES = [*CASE.names, "price"]
BLOCK = 40_000  # bytes: about 800 rows of 6 float64 columns, so every file takes several blocks
READERS = [name for name in ("pyarrow", "pandas") if __import__("importlib").util.find_spec(name)] + ["numpy"]


def write_csv(path, X, y, names=NAMES):
    lines = [",".join(names)] + [",".join(repr(float(v)) for v in row) for row in np.column_stack([X, y])]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    table = np.column_stack([CASE.X, CASE.y])
    paths = {"csv": write_csv(folder / "houses.csv", CASE.X, CASE.y), "npy": folder / "houses.npy"}
    np.save(paths["npy"], table)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        paths["parquet"] = folder / "houses.parquet"
        pq.write_table(
            pa.table({name: table[:, j] for j, name in enumerate(NAMES)}), paths["parquet"], row_group_size=1000
        )
    except ImportError:
        pass
    return paths


def in_memory(solver="gram", **options):
    return fastgd.train(CASE.X, CASE.y, iterations=1000, method="cg", solver=solver, **options)


def sources(files):
    found = [("csv", reader) for reader in READERS] + [("npy", "auto")]
    return found + ([("parquet", "auto")] if "parquet" in files else [])


@pytest.mark.parametrize("solver", ["gram", "data"])
def test_every_file_format_streams_to_the_in_memory_answer(files, solver):
    reference = in_memory(solver)
    for kind, reader in sources(files):
        target = "-1" if kind == "npy" else "price"
        result = train_stream(
            files[kind], target=target, solver=solver, iterations=1000, block_bytes=BLOCK, reader=reader
        )
        assert result.backend == "stream" and result.converged
        error = standardised_error(CASE.X, CASE.y, result.w, result.b, reference.w, reference.b)
        assert error <= 1e-9, f"{kind}/{reader}: {error:.2g} from in-memory training"
        # The gram solver reads the file once; the data solver once for the setup and once per iteration.
        assert result.passes == (1 if solver == "gram" else reference.passes)


def test_blocks_stay_within_their_byte_budget(files):
    for kind, _ in sources(files):
        names = [str(j) for j in range(6)] if kind == "npy" else NAMES
        blocks = list(iter_blocks(files[kind], names, block_bytes=BLOCK))
        assert len(blocks) >= 5
        rows = 0
        for values, first_row, _ in blocks:
            assert first_row == rows
            rows += values.shape[0]
            # CSV blocks are BLOCK bytes of text (plus the rest of a line), each value ~18 characters.
            assert values.nbytes <= BLOCK * (1.0 if kind != "csv" else 0.6)
        assert rows == CASE.X.shape[0]
        assert blocks[-1][2] == pytest.approx(files[kind].stat().st_size, rel=0.02)
        np.testing.assert_array_equal(np.vstack([values for values, _, _ in blocks]), np.column_stack([CASE.X, CASE.y]))


def test_python_sources_callables_lists_and_one_shot_iterators():
    reference = in_memory("gram")
    starts = range(0, len(CASE.y), 700)

    def blocks():
        for start in starts:
            yield CASE.X[start : start + 700], CASE.y[start : start + 700]

    as_list = list(blocks())
    for source in (blocks, as_list, blocks()):
        result = train_stream(source, iterations=1000)
        assert standardised_error(CASE.X, CASE.y, result.w, result.b, reference.w, reference.b) <= 1e-9
    assert train_stream(as_list, solver="data", iterations=1000).converged
    with pytest.raises(ValueError, match=r"one-shot iterator, read once already.*callable"):
        train_stream(blocks(), solver="data", iterations=1000)


def test_weighted_blocks_and_penalties_match_in_memory_training():
    weights = np.random.default_rng(3).uniform(0.1, 2.0, len(CASE.y))

    def blocks():
        for start in range(0, len(CASE.y), 1000):
            rows = slice(start, start + 1000)
            yield CASE.X[rows], CASE.y[rows], weights[rows]

    for options in ({}, {"alpha": 30.0, "l1_ratio": 0.5}):
        reference = fastgd.train(
            CASE.X, CASE.y, sample_weight=weights, iterations=5000, method="auto", solver="gram", **options
        )
        for solver in ("gram", "data"):
            result = train_stream(blocks, solver=solver, iterations=5000, **options)
            assert result.converged
            error = standardised_error(CASE.X, CASE.y, result.w, result.b, reference.w, reference.b, weights)
            assert error <= 1e-8


def test_bad_values_are_reported_at_their_place_in_the_file(files, tmp_path):
    X, y = CASE.X.copy(), CASE.y.copy()
    row = 5_123  # far beyond the first block
    lines = write_csv(tmp_path / "bad.csv", X, y).read_text().splitlines()
    fields = lines[row + 1].split(",")
    fields[2] = "oops"
    lines[row + 1] = ",".join(fields)
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    for reader in READERS:
        with pytest.raises(DataError, match=rf"line {row + 2}, column 'bedrooms': 'oops' is not a number"):
            train_stream(tmp_path / "bad.csv", target="price", iterations=10, block_bytes=BLOCK, reader=reader)
    table = np.column_stack([X, y])
    table[row, 1] = np.nan
    np.save(tmp_path / "bad.npy", table)
    with pytest.raises(DataError, match=rf"row {row}, column '1' is NaN"):
        train_stream(tmp_path / "bad.npy", target="-1", iterations=10, block_bytes=BLOCK)
    if "parquet" in files:
        import pyarrow as pa
        import pyarrow.parquet as pq

        column = pa.array(np.where(np.arange(len(y)) == row, np.nan, y), from_pandas=True)
        columns = {name: table[:, j] for j, name in enumerate(NAMES[:-1])}
        pq.write_table(pa.table({**columns, "price": column}), tmp_path / "bad.parquet", row_group_size=1000)
        with pytest.raises(DataError, match=rf"row {row}, column 'price' is missing \(null\)"):
            train_stream(tmp_path / "bad.parquet", target="price", iterations=10, block_bytes=BLOCK)

    def python_blocks():
        yield X[:1000], y[:1000]
        bad = X[1000:2000].copy()
        bad[17, 3] = np.inf
        yield bad, y[1000:2000]

    with pytest.raises(ValueError, match=r"X contains infinity at row 1017, column 3 \(in block 1 of the source\)"):
        train_stream(python_blocks, iterations=10)
    with pytest.raises(TypeError, match="block 0 of the source is a ndarray"):
        train_stream([X], iterations=10)
    with pytest.raises(ValueError, match=r"block 1 .* has 4 feature"):
        train_stream([(X, y), (X[:, :4], y)], iterations=10)


def test_a_file_changed_between_passes_stops_the_run(files, tmp_path):
    path = tmp_path / "houses.npy"
    path.write_bytes(files["npy"].read_bytes())

    def touch(iteration, loss, w, b):
        os.utime(path, ns=(1, 1))  # the next pass sees another file

    with pytest.raises(ValueError, match="changed during training"):
        train_stream(path, target="-1", solver="data", iterations=100, callback=touch, callback_every=1)


def test_the_byte_progress_bar_counts_each_pass():
    pytest.importorskip("tqdm", reason="the bar needs the optional tqdm dependency")
    out = stdlib_io.StringIO()
    with ByteProgress(1000, enabled=True, file=out) as bar:
        bar.start_pass(1)
        bar.update_to(400)
        bar.start_pass(2)
        bar.update_to(1000)
    text = out.getvalue()
    assert "pass 1" in text and "pass 2" in text and "B/s" in text


def test_the_command_line_streams_above_the_memory_budget(files, tmp_path, capsys):
    out, model = tmp_path / "fit.json", tmp_path / "model.json"
    argv = ["fit", str(files["csv"]), "--target", "price", "--json", str(out), "--save-model", str(model)]
    assert cli.main([*argv, "--memory-budget", "64K"]) == 0
    assert "streaming" in capsys.readouterr().err
    streamed = json.loads(out.read_text())
    assert cli.main(argv) == 0  # the default budget: in memory
    assert "streaming" not in capsys.readouterr().err
    whole = json.loads(out.read_text())
    assert streamed["backend"] == "stream" and whole["backend"] == "numba"
    assert streamed["rows"] == whole["rows"] == len(CASE.y)
    error = standardised_error(
        CASE.X, CASE.y, np.array(streamed["coef"]), streamed["intercept"], np.array(whole["coef"]), whole["intercept"]
    )
    assert error <= 1e-9
    # A plot needs the data in memory: refused before anything is written.
    plot = tmp_path / "fit.png"
    out.unlink()
    assert cli.main([*argv, "--memory-budget", "64K", "--plot", str(plot)]) == 2
    assert "--plot needs the data in memory" in capsys.readouterr().err
    assert not out.exists() and not plot.exists()


@pytest.mark.parametrize(("text", "value"), [("512", 512), ("64K", 65536), ("1.5m", 1572864), ("2GiB", 2 << 30)])
def test_memory_budget_sizes(text, value):
    assert cli._byte_size(text) == value


def test_a_wrong_budget_is_refused():
    completed = subprocess.run(
        [sys.executable, "-m", "fastgd", "fit", "x.csv", "--target", "y", "--memory-budget", "lots"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert completed.returncode == 2 and "expected a size such as 512M or 8G, got 'lots'" in completed.stderr


def test_a_row_stream_can_be_passed_directly(files):
    stream = RowStream.from_file(files["csv"], "price", block_bytes=BLOCK)
    result = train_stream(stream, iterations=1000)
    assert stream.n_rows == len(CASE.y) and stream.passes == 1 and result.converged
    with pytest.raises(ValueError, match="target is needed to read a file"):
        train_stream(files["csv"], iterations=10)
    with pytest.raises(DataError, match=r"\.npz file cannot be read in blocks"):
        np.savez(files["csv"].parent / "houses.npz", X=CASE.X, y=CASE.y)
        train_stream(files["csv"].parent / "houses.npz", target="y", iterations=10)


def test_empty_python_blocks_are_skipped():
    empty = (CASE.X[:0], CASE.y[:0])
    blocks = [empty, (CASE.X[:3000], CASE.y[:3000]), empty, (CASE.X[3000:], CASE.y[3000:]), empty]
    reference = in_memory("gram")
    result = train_stream(blocks, iterations=1000)
    assert standardised_error(CASE.X, CASE.y, result.w, result.b, reference.w, reference.b) <= 1e-9


def test_quoted_separators_in_an_unused_column_stream_with_every_reader(tmp_path):
    lines = ["a,note,y"] + [f'{i},"x, {i}",{2 * i + 1}' for i in range(3000)]
    path = tmp_path / "quoted.csv"
    path.write_text("\n".join(lines) + "\n")
    for reader in READERS:
        result = train_stream(path, target="y", features=["a"], iterations=100, block_bytes=4096, reader=reader)
        assert result.w == pytest.approx([2.0]) and result.b == pytest.approx(1.0)


def test_a_quoted_line_break_across_a_block_boundary_is_named(tmp_path):
    lines = ["a,note,y"] + [f'{i},"two\nlines",{i}' for i in range(2000)]
    path = tmp_path / "breaks.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="a quoted field with a line break there"):
        train_stream(path, target="y", features=["a"], iterations=10, block_bytes=1000, reader="pandas")


def test_the_csv_size_estimate_counts_values_not_characters(tmp_path):
    from fastgd.io import estimated_bytes

    path = tmp_path / "bits.csv"
    path.write_text("a,b,y\n" + "0,1,1\n" * 100_000)
    assert estimated_bytes(path, 3) == pytest.approx(100_000 * 3 * 8, rel=0.01)  # 8 bytes a value, 2 a character


def test_options_that_need_passes_are_refused_with_the_gram_solver_and_pick_data_with_auto():
    with pytest.raises(ValueError, match="callback and loss_threshold act on passes"):
        train_stream([(CASE.X, CASE.y)], solver="gram", iterations=10, loss_threshold=1.0)
    with pytest.warns(fastgd.ConvergenceWarning, match="at the loss threshold"):  # as asked: far from the optimum
        result = train_stream([(CASE.X, CASE.y)], solver="auto", iterations=10, loss_threshold=1e20)
    assert result.solver == "data" and result.stop_reason == "loss_threshold"
    assert train_stream([(CASE.X, CASE.y)], solver="auto", iterations=100).solver == "gram"


def test_one_dimensional_blocks_give_a_float_weight_as_train_does():
    x = np.linspace(0.0, 1.0, 5000)
    blocks = [(x[:2000], 3.0 * x[:2000] + 2.0), (x[2000:], 3.0 * x[2000:] + 2.0)]
    for solver in ("gram", "data"):
        result = train_stream(blocks, solver=solver, iterations=100)
        assert isinstance(result.w, float) and result.w == pytest.approx(3.0) and result.b == pytest.approx(2.0)
