"""The backends: each is one row of the same few functions, looked up by name in one place.

A backend runs the shared loop (:func:`fastgd.loop.descent_loop`) and computes
what an epoch, the sufficient statistics and predictions need. ``train``, the
estimator, :mod:`fastgd.ops`, the command line and :mod:`fastgd.dask` take a
backend by name from :func:`get`; adding a backend means adding its functions
and one row of :data:`BACKEND_TABLE`.

* ``"numpy"``: the reference path. The loop runs as Python, each epoch is
  :mod:`fastgd.reference`'s numpy (or an object's ``epoch`` method: the Dask
  front end's passes), the statistics come from
  :func:`fastgd.gram.reference_statistics`.
* ``"numba"``: the kernel path. The same loop compiled, fused kernels, the
  kernel (or BLAS-block) statistics pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import gram, kernels, loop, reference
from ._config import chunk_rows_for
from .types import BACKENDS, DataPass, SufficientStatistics


@dataclass(frozen=True)
class Backend:
    """The functions one backend provides.

    ``loop(data, data_hessian, settings, state, start, n_steps)`` runs
    iterations; ``evaluate(epoch_input, params, grad)`` returns a loss and
    writes its gradient; ``statistics(data)`` is one pass over a
    :class:`~fastgd.types.DataPass`; ``predict(X, w, b)`` returns float64
    predictions for ``w`` of shape ``(d,)``.
    """

    name: str
    loop: Callable
    evaluate: Callable[..., float]
    statistics: Callable[[DataPass], SufficientStatistics]
    predict: Callable[[np.ndarray, NDArray[np.float64], float], NDArray[np.float64]]


def _reference_statistics(data: DataPass) -> SufficientStatistics:
    return gram.reference_statistics(data.X, data.y, data.sample_weight)


def _reference_predict(X: np.ndarray, w: NDArray[np.float64], b: float) -> NDArray[np.float64]:
    return reference.predict(X, w[0] if X.ndim == 1 else w, b)


def _kernel_predict(X: np.ndarray, w: NDArray[np.float64], b: float) -> NDArray[np.float64]:
    out = np.empty(X.shape[0])
    kernels.predict_into(X, w, b, chunk_rows_for(w.shape[0]), out)
    return out


BACKEND_TABLE: dict[str, Backend] = {
    "numpy": Backend("numpy", loop.descent_loop, loop.evaluate, _reference_statistics, _reference_predict),
    "numba": Backend(
        "numba", loop.descent_loop_compiled, loop.evaluate_kernels, gram.kernel_statistics, _kernel_predict
    ),
}
assert tuple(sorted(BACKEND_TABLE)) == tuple(sorted(BACKENDS))


def _one_at_a_time(function: Callable) -> Callable:
    """``function`` holding numba's threading-layer lock (:func:`fastgd.kernels.layer_lock`) while it runs."""

    def locked(*args):
        with kernels.layer_lock():
            return function(*args)

    locked.__name__ = locked.__qualname__ = function.__name__
    return locked


def get(name: str) -> Backend:
    """The backend called ``name``, ready to run (a ValueError naming the choices otherwise).

    Under numba's ``workqueue`` threading layer the numba backend's functions
    take a process-wide lock, so Python threads training at once wait for one
    another instead of crashing the process.
    """
    if not isinstance(name, str) or name not in BACKEND_TABLE:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    backend = BACKEND_TABLE[name]
    if name == "numba":
        kernels.start_threading_layer()
        if kernels.calls_one_at_a_time():
            fields = ("loop", "evaluate", "statistics", "predict")
            backend = Backend(name, *(_one_at_a_time(getattr(backend, field)) for field in fields))
    return backend
