"""Bad input gets a specific exception naming the argument; odd-but-valid input just works."""

from __future__ import annotations

import numpy as np
import pytest

import fastgd

# These tests stop runs at small iteration caps on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::fastgd.ConvergenceWarning")

X_OK = np.arange(12.0).reshape(6, 2)
Y_OK = np.arange(6.0)


def train(X=X_OK, y=Y_OK, **kwargs):
    kwargs.setdefault("lr", 0.01)
    kwargs.setdefault("iterations", 3)
    return fastgd.train(X, y, **kwargs)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"y": np.arange(5.0)}, ValueError, "mismatched lengths: X has 6 rows but y has 5"),
        ({"X": np.empty((0, 2)), "y": np.empty(0)}, ValueError, "X is empty"),
        ({"X": np.empty(0), "y": np.empty(0)}, ValueError, "X is empty"),
        ({"X": np.empty((6, 0))}, ValueError, "zero features"),
        ({"X": np.ones((6, 2, 2))}, ValueError, "got 3-D"),
        ({"X": np.float64(3.0), "y": [1.0]}, ValueError, "got 0-D"),
        ({"y": np.ones((6, 2))}, ValueError, r"y must be 1-D"),
        ({"X": np.where(np.eye(6, 2) > 0, np.nan, 1.0)}, ValueError, "X contains NaN at row 0, column 0"),
        ({"X": np.array([1.0, 2.0, np.inf, 4.0, 5.0, 6.0])}, ValueError, "X contains infinity at row 2"),
        ({"y": np.array([1.0, 2, 3, 4, np.nan, 6])}, ValueError, "y contains NaN at row 4"),
        ({"y": np.array([1.0, 2, 3, 4, 5, -np.inf])}, ValueError, "y contains infinity at row 5"),
        ({"X": X_OK.astype(complex)}, TypeError, "X has complex dtype"),
        ({"y": Y_OK.astype(complex)}, TypeError, "y has complex dtype"),
        ({"X": X_OK.astype(object)}, TypeError, "X has non-numeric dtype object"),
        ({"X": np.array(["a", "b", "c", "d", "e", "f"])}, TypeError, "X has non-numeric dtype <U1"),
        ({"y": np.array(["1"] * 6)}, TypeError, "y has non-numeric dtype"),
        ({"X": [[1.0, 2.0], [3.0]], "y": [1.0, 2.0]}, ValueError, "X could not be read as a numeric array"),
        ({"lr": 0.0}, ValueError, "lr must be a positive finite number, got 0.0"),
        ({"lr": -0.1}, ValueError, "lr must be a positive finite number"),
        ({"lr": float("nan")}, ValueError, "lr must be a positive finite number"),
        ({"lr": float("inf")}, ValueError, "lr must be a positive finite number"),
        ({"lr": "0.1"}, TypeError, "lr must be a positive finite number, got '0.1' of type str"),
        ({"lr": True}, TypeError, "lr must be a positive finite number"),
        ({"iterations": -1}, ValueError, "iterations must be a non-negative integer, got -1"),
        ({"iterations": 2.5}, TypeError, "iterations must be a non-negative integer, got 2.5"),
        ({"iterations": "10"}, TypeError, "iterations must be a non-negative integer"),
        ({"loss_threshold": -1e-3}, ValueError, "loss_threshold must be None or a non-negative number"),
        ({"loss_threshold": float("nan")}, ValueError, "loss_threshold must be None or a non-negative number"),
        ({"w0": [1.0, 2.0, 3.0]}, ValueError, r"w0 must have shape \(2,\)"),
        ({"w0": [np.nan, 1.0]}, ValueError, "w0 contains NaN"),
        ({"b0": np.inf}, ValueError, "b0 must be a finite number"),
        ({"sample_weight": np.ones(5)}, ValueError, r"sample_weight must have shape \(6,\)"),
        ({"sample_weight": -np.ones(6)}, ValueError, "sample_weight has a negative value at row 0"),
        ({"sample_weight": np.zeros(6)}, ValueError, "sample_weight sums to zero"),
        ({"sample_weight": np.full(6, np.nan)}, ValueError, "sample_weight contains NaN"),
    ],
)
def test_bad_input_raises_a_specific_error(kwargs, error, message, backend):
    with pytest.raises(error, match=message):
        train(backend=backend, **kwargs)


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match=r"backend must be one of \('numba', 'numpy'\), got 'cuda'"):
        train(backend="cuda")


def test_rejected_input_is_left_untouched():
    X = np.arange(12.0).reshape(6, 2)
    X[3, 1] = np.nan
    y = np.arange(6.0)
    before = X.copy(), y.copy()
    with pytest.raises(ValueError):
        fastgd.train(X, y, lr=0.1, iterations=2)
    np.testing.assert_array_equal(X, before[0])
    np.testing.assert_array_equal(y, before[1])


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_, np.float16])
def test_integer_bool_and_half_inputs_are_converted(dtype):
    X = (np.arange(40).reshape(20, 2) % 2).astype(dtype)
    y = np.arange(20).astype(dtype if dtype != np.bool_ else np.int8)
    result = fastgd.train(X, y, lr=0.1, iterations=50)
    expected = fastgd.train(X.astype(np.float64), y.astype(np.float64), lr=0.1, iterations=50)
    np.testing.assert_array_equal(result.w, expected.w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_inputs_are_used_without_a_copy(dtype):
    from fastgd.training import prepare_data

    X = np.ones((50, 3), dtype=dtype)
    data = prepare_data(X, np.ones(50, dtype=dtype))
    assert data.X is X
    X_fortran = np.asfortranarray(X)
    assert prepare_data(X_fortran, np.ones(50)).X is X_fortran


def test_byte_swapped_input_is_converted_to_native_order():
    X = np.arange(20.0).reshape(10, 2).astype(">f8")
    y = np.arange(10.0).astype(">f4")
    result = fastgd.train(X, y, lr=0.001, iterations=10)
    expected = fastgd.train(X.astype("=f8"), y.astype("=f4"), lr=0.001, iterations=10)
    np.testing.assert_array_equal(result.w, expected.w)


def test_column_vector_target_is_accepted():
    result = train(y=Y_OK[:, None])
    assert result.n_iter == 3


def test_lists_are_accepted():
    result = fastgd.train([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0], lr=0.1, iterations=2000)
    np.testing.assert_allclose(result.w, [2.0])
    assert result.b == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs", [{"n_threads": 0}, {"n_threads": 10_000}])
def test_thread_count_out_of_range_is_rejected(kwargs):
    with pytest.raises(ValueError, match="n_threads must be between 1 and"):
        train(**kwargs)


def test_predict_validates_parameters():
    with pytest.raises(ValueError, match=r"w must have shape \(2,\)"):
        fastgd.predict(X_OK, [1.0], 0.0)
    with pytest.raises(ValueError, match="X contains NaN"):
        fastgd.predict(np.array([np.nan, 1.0]), 1.0, 0.0)
