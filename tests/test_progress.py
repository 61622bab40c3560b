"""Progress bars: a train() callback that shows a tqdm bar, only on a terminal, at a cost of nothing."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest

import fastgd
from fastgd.progress import ProgressBar, choose_callback_every

pytest.importorskip("tqdm", reason="the progress bar is optional (fastgd[progress])")

X = np.linspace(0.0, 1.0, 30)
Y = 3.0 * X + 2.0


def test_updates_are_about_one_percent_apart_and_never_more_than_the_run():
    assert choose_callback_every(20_000) == 200
    assert choose_callback_every(30) == 1
    assert choose_callback_every(0) == 1
    for total in (1, 7, 100, 12_345, 10**7):
        assert 1 <= choose_callback_every(total) <= total


def test_small_data_is_reported_rarely_large_data_often():
    # 30 rows: an iteration is ~0.3 us, so ~100 updates would cost more than the run; a few suffice.
    assert 20_000 / choose_callback_every(20_000, n_elements=30) < 10
    # 10 million elements: an iteration takes milliseconds, so every one of 30 may be shown.
    assert choose_callback_every(30, n_elements=10_000_000) == 1


def test_the_bar_is_off_when_the_stream_is_not_a_terminal():
    stream = io.StringIO()
    with ProgressBar(100, file=stream) as bar:
        assert not bar.enabled
        assert bar(9, 0.5, 1.0, 0.0) is None
    assert stream.getvalue() == "" and bar.last_loss == 0.5


def test_an_enabled_bar_shows_progress_and_the_loss():
    stream = io.StringIO()
    calls = []
    with ProgressBar(5000, enabled=True, file=stream, description="fitting", mininterval=0) as bar:
        result = fastgd.train(
            X, Y, lr=0.5, iterations=5000, callback=bar, callback_every=1000, loss_threshold=0.0
        )  # never reached: runs to the cap
    text = stream.getvalue()
    assert "fitting" in text and "5000/5000" in text and f"loss={result.loss_history[-1]:.6g}" in text
    assert bar.last_loss == result.loss_history[-1]
    bar.close()  # closing twice is harmless
    assert calls == []


def test_a_run_that_converges_early_completes_its_bar_at_the_iterations_it_ran():
    stream = io.StringIO()
    with ProgressBar(5000, enabled=True, file=stream, mininterval=0) as bar:
        result = fastgd.train(X, Y, iterations=5000, method="nesterov", callback=bar, callback_every=10)
    assert result.stop_reason == "tol" and result.n_iter < 5000
    final_line = stream.getvalue().rsplit("\r", 1)[-1]
    assert "100%" in final_line and f"{result.n_iter}/{result.n_iter}" in final_line


def test_a_chained_callback_still_stops_training():
    seen = []

    def stop_after_two(iteration, loss, w, b):
        seen.append(iteration)
        return len(seen) < 2

    with ProgressBar(10_000, enabled=True, file=io.StringIO(), callback=stop_after_two) as bar:
        result = fastgd.train(X, Y, lr=0.5, iterations=10_000, callback=bar, callback_every=100)
    assert seen == [99, 199]
    assert result.stop_reason == "callback" and result.n_iter == 200


def test_the_bar_closes_when_training_diverges():
    stream = io.StringIO()
    with pytest.raises(fastgd.DivergenceError), ProgressBar(1000, enabled=True, file=stream) as bar:
        fastgd.train(X, Y, lr=50.0, iterations=1000, callback=bar, callback_every=10)
    assert bar._bar is None and stream.getvalue().endswith("\n")


def test_few_callbacks_on_tiny_data():
    calls = []
    every = choose_callback_every(20_000, n_elements=X.size)
    fastgd.train(X, Y, lr=0.5, iterations=20_000, callback=lambda *args: calls.append(args[0]), callback_every=every)
    assert len(calls) <= 7 and calls[-1] == 19_999


def run_fit_with_stderr(tmp_path, stderr) -> subprocess.CompletedProcess:
    data = tmp_path / "data.csv"
    data.write_text("x,y\n" + "".join(f"{x!r},{y!r}\n" for x, y in zip(X.tolist(), Y.tolist(), strict=True)))
    return subprocess.run(
        # A small step: all 20,000 iterations run (a converged run would end the bar early), then it warns.
        [
            sys.executable,
            "-m",
            "fastgd",
            "fit",
            data,
            "--target",
            "y",
            "--lr",
            "0.001",
            "--iterations",
            "20000",
        ],
        stdout=subprocess.PIPE,
        stderr=stderr,
        timeout=120,
    )


def read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the pty raises EIO once every writer has closed it
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_the_cli_draws_a_bar_on_a_terminal_and_not_into_a_pipe(tmp_path):
    parent, child = os.openpty()
    try:
        completed = run_fit_with_stderr(tmp_path, child)
    finally:
        os.close(child)
    terminal = read_all(parent).decode(errors="replace")
    os.close(parent)
    assert completed.returncode == 0
    assert "fit: 100%" in terminal and "20000/20000" in terminal and "loss=" in terminal

    piped = run_fit_with_stderr(tmp_path, subprocess.PIPE)
    assert piped.returncode == 0
    assert "%|" not in piped.stderr.decode() and "read 30 rows" in piped.stderr.decode()


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_the_cli_draws_one_bar_on_data_large_enough_for_trains_own(tmp_path):
    # 20,000 rows x 2 features x 60,000 iterations is above the size where fastgd.train shows a bar
    # by itself on the data solver (AUTO_PROGRESS_ELEMENT_PASSES): the command's bar must be the only one.
    from fastgd.training import AUTO_PROGRESS_ELEMENT_PASSES

    rows, iterations = 20_000, 60_000
    assert rows * 2 * iterations >= AUTO_PROGRESS_ELEMENT_PASSES
    rng = np.random.default_rng(3)
    table = rng.standard_normal((rows, 3))
    data = tmp_path / "wide.csv"
    np.savetxt(data, table, delimiter=",", header="a,b,y", comments="")
    parent, child = os.openpty()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "fastgd", "fit", data, "--target", "y", "--lr", "1e-6", "--solver", "data", "--iterations", str(iterations)],
            stdout=subprocess.PIPE, stderr=child, timeout=300,
        )  # fmt: skip
    finally:
        os.close(child)
    terminal = read_all(parent).decode(errors="replace")
    os.close(parent)
    assert completed.returncode == 0, terminal
    assert "fit: 100%" in terminal
    assert "training:" not in terminal, terminal
