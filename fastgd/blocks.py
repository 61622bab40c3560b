"""Data in row blocks: an epoch as the sum of per-block partial sums, for the Dask and streaming front ends.

A block's kernel pass (:func:`gradient_sums`) returns raw sums (``d + 2``
floats); :class:`BlockPasses` adds them in block order (so the result does
not depend on which block finished first), divides by the total weight and
maps the gradient to the loop's parametrisation. The shared loop runs such an
object as Python (the numpy backend's loop), one epoch per pass over the
blocks. How the blocks are reached (tasks on a cluster, reads from a file) is
the front end's ``block_sums``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from . import backends, kernels, stepsize
from ._config import chunk_rows_for, parallel_for
from .loop import from_model_gradient, to_model
from .setup import make_plan


def gradient_sums(X, y, sample_weight, params: NDArray[np.float64], targets: bool) -> NDArray[np.float64]:
    """``[sum s r^2, 2 sum s r x_1, ..., 2 sum s r x_d, 2 sum s r]`` for ``r = x.w + b - y`` over one block.

    With ``targets=False``, ``y`` is taken as zero (a Hessian-vector product).
    """
    n_features = params.shape[0] - 1
    sums = np.empty(n_features + 2)
    # total_weight = 1 gives raw sums; the caller divides by the total weight once.
    loss_sum, intercept_sum = kernels.fused_loss_and_gradients(
        X, y, sample_weight, 1.0, params[:n_features], params[n_features], chunk_rows_for(n_features),
        sums[1:-1], 1.0 if targets else 0.0, parallel_for(X.size),
    )  # fmt: skip
    sums[0] = loss_sum
    sums[-1] = intercept_sum
    return sums


def sum_in_order(parts: Sequence[NDArray[np.float64]]) -> NDArray[np.float64]:
    """The parts added in the order given: the same result whichever block was computed first."""
    total = np.array(parts[0], dtype=np.float64, copy=True)
    for part in parts[1:]:
        total += part
    return total


def plan_on_blocks(options, moments, statistics, passes: Callable[..., BlockPasses]):
    """The plan of a run over row blocks, and its epoch inputs: ``(plan, data_passes, hessian_passes, setup_passes)``.

    ``passes(shift, scale, targets)`` makes the front end's :class:`BlockPasses`.
    Without the statistics the automatic step comes from power iteration over
    the blocks, and ``setup_passes`` counts those passes with the setup pass.
    """
    python_loop = backends.get("numpy")  # the passes are Python objects: the numpy backend runs their loop
    setup_passes = [1]

    def estimate_lipschitz(shift, scale, intercept):
        lipschitz, count = stepsize.power_iteration_lipschitz(
            passes(shift, scale, False), python_loop.evaluate, shift.shape[0] + 1, intercept=intercept
        )
        setup_passes[0] += count
        return lipschitz

    plan = make_plan(options, moments, statistics, estimate_lipschitz)
    return plan, passes(plan.shift, plan.scale, True), passes(plan.shift, plan.scale, False), setup_passes[0]


class BlockPasses:
    """Epoch data for the shared loop: each ``epoch`` call is one pass over the row blocks.

    The loop's parametrisation is ``(x - shift) . (scale * v) + c`` (see
    :mod:`fastgd.setup`); the blocks see the plain model ``x . w + b``, and
    the gradient is mapped back here. With ``targets=False`` the blocks take
    ``y = 0``: the "loss" at ``v`` is then ``v' H v`` and the "gradient"
    ``2 H v``. Subclasses say how to reach the blocks (:meth:`block_sums`).
    """

    def __init__(
        self, total_weight: float, shift: NDArray[np.float64], scale: NDArray[np.float64], *, targets: bool = True
    ):
        self.total_weight = total_weight
        self.shift = shift
        self.scale = scale
        self.targets = targets
        self.n_params = shift.shape[0] + 1

    def block_sums(self, params: NDArray[np.float64], targets: bool) -> list[NDArray[np.float64]]:
        """:func:`gradient_sums` of every block at the plain model's ``params = [w, b]``, in block order."""
        raise NotImplementedError

    def epoch(self, params: NDArray[np.float64], grad: NDArray[np.float64]) -> float:
        """Return the loss at ``params`` and write its gradient into ``grad`` (one pass over the blocks)."""
        w, b = to_model(self, params)
        totals = sum_in_order(self.block_sums(np.append(w, b), self.targets))
        grad[:] = totals[1:] / self.total_weight
        from_model_gradient(self, grad)
        return float(totals[0] / self.total_weight)
