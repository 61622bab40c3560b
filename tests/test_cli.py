"""The ``fastgd`` command line, end to end: real files in, a real subprocess, real outputs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import fastgd
from fastgd.io import DataError, LinearModel, load_model, load_training_data, save_model

TRUE_W = np.array([2.0, -1.0])
TRUE_B = 0.5
FEATURES = ["height", "width"]


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fastgd", *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def assert_bad_input(completed: subprocess.CompletedProcess, *fragments: str, code: int = 2) -> None:
    assert completed.returncode == code, completed.stderr
    assert "Traceback" not in completed.stderr
    for fragment in fragments:
        assert fragment in completed.stderr, completed.stderr


def write_csv(path, header, rows) -> None:
    lines = [",".join(header)] + [
        ",".join(repr(value) if isinstance(value, float) else str(value) for value in row) for row in rows
    ]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 2))
    y = X @ TRUE_W + TRUE_B + 0.05 * rng.standard_normal(300)
    return X, y


@pytest.fixture(scope="module")
def files(tmp_path_factory, problem):
    """The same data as CSV, 2-D .npy, structured .npy, .npz and Parquet."""
    X, y = problem
    folder = tmp_path_factory.mktemp("data")
    write_csv(folder / "data.csv", [*FEATURES, "price"], np.column_stack([X, y]).tolist())
    np.save(folder / "data.npy", np.column_stack([X, y]))
    structured = np.empty(len(y), dtype=[("height", "f8"), ("width", "f8"), ("price", "f8")])
    structured["height"], structured["width"], structured["price"] = X[:, 0], X[:, 1], y
    np.save(folder / "structured.npy", structured)
    np.savez(folder / "data.npz", X=X, y=y)
    pa = pytest.importorskip("pyarrow", reason="Parquet support is optional (fastgd[parquet])")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"height": X[:, 0], "width": X[:, 1], "price": y}), folder / "data.parquet")
    return folder


def fit_json(*args: str) -> dict:
    completed = run_cli("fit", *args, "--json", "-", "-q")
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


# ------------------------------------------------------------------- fit --


def test_fit_csv_prints_a_table_and_matches_the_library_exactly(files, problem, tmp_path):
    out = tmp_path / "fit.json"
    completed = run_cli(
        "fit", files / "data.csv", "--target", "price", "--lr", "0.3", "--iterations", "300", "--json", out
    )
    assert completed.returncode == 0, completed.stderr
    X, y = problem
    # The command line's defaults: --solver auto (the statistics solver here), gd for a numeric --lr, --tol 1e-8.
    expected = fastgd.train(X, y, lr=0.3, iterations=300, solver="auto", tol=1e-8)
    lines = completed.stdout.splitlines()
    table = {line.split()[0]: line.split()[1] for line in lines if line.startswith(("height", "width", "(intercept)"))}
    assert float(table["height"]) == pytest.approx(expected.w[0], rel=1e-9)
    assert float(table["(intercept)"]) == pytest.approx(expected.b, rel=1e-9)
    assert any(line.startswith("stop reason") and expected.stop_reason in line for line in lines)
    assert "read 300 rows x 3 columns" in completed.stderr  # the loading message
    summary = json.loads(out.read_text())
    assert summary["coef"] == expected.w.tolist() and summary["intercept"] == expected.b
    assert summary["final_loss"] == expected.final_loss and summary["n_iter"] == expected.n_iter
    assert summary["feature_names"] == FEATURES and summary["target"] == "price"


@pytest.mark.parametrize(
    ("name", "target", "features", "names"),
    [
        ("data.csv", "price", None, FEATURES),
        ("data.npy", "-1", None, ["0", "1"]),
        ("data.npy", "2", ["0", "1"], ["0", "1"]),
        ("structured.npy", "price", None, FEATURES),
        ("data.npz", "y", ["X"], ["X[0]", "X[1]"]),
        ("data.npz", "y", ["X[1]"], ["X[1]"]),
        ("data.parquet", "price", ["height", "width"], FEATURES),
    ],
)
def test_every_file_format_reads_the_same_numbers(files, problem, name, target, features, names):
    data = load_training_data(files / name, target, features)
    X, y = problem
    assert data.feature_names == names
    assert np.array_equal(data.X, X[:, [1]] if names == ["X[1]"] else X) and np.array_equal(data.y, y)


@pytest.mark.parametrize(
    ("name", "options"), [("data.npy", ["--target", "-1"]), ("data.npz", ["--target", "y", "--features", "X"])]
)
def test_fit_on_arrays_matches_the_library_exactly(files, problem, name, options):
    summary = fit_json(files / name, *options, "--lr", "0.3", "--iterations", "50")
    expected = fastgd.train(*problem, lr=0.3, iterations=50, solver="auto", tol=1e-8)
    assert summary["coef"] == expected.w.tolist() and summary["intercept"] == expected.b


def test_fit_passes_lr_auto_and_method_through_to_train(files):
    summary = fit_json(
        files / "data.csv", "--target", "price", "--lr", "auto", "--method", "nesterov", "--iterations", "400"
    )
    assert summary["lr_requested"] == "auto" and summary["lr"] > 0 and summary["method"] == "nesterov"
    np.testing.assert_allclose(summary["coef"], TRUE_W, atol=0.02)


def test_fit_stops_at_the_loss_threshold(files):
    summary = fit_json(
        files / "data.csv", "--target", "price", "--lr", "0.3", "--loss-threshold", "0.01", "--iterations", "5000"
    )
    assert summary["stop_reason"] == "loss_threshold" and summary["final_loss"] <= 0.01 and summary["n_iter"] < 5000


def test_csv_readers_agree_bit_for_bit(files):
    loaded = [
        load_training_data(files / "data.csv", "price", reader=reader) for reader in ("pyarrow", "pandas", "numpy")
    ]
    for data in loaded[1:]:
        assert np.array_equal(data.X, loaded[0].X) and np.array_equal(data.y, loaded[0].y)
    assert loaded[0].feature_names == FEATURES and loaded[0].X.flags.c_contiguous


# ------------------------------------------------------ models and predict --


def test_model_file_round_trips_exactly(tmp_path):
    model = LinearModel(["a", "b"], [0.1, 1 / 3], -2.5e-17, "y", {"lr": 0.2})
    save_model(tmp_path / "model.json", model)
    loaded = load_model(tmp_path / "model.json")
    assert loaded.feature_names == ["a", "b"] and loaded.coef.tolist() == [0.1, 1 / 3]
    assert loaded.intercept == -2.5e-17 and loaded.target_name == "y" and loaded.training == {"lr": 0.2}
    document = json.loads((tmp_path / "model.json").read_text())
    assert document["format"] == "fastgd-linear-model" and document["format_version"] == 1


def test_a_model_fitted_with_the_defaults_saves_and_predicts(files, problem, tmp_path):
    # Conjugate gradients take no learning rate: the model records null, not an invalid NaN.
    model_path, summary_path = tmp_path / "model.json", tmp_path / "fit.json"
    completed = run_cli(
        "fit", files / "data.csv", "--target", "price", "--save-model", model_path, "--json", summary_path
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(model_path.read_text())
    assert document["training"]["lr"] is None and document["training"]["method"] == "cg"
    assert document["training"]["converged"] is True and json.loads(summary_path.read_text())["lr"] is None
    model = load_model(model_path)
    X, y = problem
    exact = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)[0]
    np.testing.assert_allclose(np.append(model.coef, model.intercept), exact, rtol=1e-9)
    assert run_cli("predict", model_path, files / "data.csv").returncode == 0


def test_saved_model_predicts_like_fastgd_predict(files, problem, tmp_path):
    model_path = tmp_path / "model.json"
    completed = run_cli(
        "fit", files / "data.csv", "--target", "price", "--lr", "0.3", "--iterations", "200", "--save-model", model_path
    )
    assert completed.returncode == 0, completed.stderr
    model = load_model(model_path)
    assert model.feature_names == FEATURES and model.target_name == "price" and model.training["rows"] == 300
    X, _y = problem
    expected = fastgd.predict(X, model.coef, model.intercept)

    to_stdout = run_cli("predict", model_path, files / "data.csv")
    assert to_stdout.returncode == 0, to_stdout.stderr
    lines = to_stdout.stdout.splitlines()
    assert lines[0] == "predicted_price"
    assert np.array_equal(np.array(lines[1:], dtype=np.float64), expected)

    # A plain .npy with the target column too: the model's columns are picked by name.
    to_npy = run_cli("predict", model_path, files / "structured.npy", "--out", tmp_path / "p.npy", "-q")
    assert to_npy.returncode == 0 and to_npy.stderr == ""
    assert np.array_equal(np.load(tmp_path / "p.npy"), expected)
    # A plain 2-D .npy with exactly the model's feature count: columns by position.
    np.save(tmp_path / "features.npy", X)
    to_csv = run_cli("predict", model_path, tmp_path / "features.npy", "--out", tmp_path / "p.csv")
    assert to_csv.returncode == 0, to_csv.stderr
    assert np.array_equal(np.loadtxt(tmp_path / "p.csv", skiprows=1), expected)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["features.npy", "model.json", "p.csv", "p.npy"]


# ----------------------------------------------------------- bad input --


@pytest.fixture
def bad_files(tmp_path):
    write_csv(tmp_path / "text.csv", ["a", "b", "y"], [[1, 2, 3], [4, "oops", 6], [7, 8, 9]])
    write_csv(tmp_path / "hole.csv", ["a", "b", "y"], [[1, 2, 3], [4, 5, 6], [7, "", 9]])
    write_csv(tmp_path / "nan.csv", ["a", "b", "y"], [[1, 2, 3], [4, "nan", 6]])
    write_csv(tmp_path / "inf.csv", ["a", "b", "y"], [[1, 2, 3], [4, 5, "inf"]])
    write_csv(tmp_path / "one.csv", ["a", "b", "y"], [[1, 2, 3]])
    write_csv(tmp_path / "header.csv", ["a", "b", "y"], [])
    write_csv(tmp_path / "noheader.csv", ["1", "2", "3"], [[4, 5, 6]])
    (tmp_path / "empty.csv").write_text("")
    np.savez(tmp_path / "nan.npz", X=np.array([[1.0, 2.0], [3.0, np.inf]]), y=np.array([1.0, 2.0]))
    return tmp_path


@pytest.mark.parametrize(
    ("file", "target", "fragments"),
    [
        ("missing.csv", "y", ["missing.csv: no such file"]),
        ("text.csv", "price", ["no column 'price'", "available columns: a, b, y"]),
        ("text.csv", "y", ["line 3, column 'b'", "'oops' is not a number"]),
        ("hole.csv", "y", ["line 4, column 'b'", "empty cell"]),
        ("nan.csv", "y", ["line 3, column 'b'", "'nan' is not a finite number"]),
        ("inf.csv", "y", ["line 3, column 'y'", "'inf' is not a finite number"]),
        ("nan.npz", "y", ["row 1, column 'X[1]' is infinity"]),
        ("one.csv", "y", ["only 1 data row"]),
        ("header.csv", "y", ["no data rows"]),
        ("empty.csv", "y", ["the file is empty"]),
        ("noheader.csv", "3", ["needs a header line"]),
    ],
)
def test_bad_data_exits_2_with_a_located_message(bad_files, file, target, fragments):
    assert_bad_input(run_cli("fit", bad_files / file, "--target", target, "--lr", "0.1"), *fragments)


def test_unsupported_suffix_and_bad_options_exit_2(bad_files):
    (bad_files / "data.xlsx").write_text("a,b\n1,2\n")
    assert_bad_input(run_cli("fit", bad_files / "data.xlsx", "--target", "b"), "unsupported file type '.xlsx'")
    assert_bad_input(run_cli("fit", bad_files / "text.csv", "--target", "y", "--lr", "-1"), "--lr")
    assert_bad_input(run_cli("fit", bad_files / "text.csv"), "--target")


def test_unwritable_outputs_fail_before_training(files, tmp_path):
    for option in ("--json", "--save-model", "--plot"):
        completed = run_cli("fit", files / "data.csv", "--target", "price", option, tmp_path / "no" / "such" / "out")
        assert_bad_input(completed, "does not exist")
        assert "read " not in completed.stderr  # failed before reading the data
    assert_bad_input(run_cli("fit", files / "data.csv", "--target", "price", "--json", tmp_path), "is a directory")


def test_divergence_exits_1_and_leaves_existing_outputs_alone(files, tmp_path):
    previous = tmp_path / "result.json"
    previous.write_text('{"old": true}\n')
    completed = run_cli("fit", files / "data.csv", "--target", "price", "--lr", "50", "--json", previous)
    assert_bad_input(completed, "training diverged", "Try --lr auto", code=1)
    assert previous.read_text() == '{"old": true}\n'
    assert [path.name for path in tmp_path.iterdir()] == ["result.json"]  # no temporary file left behind


@pytest.fixture(scope="module")
def fitted_model_text(files, tmp_path_factory):
    """The model file ``fit`` writes for the CSV data (one fit for the module)."""
    model = tmp_path_factory.mktemp("model") / "model.json"
    assert run_cli("fit", files / "data.csv", "--target", "price", "--save-model", model, "-q").returncode == 0
    return model.read_text()


@pytest.fixture
def own_copy(files, tmp_path, fitted_model_text):
    """A private copy of the CSV data and of a model fitted on it."""
    data = tmp_path / "data.csv"
    data.write_bytes((files / "data.csv").read_bytes())
    model = tmp_path / "model.json"
    model.write_text(fitted_model_text)
    return data, model


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        (("fit", "{data}", "--target", "price", "--save-model", "{data}"), ("model", "same file as the data file")),
        (("fit", "{data}", "--target", "price", "--json", "{data}"), ("--json output", "destroy the input")),
        (("fit", "{data}", "--target", "price", "--json", "{dir}/out.json", "--save-model", "{dir}/../{name}/out.json"),
         ("same file", "different names")),
        (("predict", "{model}", "{data}", "--out", "{data}"), ("--out", "same file as the data file")),
        (("predict", "{model}", "{data}", "--out", "{link}"), ("--out", "same file as the data file")),
        (("predict", "{model}", "{data}", "--out", "{hardlink}"), ("--out", "same file as the data file")),
    ],
)  # fmt: skip
def test_an_output_that_is_an_input_or_another_output_is_refused(own_copy, tmp_path, arguments, fragments):
    data, model = own_copy
    (tmp_path / "link.csv").symlink_to(data)
    hardlink = tmp_path / "hard.csv"
    hardlink.hardlink_to(data)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    names = {"data": data, "model": model, "link": tmp_path / "link.csv", "hardlink": hardlink}
    names.update({"dir": tmp_path, "name": tmp_path.name})
    completed = run_cli(*(argument.format(**names) for argument in arguments))
    assert_bad_input(completed, *fragments)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before  # nothing touched, nothing new


def test_outputs_write_through_symlinks_and_fifos(own_copy, tmp_path):
    import threading

    data, model = own_copy
    target = tmp_path / "real.csv"
    (tmp_path / "link.csv").symlink_to(target)
    assert run_cli("predict", model, data, "--out", tmp_path / "link.csv", "-q").returncode == 0
    assert (tmp_path / "link.csv").is_symlink()  # the link stays a link...
    assert target.read_text().startswith("predicted_price\n")  # ...and its target got the predictions

    fifo = tmp_path / "results.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    completed = run_cli("fit", data, "--target", "price", "--json", fifo, "-q")
    reader.join(timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(received[0])["rows"] == 300
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not replaced by a regular file


def test_json_and_model_texts_refuse_or_clean_non_finite_values():
    from fastgd.io import json_text, model_text

    assert json.loads(json_text({"final_loss": float("inf"), "losses": [1.0, float("nan")]})) == {
        "final_loss": None,
        "losses": [1.0, None],
    }
    with pytest.raises(DataError, match="non-finite coefficients"):
        model_text(LinearModel(["a"], [float("inf")], 0.0))


def test_bad_models_exit_2(files, tmp_path):
    model = LinearModel(["height", "depth"], [1.0, 2.0], 0.0).to_dict()
    (tmp_path / "other.json").write_text(json.dumps(model))
    assert_bad_input(
        run_cli("predict", tmp_path / "other.json", files / "data.csv"), "no column 'depth'", "height, width, price"
    )
    assert_bad_input(
        run_cli("predict", tmp_path / "other.json", files / "data.npy"), "2 feature(s)", "needs exactly 2", "has 3"
    )
    (tmp_path / "future.json").write_text(json.dumps({**model, "format_version": 2}))
    assert_bad_input(
        run_cli("predict", tmp_path / "future.json", files / "data.csv"), "format version 2", "reads version 1"
    )
    (tmp_path / "short.json").write_text(json.dumps({**model, "coef": [1.0]}))
    assert_bad_input(
        run_cli("predict", tmp_path / "short.json", files / "data.csv"), "2 feature names but 1 coefficients"
    )
    (tmp_path / "junk.json").write_text("{not json")
    assert_bad_input(run_cli("predict", tmp_path / "junk.json", files / "data.csv"), "not a fastgd model file")
    with pytest.raises(DataError, match="format version"):
        load_model(tmp_path / "future.json")


GOOD_MODEL = LinearModel(["height", "width"], [1.0, 2.0], 0.5).to_dict()


TAMPERED_MODELS = {
    "training-string": (json.dumps({**GOOD_MODEL, "training": "fitted"}), '"training" must be an object'),
    "huge-integer": (json.dumps({**GOOD_MODEL, "coef": [10**400, 1.0]}), "a number of 401 characters"),
    "overflowing-float": (json.dumps({**GOOD_MODEL, "coef": [1.0, 2.0]}).replace("1.0", "1e999"), '"coef" must be a list of finite'),
    "bool-coef": (json.dumps({**GOOD_MODEL, "coef": [True, 1.0]}), '"coef" must be a list of finite'),
    "bool-intercept": (json.dumps({**GOOD_MODEL, "intercept": False}), '"intercept" must be a finite number'),
    "bool-version": (json.dumps({**GOOD_MODEL, "format_version": True}), "model format version true"),
    "numeric-target-name": (json.dumps({**GOOD_MODEL, "target_name": 3}), '"target_name" must be a string'),
    "deep-nesting": ('{"format": "fastgd-linear-model", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested deeper than 32"),
    "5000-digits": (json.dumps(GOOD_MODEL).replace('"intercept": 0.5', '"intercept": ' + "7" * 5000), "5,000 characters"),
}  # fmt: skip


@pytest.mark.parametrize("case", TAMPERED_MODELS)
def test_a_tampered_model_is_refused_with_a_specific_error(tmp_path, case):
    text, fragment = TAMPERED_MODELS[case]
    model = tmp_path / "model.json"
    model.write_text(text)
    with pytest.raises(DataError) as error:
        load_model(model)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_brackets_inside_a_string_are_not_nesting(tmp_path):
    model = tmp_path / "model.json"
    model.write_text(json.dumps({**GOOD_MODEL, "note": "[" * 100_000}))
    assert load_model(model).coef.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("case", ["training-string", "deep-nesting", "5000-digits", "bool-version"])
def test_the_command_line_answers_a_tampered_model_with_one_line_and_exit_2(files, tmp_path, case):
    text, fragment = TAMPERED_MODELS[case]
    model = tmp_path / "model.json"
    model.write_text(text)
    completed = run_cli("predict", model, files / "data.csv")
    assert_bad_input(completed, fragment)
    assert len(completed.stderr.strip().splitlines()) == 1, completed.stderr


# ------------------------------------------------------- demo and bench --


def test_demo_writes_a_loss_curve_png(tmp_path):
    png = tmp_path / "loss.png"
    completed = run_cli("demo", "--rows", "5000", "--iterations", "20", "--plot", png)
    assert completed.returncode == 0, completed.stderr
    assert "fused numba" in completed.stdout and f"loss curves written to {png}" in completed.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = pytest.importorskip("matplotlib.image", reason="plots are optional (fastgd[plot])").imread(png)
    assert image.shape[0] >= 200 and image.shape[1] >= 400 and png.stat().st_size < 150_000


def test_bench_prints_both_paths_and_the_roofline():
    completed = run_cli("bench", "--rows", "20000", "--repeats", "2", "--iterations", "3", "--threads", "1", "-q")
    assert completed.returncode == 0, completed.stderr
    # A loaded machine may slow the roofline runs: the row then ends with a note after the fraction.
    lines = [line.split("  (>100%")[0] for line in completed.stdout.splitlines()]
    rows = [line.split() for line in lines if line.lstrip().startswith("20,000")]
    paths = [" ".join(row[3:5]) for row in rows]
    assert paths == ["reference numpy", "fused numba", "read-once (roofline)"]
    for row in rows:
        assert float(row[6]) > 0 and float(row[-2]) > 0 and row[-1].endswith("%")  # ms/epoch, GB/s, roofline
    assert rows[-1][-1] == "100%"


def test_help_lists_the_commands():
    completed = run_cli("--help")
    assert completed.returncode == 0
    for command in ("demo", "fit", "predict", "bench"):
        assert command in completed.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 is POSIX")
def test_a_write_killed_outright_keeps_the_old_file_and_the_next_write_removes_its_temporary(tmp_path):
    from fastgd.io import write_atomic

    target = tmp_path / "model.json"
    target.write_text("old")
    # A writer that is killed (SIGKILL) in the middle of writing: no handler of its own can run.
    program = f"""
