"""Input validation: every check runs here, in Python, before any kernel.

The rules: a clear exception that names the argument, says what is wrong and
what to do; never modify the caller's arrays; copy only when the kernels
cannot use an array as it is (an unsupported dtype or a non-native byte
order). float32 and float64 stay as they are; Fortran-order, strided and
read-only (memory-mapped) arrays are used without a copy.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._config import chunk_rows_for, parallel_for
from .types import DataPass, n_features_of

# Finiteness is checked in slices of about this many elements, so a check of
# a 10 GB array allocates a few hundred kilobytes, not a 1.25 GB mask.
_FINITE_CHECK_ELEMENTS = 1 << 16


def _as_numeric_array(values: ArrayLike, name: str) -> np.ndarray:
    if isinstance(values, np.ma.MaskedArray):
        # np.asarray would drop the mask and train on the hidden values as if they were data.
        raise TypeError(
            f"{name} is a numpy masked array; fastgd does not honour masks. Drop the masked rows first "
            f"(e.g. keep = ~np.ma.getmaskarray({name}){'.any(axis=1)' if name == 'X' else ''}) or fill them "
            f"({name}.filled(value)), and pass a plain array"
        )
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{name} could not be read as a numeric array ({error}); pass a rectangular array of numbers"
        ) from error
    check_dtype(array.dtype, name)
    kind = array.dtype.kind
    if kind == "f" and array.dtype.itemsize in (4, 8):
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        return array
    # Integers, booleans and float16: the kernels compute in float64 anyway.
    return array.astype(np.float64)


def check_dtype(dtype: np.dtype, name: str) -> None:
    """A TypeError unless ``dtype`` is real and numeric (integers and booleans are converted later)."""
    if dtype.kind == "c":
        raise TypeError(
            f"{name} has complex dtype {dtype}; fastgd fits real-valued data, pass the real part (or magnitude) explicitly"
        )
    if dtype.kind not in "biuf":
        raise TypeError(
            f"{name} has non-numeric dtype {dtype}; convert it to float32 or float64 first (e.g. {name}.astype(float))"
        )


def check_finite(array: np.ndarray, name: str, first_row: int = 0, where: str = "") -> None:
    """A ValueError naming the first NaN or infinity of ``array`` by row and column.

    ``first_row`` is the row of the whole data where ``array`` starts and
    ``where`` a note for the message (the Dask front end checks row blocks).
    """
    if array.dtype.kind != "f":
        return
    rows_per_slice = max(1, _FINITE_CHECK_ELEMENTS // max(1, array.size // max(1, array.shape[0])))
    for start in range(0, array.shape[0], rows_per_slice):
        block = array[start : start + rows_per_slice]
        finite = np.isfinite(block)
        if finite.all():
            continue
        bad = np.argwhere(~finite)[0]
        row = first_row + start + int(bad[0])
        value = block[tuple(bad)]
        what = "NaN" if np.isnan(value) else "infinity"
        position = f"row {row}" if array.ndim == 1 else f"row {row}, column {int(bad[1])}"
        raise ValueError(
            f"{name} contains {what} at {position}{where}; remove or impute non-finite values before training"
        )


def check_data_values(data: DataPass) -> None:
    """The NaN and infinity check that ``prepare_data(..., check_values=False)`` left out."""
    check_finite(data.X, "X")
    check_finite(data.y, "y")


def check_non_negative_weights(weights: np.ndarray, first_row: int = 0, where: str = "") -> None:
    """A ValueError naming the first negative sample weight by row."""
    negative = weights < 0
    if negative.any():
        row = first_row + int(np.argmax(negative))
        raise ValueError(f"sample_weight has a negative value at row {row}{where}; weights must be >= 0")


def as_features(X: ArrayLike, name: str = "X", *, finite: bool = True) -> NDArray[np.floating]:
    """Validate a feature matrix of shape ``(n,)`` or ``(n, d)`` (with ``finite``, also its values).

    Returns ``X`` itself when it is float32 or float64 in native byte order,
    otherwise a float64 copy.
    """
    array = _as_numeric_array(X, name)
    if array.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D of shape (n,) for one feature or 2-D of shape (n, d); got {array.ndim}-D with shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 rows); training needs at least one sample")
    if array.ndim == 2 and array.shape[1] == 0:
        raise ValueError(
            f"{name} has {array.shape[0]} rows but zero features (shape {array.shape}); pass at least one column"
        )
    if finite:
        check_finite(array, name)
    return array


def as_target(y: ArrayLike, n_rows: int, name: str = "y", *, finite: bool = True) -> NDArray[np.floating]:
    """Validate a target vector of shape ``(n_rows,)`` (with ``finite``, also its values)."""
    array = _as_numeric_array(y, name)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape (n,); got shape {array.shape}")
    if array.shape[0] != n_rows:
        raise ValueError(
            f"X and {name} have mismatched lengths: X has {n_rows} rows but {name} has {array.shape[0]}; pass one target per row of X"
        )
    if finite:
        check_finite(array, name)
    return array


def as_sample_weight(sample_weight: ArrayLike | None, n_rows: int) -> NDArray[np.float64] | None:
    """Validate sample weights: ``None``, or ``n_rows`` finite non-negative numbers, not all zero."""
    if sample_weight is None:
        return None
    array = _as_numeric_array(sample_weight, "sample_weight")
    if array.ndim != 1 or array.shape[0] != n_rows:
        raise ValueError(f"sample_weight must have shape ({n_rows},), one weight per row of X; got shape {array.shape}")
    check_finite(array, "sample_weight")
    check_non_negative_weights(array)
    array = np.asarray(array, dtype=np.float64)
    if not array.sum() > 0:
        raise ValueError("sample_weight sums to zero; at least one sample needs a positive weight")
    return array


def check_learning_rate(lr: object, name: str = "lr") -> float:
    """A positive, finite real number."""
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real):
        raise TypeError(f"{name} must be a positive finite number, got {lr!r} of type {type(lr).__name__}")
    value = float(lr)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {lr!r}")
    return value


def check_count(value: object, name: str) -> int:
    """A non-negative integer (``iterations``, ``callback_every``, ``n_threads``...), named ``name`` in errors."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a non-negative integer, got {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be a non-negative integer, got {value!r} of type {type(value).__name__}"
        ) from None
    if count < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {count}")
    return count


