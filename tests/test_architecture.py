"""The package's structure: no import cycles, every module importable on its own, a leaf of shared types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import check_imports  # noqa: E402  (scripts/check_imports.py, which CI also runs)

# Modules that need an optional dependency to import.
OPTIONAL = {"estimator": "sklearn", "dask": "dask"}
MODULES = sorted(path.stem for path in (ROOT / "fastgd").glob("*.py") if path.stem not in ("__init__", "__main__"))


def test_there_are_no_import_cycles():
    assert check_imports.cycles(check_imports.import_graph()) == []


def test_the_cycle_check_finds_a_cycle_when_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert check_imports.cycles(graph) == [["a", "b", "c", "a"]]


def test_the_shared_types_import_nothing_of_fastgd():
    graph = check_imports.import_graph()
    assert graph["types"] == set() and graph["errors"] == {"types"}


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_on_its_own(module):
    if module in OPTIONAL:
        pytest.importorskip(OPTIONAL[module])
    completed = subprocess.run(
        [sys.executable, "-c", f"import fastgd.{module}"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