import sys, time
from fastgd.io import write_atomic
def slow(handle):
    handle.write(b"partial")
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
write_atomic({str(target)!r}, slow)
"""
    writer = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    writer.kill()
    writer.wait()
    writer.stdout.close()
    left = [name for name in os.listdir(tmp_path) if name != "model.json"]
    assert len(left) == 1 and left[0].startswith(".model.json.") and target.read_text() == "old"
    # A temporary file of a writer that is still running (this process) is not touched.
    live = tmp_path / f"{left[0].rsplit('.', 3)[0]}.{os.getpid()}.abc.fastgd-tmp"
    live.write_text("in progress")
    write_atomic(target, lambda handle: handle.write(b"new"))
    assert target.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == sorted(["model.json", live.name])


def test_an_npz_file_is_read_without_decompressing_arrays_it_does_not_use(tmp_path):
    # 256 MB of zeros compress to a few hundred KB; reading only headers keeps them out of memory.
    path = tmp_path / "mixed.npz"
    rng = np.random.default_rng(8)
    np.savez_compressed(path, x=rng.standard_normal(1000), y=rng.standard_normal(1000), unused=np.zeros(32 << 20))
    assert path.stat().st_size < 5 << 20
    program = f"""
import resource
from fastgd.io import column_names, load_training_data
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert column_names({str(path)!r}) == ["x", "y", "unused"]
data = load_training_data({str(path)!r}, "y", ["x"])
assert data.X.shape == (1000, 1)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)  # kilobytes on Linux
"""
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert int(completed.stdout.strip()) < 64, "MB of peak memory grown while reading"


# ------------------------------------------------------- one reader behaviour --

READERS = ("pyarrow", "pandas", "numpy")


@pytest.mark.parametrize(
    ("name", "text", "options"),
    [
        ("spaces.csv", " a , b,y \n1, 2,3\n4,5 ,6\n7,8,9.5\n", {}),
        ("booleans.csv", "a,flag,y\n1,True,3\n4,false,6\n7,tRuE,9.5\n", {}),
        ("semicolons.csv", "a;b;y\n1;2;3\n4;5;6\n7;8;9.5\n", {}),
        ("tabs.csv", "a\tb\ty\n1\t2\t3\n4\t5\t6\n7\t8\t9.5\n", {}),
        ("pipes.csv", "a|b|y\n1|2|3\n4|5|6\n7|8|9.5\n", {"sep": "|"}),
        ("quoted.csv", '"a, cm",b,y\n1,2,3\n4,5,6\n7,8,9.5\n', {}),
        ("latin1.csv", "caf\xe9,b,y\n1,2,3\n4,5,6\n7,8,9.5\n", {"encoding": "latin-1"}),
    ],
)
def test_every_csv_reader_gives_the_same_columns_and_values(tmp_path, name, text, options):
    path = tmp_path / name
    path.write_bytes(text.encode(options.get("encoding", "utf-8")))
    results = [load_training_data(path, "y", reader=reader, **options) for reader in READERS]
    for result in results:
        assert (
            result.feature_names == results[0].feature_names
            and result.feature_names[0].strip() == result.feature_names[0]
        )
        assert np.array_equal(result.X, results[0].X) and np.array_equal(result.y, results[0].y)
    assert results[0].y.tolist() == [3.0, 6.0, 9.5]
    expected_second = [1.0, 0.0, 1.0] if name == "booleans.csv" else [2.0, 5.0, 8.0]
    assert results[0].X[:, 1].tolist() == expected_second


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,y\n1,2,3,4\n4,5,6\n", "line 2 has 4 field(s) but the header has 3"),
        ("a,b,y\n1,2,3\n4,5,6,7\n", "line 3 has 4 field(s) but the header has 3"),
        ("a,b,y\n1,2,3\n4,5\n", "line 3 has 2 field(s) but the header has 3"),
        # Short in a column that is not read (pandas would fill it with NaN), and uneven lines whose
        # separators add up to the right total (a count over the whole file would miss them).
        ("a,y,unused\n1,2,3\n4,5\n6,7,8\n", "line 3 has 2 field(s) but the header has 3"),
        ("a,b,y\n1,2,3,4\n4,5\n6,7,8\n", "line 2 has 4 field(s) but the header has 3"),
        ("a,b;y\n1,2,3\n", "holds both ',' and ';'; say which separates fields with --sep"),
        ("caf\xe9,b,y\n1,2,3\n", "the header line is not UTF-8 text (byte 0xe9 at offset 3)"),
    ],
)
def test_every_csv_reader_refuses_the_same_broken_files_with_the_same_message(tmp_path, text, message):
    path = tmp_path / "broken.csv"
    path.write_bytes(text.encode("latin-1"))
    features = ["a"] if "unused" in text else None
    for reader in READERS:
        with pytest.raises(DataError) as caught:
            load_training_data(path, "y", features, reader=reader)
        assert message in str(caught.value), (reader, str(caught.value))
    completed = run_cli("fit", path, "--target", "y", *(["--features", "a"] if features else []))
    assert_bad_input(completed, message)
    assert len(completed.stderr.strip().splitlines()) <= 3  # the reading note, maybe, then one line


def test_every_csv_reader_reads_a_header_with_a_repeated_name_by_position(tmp_path):
    path = tmp_path / "repeated.csv"
    path.write_text("a,note,note,y\n1,0,0,3\n2,1,1,5\n4,0,1,9\n")
    results = [load_training_data(path, "y", ["a"], reader=reader) for reader in READERS]
    for result in results:
        assert result.X[:, 0].tolist() == [1.0, 2.0, 4.0] and result.y.tolist() == [3.0, 5.0, 9.0]


def test_sep_and_encoding_from_the_command_line(tmp_path):
    path = tmp_path / "export.csv"
    rows = "".join(f"{x};{2 * x + 1}\n" for x in range(20))
    path.write_bytes(("temp\xe9rature;y\n" + rows).encode("latin-1"))
    assert_bad_input(run_cli("fit", path, "--target", "y"), "--encoding latin-1")
    completed = run_cli("fit", path, "--target", "y", "--encoding", "latin-1", "--sep", ";", "--json", "-")
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout)
    assert summary["feature_names"] == ["température"] and abs(summary["coef"][0] - 2.0) < 1e-9


def test_predictions_text_is_one_bare_column_and_csv_quotes_its_header(tmp_path):
    model_path = tmp_path / "model.json"
    save_model(model_path, LinearModel(["x"], [2.0], 1.0, target_name="price, USD"))
    np.save(tmp_path / "x.npy", np.arange(5.0))
    assert run_cli("predict", model_path, tmp_path / "x.npy", "--out", tmp_path / "p.txt").returncode == 0
    assert (tmp_path / "p.txt").read_text().split() == ["1.0", "3.0", "5.0", "7.0", "9.0"]
    assert run_cli("predict", model_path, tmp_path / "x.npy", "--out", tmp_path / "p.csv").returncode == 0
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == '"predicted_price, USD"'
    import csv

    with open(tmp_path / "p.csv", newline="") as handle:
        assert next(csv.reader(handle)) == ["predicted_price, USD"]


def test_predict_writes_its_output_in_blocks_not_as_one_string(tmp_path):
    rows = 4_000_000
    save_model(tmp_path / "model.json", LinearModel(["x"], [2.0], 1.0, target_name="y"))
    np.save(tmp_path / "small.npy", np.arange(10.0))
    np.save(tmp_path / "large.npy", np.linspace(0.0, 1.0, rows))  # 32 MB in, about 75 MB of text out
    program = f"""
import resource
from fastgd.cli import main
folder = {str(tmp_path)!r}
assert main(["predict", folder + "/model.json", folder + "/small.npy", "--out", folder + "/small.csv", "-q"]) == 0
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert main(["predict", folder + "/model.json", folder + "/large.npy", "--out", folder + "/large.csv", "-q"]) == 0
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "large.csv").stat().st_size > 60e6
    # Input copy (32 MB) and predictions (32 MB) are needed; the text (75 MB) and 4 million Python
    # floats (128 MB) as one list would be on top.
    grown = int(completed.stdout.strip())
    assert grown < 110, f"{grown} MB of peak memory grown while predicting"
