"""Every code block in README.md runs as written (on smaller data), and does what the text says."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastgd

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
# The first two blocks are the fresh-machine commands, which CI itself runs (.ci/run): install and test.
INSTALL_COMMANDS = (
    "python -m pip install -e . && python -m fastgd",
    'python -m pip install -e ".[test]" && python -m pytest',
)


def blocks(language: str) -> list[str]:
    return [code for found, code in BLOCK.findall(README.read_text()) if found == language]


def test_the_readme_starts_with_the_two_fresh_machine_commands():
    commands = [code.strip() for code in blocks("bash")[:2]]
    assert commands == list(INSTALL_COMMANDS)
    test_command = shlex.split(INSTALL_COMMANDS[1].split("&&")[1])
    assert test_command == ["python", "-m", "pytest"]  # what CI runs


def test_the_python_quickstart_runs_and_reaches_the_least_squares_answer():
    (code,) = blocks("python")
    small = code.replace("1_000_000", "20_000")  # the same data, 50 times fewer rows
    assert small != code
    namespace: dict = {}
    with warnings.catch_warnings():
        # The quickstart's plain gradient descent with a tiny fixed lr is the classic algorithm: it warns, as documented.
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        exec(compile(small, "README.md", "exec"), namespace)
    X, y, model = namespace["X"], namespace["y"], namespace["model"]
    design = np.column_stack([X, np.ones(len(X))])
    exact = np.linalg.lstsq(design, y, rcond=None)[0]
    standardised = np.abs(model.coef_ - exact[:-1]) * X.std(axis=0) / y.std()
    assert model.converged_ and standardised.max() < 1e-6
    assert namespace["result"].stop_reason in ("tol", "iterations")
    # partial_fit over ten batches ends where one fit on all rows does.
    # (In standardised units: both are within tol=1e-8 of the optimum; y's spread is set by the 1e4-scale column.)
    batches = namespace["batches"]
    assert np.max(np.abs(batches.coef_ - model.coef_) * X.std(axis=0) / y.std()) < 3e-8
    assert batches.converged_
    # The lasso is scikit-learn's.
    from sklearn.linear_model import Lasso

    lasso, reference = namespace["lasso"], Lasso(alpha=0.1, tol=1e-12, max_iter=100_000).fit(X, y)
    assert lasso.converged_
    assert np.max(np.abs(lasso.coef_ - reference.coef_) * X.std(axis=0) / y.std()) < 1e-6


def test_the_command_line_quickstart_runs_on_a_file_like_the_one_it_names(tmp_path):
    commands = [line for code in blocks("bash")[2:] for line in code.splitlines() if line.startswith("fastgd ")]
    assert commands
    rng = np.random.default_rng(4)
    area, rooms = rng.uniform(40, 250, 300), rng.integers(1, 7, 300)
    price = 3000 * area + 15000 * rooms + rng.normal(0, 20000, 300)
    table = np.column_stack([area, rooms, price])
    np.savetxt(tmp_path / "houses.csv", table, delimiter=",", header="area,rooms,price", comments="", fmt="%.6f")
    for line in commands:
        arguments = shlex.split(line.split("#")[0])[1:]
        completed = subprocess.run(
            [sys.executable, "-m", "fastgd", *arguments], cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert completed.returncode == 0, completed.stderr
        assert "converged" in completed.stdout and "yes" in completed.stdout


@pytest.mark.parametrize(
    "document", [README, *sorted((README.parent / "docs").glob("*.md"))], ids=lambda path: path.name
)
def test_links_from_the_readme_and_docs_point_at_files_that_exist(document):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text()):
        if not target.startswith(("http://", "https://", "mailto:")):
            assert (document.parent / target).exists(), f"{document.name} links to missing {target}"