def check_iterations(iterations: object) -> int:
    """The iteration cap: a non-negative integer."""
    return check_count(iterations, "iterations")


def check_loss_threshold(loss_threshold: object) -> float | None:
    """``None`` or a non-negative number."""
    if loss_threshold is None:
        return None
    if isinstance(loss_threshold, (bool, np.bool_)) or not isinstance(loss_threshold, numbers.Real):
        raise TypeError(f"loss_threshold must be None or a non-negative number, got {loss_threshold!r}")
    value = float(loss_threshold)
    if np.isnan(value) or value < 0:
        raise ValueError(f"loss_threshold must be None or a non-negative number, got {loss_threshold!r}")
    return value


def initial_parameters(
    w0: ArrayLike | None, b0: object, n_features: int, one_dimensional: bool, w_name: str = "w0", b_name: str = "b0"
) -> tuple[NDArray[np.float64], float]:
    """Starting ``(w, b)`` as a fresh float64 array of shape ``(d,)`` and a float.

    ``w0`` defaults to zeros; for one-dimensional ``X`` it may be a scalar.
    The caller's ``w0`` is copied, never modified.
    """
    if w0 is None:
        w = np.zeros(n_features)
    else:
        w = np.array(_as_numeric_array(w0, w_name), dtype=np.float64).reshape(-1) if np.ndim(w0) <= 1 else None
        if w is None or w.shape[0] != n_features:
            expected = "a scalar or shape (1,)" if one_dimensional else f"shape ({n_features},)"
            raise ValueError(
                f"{w_name} must have {expected} to match X's {n_features} feature(s); got shape {np.shape(w0)}"
            )
        if not np.isfinite(w).all():
            raise ValueError(f"{w_name} contains NaN or infinity; pass finite parameters")
    if isinstance(b0, (bool, np.bool_)) or not isinstance(b0, numbers.Real):
        raise TypeError(f"{b_name} must be a finite number, got {b0!r}")
    b = float(b0)
    if not np.isfinite(b):
        raise ValueError(f"{b_name} must be a finite number, got {b0!r}")
    return w, b


def prepare_data(X, y, sample_weight=None, *, check_values: bool = True) -> DataPass:
    """Validate ``X``, ``y`` and ``sample_weight`` and bundle them for an epoch (no centring or scaling).

    ``check_values=False`` leaves out the search for NaN and infinity in ``X``
    and ``y`` (a full read of both) for a caller that runs it later with
    :func:`check_data_values`, as training does only when its statistics
    pass comes out non-finite.
    """
    X = as_features(X, finite=check_values)
    y = as_target(y, X.shape[0], finite=check_values)
    if X.dtype == np.float64 or y.dtype not in (np.float32, np.float64):
        y = np.asarray(y, dtype=np.float64)
    weights = as_sample_weight(sample_weight, X.shape[0])
    total_weight = float(X.shape[0]) if weights is None else float(weights.sum())
    n_features = n_features_of(X)
    if X.ndim == 2 and n_features == 1 and X.strides[0] == X.itemsize:
        # One column with unit row stride: the one-feature kernel reads it as a vector.
        X = X[:, 0]
    return DataPass(
        X, y, weights, total_weight, np.zeros(0), np.zeros(0), chunk_rows_for(n_features), 1.0, parallel_for(X.size)
    )
