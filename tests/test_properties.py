"""Property-based parity: for any shape, dtype and values hypothesis draws, kernel == reference."""

from __future__ import annotations

import numpy as np
from conftest import assert_within, rounding_bounds
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastgd
from fastgd import reference

finite = {"allow_nan": False, "allow_infinity": False, "allow_subnormal": False}


@st.composite
def problems(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.integers(1, 300))
    d = draw(st.one_of(st.none(), st.integers(1, 12)))
    shape = (n,) if d is None else (n, d)
    bound = draw(st.sampled_from([1.0, 1e3, 1e6]))
    elements = st.floats(-bound, bound, width=32 if dtype == np.float32 else 64, **finite)
    X = draw(hnp.arrays(dtype, shape, elements=elements))
    y = draw(hnp.arrays(dtype, n, elements=elements))
    params = st.floats(-100, 100, **finite)
    w = draw(params) if d is None else np.array(draw(st.lists(params, min_size=d, max_size=d)))
    b = draw(params)
    fortran = draw(st.booleans())
    if fortran and d is not None:
        X = np.asfortranarray(X)
    weights = draw(st.one_of(st.none(), hnp.arrays(np.float64, n, elements=st.floats(0.5, 2.0))))
    return X, y, w, b, weights


@settings(max_examples=150, deadline=None)
@given(problems())
def test_kernels_equal_reference_for_any_input(problem):
    X, y, w, b, weights = problem
    loss_bound, grad_w_bound, grad_b_bound, predict_bound = rounding_bounds(X, y, w, b, weights)
    expected = reference.loss_and_gradients(X, y, w, b, weights)
    actual = fastgd.loss_and_gradients(X, y, w, b, sample_weight=weights)
    assert_within(actual[0], expected[0], loss_bound, "loss")
    assert_within(actual[1], expected[1], grad_w_bound, "dL/dw")
    assert_within(actual[2], expected[2], grad_b_bound, "dL/db")
    assert_within(fastgd.predict(X, w, b), reference.predict(X, w, b), predict_bound, "predictions")
