"""The driver of the one loop: runs it for every front end and checks what it returns.

:func:`run_descent` calls the compiled (or Python) loop of :mod:`fastgd.loop`
in stretches between callbacks and answers its stops:

* a divergence is raised as :class:`~fastgd.DivergenceError`, except that the
  automatic step halves itself and carries on from the last good point;
* a loss threshold met on a loss the loop could not know exactly (by
  conjugate gradients' recurrence, or from the statistics near rounding) is
  checked on the data first;
* a convergence claim is confirmed with a gradient from the data (and, on
  wide data, the Lanczos estimate), or the loop carries on.

Whatever stopped the run, the returned parameters' loss is checked (non-finite
or above the start is divergence) and their coefficient error estimated
(above the tolerance is a :class:`~fastgd.ConvergenceWarning` with advice).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import stepsize
from .advice import divergence_advice, not_converged_advice, representation_floor, rounding_floor
from .backends import Backend
from .convergence import (
    ErrorModel,
    elastic_net_duality_gap,
    estimated_error_model,
    lanczos_error,
    optimal_loss,
    support_error,
)
from .errors import current_syntax, format_advice, format_suggestion
from .loop import (
    CONVERGED,
    DIVERGED,
    REACHED_THRESHOLD,
    RUNNING,
    LoopSettings,
    new_state,
    stepped_gradient_norm,
)
from .setup import Plan
from .types import DEFAULT_TOL, METHOD_CODES, ConvergenceWarning, DivergenceError, TrainResult
from .types import split_params as split

# A run whose loss climbs past this multiple of its first loss is diverging.
DIVERGENCE_FACTOR = 1e4

# The returned parameters' loss may exceed the first loss by this fraction
# (plus the rounding floor) before the run counts as having diverged.
GROWTH_TOLERANCE = 1e-9

# A loss from the sufficient statistics is accurate to about 1e-15 of
# mean(y^2); below this fraction of it fastgd re-evaluates it on the data.
STATISTICS_LOSS_TRUST = 1e-7

# lr="auto" halves its step at most this many times when the loss rises.
MAX_STEP_HALVINGS = 40

# The compiled loop returns to Python after about this many seconds, so a
# Ctrl-C (which Python handles only between its own instructions) stops a
# run promptly; the loop's state carries over, so slicing changes nothing
# else. Slices start at one iteration (an epoch over a large data set can
# take a second) and grow at most SLICE_GROWTH-fold per slice towards the
# time budget. A single epoch longer than that is not cut short.
SLICE_SECONDS = 0.05
FIRST_SLICE_STEPS = 1
SLICE_GROWTH = 16

# A convergence claim that the final check rejects this many times ends the
# run: rounding leaves nothing to gain.
MAX_REJECTIONS = 3

# With an L1 penalty a claim can also fail because the loop's error map does not know the active set
# (fastgd.convergence.support_error): after such a rejection the loop runs without claiming for 1, 2,
# 4, ... iterations (doubling at each rejection) before it may claim again.
MAX_L1_REJECTIONS = 60

# A run within this many ulps of its largest standardised value is as close
# as float64 gets, whatever the tolerance asked (see TrainResult.converged).
_RESOLUTION_ULPS = 4
EPS = float(np.finfo(np.float64).eps)

Callback = Callable[[int, float, "float | NDArray[np.float64]", float], "bool | None"]


@dataclass
class Epochs:
    """How the loop reads the data: the epoch inputs for the loss and for Hessian-vector products.

    ``data`` and ``hessian`` are epoch inputs (a :class:`~fastgd.types.DataPass`,
    a :class:`~fastgd.types.GramData`, or, on the numpy backend, an object with
    an ``epoch(params, grad)`` method) that ``backend`` (a row of
    :mod:`fastgd.backends`) runs the loop on. ``data_passes`` is how many
    passes over the data one epoch costs (0 for statistics). ``check`` is a
    data-pass input for the same parametrisation, evaluated by
    ``check_backend``, to verify losses that come from statistics. ``label``
    names the backend in the result (``"dask"`` for the Dask front end).
    """

    data: Any
    hessian: Any
    backend: Backend
    data_passes: int
    label: str
    solver: str
    check: Any = None
    check_backend: Backend | None = None
    setup_passes: int = 1

    def evaluate(self, params: NDArray[np.float64], grad: NDArray[np.float64]) -> float:
        return float(self.backend.evaluate(self.data, params, grad))

    def evaluate_check(self, params: NDArray[np.float64]) -> float:
        return float(self.check_backend.evaluate(self.check, params, np.empty_like(params)))

    def hessian_vector(self, vector: NDArray[np.float64]) -> NDArray[np.float64]:
        """Half the loss's Hessian times ``vector`` (one epoch with zero targets)."""
        product = np.empty_like(vector)
        self.backend.evaluate(self.hessian, vector, product)
        return 0.5 * product


def run_descent(
    epochs: Epochs,
    plan: Plan,
    *,
    w_start: NDArray[np.float64],
    b_start: float,
    iterations: int,
    loss_threshold: float | None,
    tol: float | None,
    record_params: bool,
    callback: Callback | None,
    callback_every: int,
    one_dimensional: bool,
    started: float,
) -> TrainResult:
    """Drive the shared loop over validated inputs, check the result and package it; used by every front end.

    ``tol=None`` is fastgd's choice (see :func:`fastgd.train`).
    """
    run = _Run(epochs, plan, w_start, b_start, iterations, loss_threshold, tol, record_params, one_dimensional)
    run.iterate(callback, callback_every)
    return run.finish(started)


class _Run:
    """One run of the loop: its state, the settings it may tighten, and the passes it spent outside the loop."""

    def __init__(self, epochs, plan, w_start, b_start, iterations, loss_threshold, tol, record_params, one_dimensional):
        options = plan.options
        self.epochs = epochs
        self.plan = plan
        self.iterations = iterations
        self.loss_threshold = loss_threshold
        self.tol = DEFAULT_TOL if tol is None else tol
        # float64 holds a standardised value v only to about eps * |v|: a tolerance below that (an intercept
        # 1e9 standard deviations of y from zero) is met by the closest float64 answer.
        self.reachable_tol = max(
            self.tol, _RESOLUTION_ULPS * EPS * max(1.0, abs(plan.moments.mean_y) / plan.moments.target_scale)
        )
        self.one_dimensional = one_dimensional
        self.record_params = record_params
        # With a learning rate of the caller's, tol=None leaves the stopping to the iteration cap and the
        # loss threshold, as the plain update rule has it; the result is still checked at the end.
        early_stop = tol is not None or options.lr is None
        self.state = new_state(plan.from_original(w_start, b_start), iterations, record_params)
        self.errors: ErrorModel = plan.errors
        self.settings = LoopSettings(
            method=METHOD_CODES[options.method],
            steps=plan.steps.copy(),
            loss_threshold=-1.0 if loss_threshold is None else loss_threshold,
            divergence_factor=DIVERGENCE_FACTOR,
            loss_floor=plan.loss_floor,
            error_matrix=self.errors.matrix,
            error_max_norm=self.errors.max_norm,
            error_tol=self.reachable_tol if early_stop else -1.0,
            refresh_every=plan.refresh_every,
            ridge=plan.ridge,
            l1=plan.l1,
        )
        # Only conjugate gradients take Hessian-vector products; the other methods pass the data again,
        # which saves compiling the loop for a second kind of epoch.
        self.hessian_input = epochs.hessian if options.method == "cg" else epochs.data
        self.extra_passes = 0
        self.halvings = 0
        self.rejections = 0
        self.confirmed_error: float | None = None
        self.stop_reason = "iterations"
        self.claims_paused_for = 0
        self.resume_claims_at: int | None = None  # see MAX_L1_REJECTIONS
        self.done = 0
        self.loop_seconds = 0.0

    # --- the loop and its stops -------------------------------------------------------------------

    def iterate(self, callback: Callback | None, callback_every: int) -> None:
        loop = self.epochs.backend.loop
        state = self.state
        slice_steps = FIRST_SLICE_STEPS
        next_callback = callback_every if callback is not None else self.iterations
        while self.done < self.iterations:
            if self.resume_claims_at is not None and self.done >= self.resume_claims_at:
                self.settings = self.settings._replace(error_tol=self.reachable_tol)
                self.resume_claims_at = None
            # Up to the next callback, in time slices (SLICE_SECONDS).
            n_steps = min(slice_steps, next_callback - self.done, self.iterations - self.done)
            if self.resume_claims_at is not None:
                n_steps = min(n_steps, self.resume_claims_at - self.done)
            loop_started = time.perf_counter()
            status, steps_done = loop(self.epochs.data, self.hessian_input, self.settings, state, self.done, n_steps)
            seconds = time.perf_counter() - loop_started
            self.loop_seconds += seconds
            self.done += steps_done
            if steps_done > 0:
                fitting = int(SLICE_SECONDS * steps_done / seconds) if seconds > 0.0 else slice_steps * SLICE_GROWTH
                slice_steps = max(1, min(fitting, slice_steps * SLICE_GROWTH))
            if status == RUNNING and self.done < min(next_callback, self.iterations):
                continue  # a time slice ended between callbacks
            if self.done >= next_callback:
                next_callback = self.done + callback_every
            if status == DIVERGED and not self._halve_automatic_step():
                self._raise_divergence(state.loss_history[: self.done], state.last_good)
            if status == DIVERGED:
                continue
            if status == REACHED_THRESHOLD and not self._threshold_holds():
                continue
            if status == REACHED_THRESHOLD:
                self.stop_reason = "loss_threshold"
            if status == CONVERGED and not self._convergence_holds():
                continue
            if callback is not None:
                w_now, b_now = split(self.plan.to_original(state.params), self.one_dimensional)
                latest = float(state.loss_history[self.done - 1])
                if callback(self.done - 1, latest, w_now, b_now) is False and self.stop_reason == "iterations":
                    self.stop_reason = "callback"
            if self.stop_reason != "iterations":
                break

    def _retry_from(self, params: NDArray[np.float64], *, keep_gradient: bool = False) -> None:
        """Redo the latest iteration from ``params``; without momentum or a conjugate direction unless ``keep_gradient``."""
        state = self.state
        self.done -= 1
        if keep_gradient:  # conjugate gradients resume from this point's (true) loss and gradient
            state.cg_loss[0] = state.loss_history[self.done]
            state.since_refresh[0] = 0
            return
        state.params[:] = params
        state.previous[:] = params
        state.momentum[0] = 1.0
        state.last_loss[0] = np.inf
        state.direction[:] = 0.0
        state.old_grad[:] = 0.0
        state.since_refresh[0] = np.iinfo(np.int64).max // 2  # forces a gradient from the data

    def _halve_automatic_step(self) -> bool:
        """The automatic step proved too long for these data: halve it and retry from the last good point."""
        bad_loss = self.state.loss_history[self.done - 1]
        if self.plan.options.lr is not None or self.halvings >= MAX_STEP_HALVINGS or self.done < 2:
            return False
        if not np.isfinite(bad_loss):
            return False
        self.halvings += 1
        steps = self.settings.steps.copy()
        steps[:-1] *= 0.5
        if not self.plan.options.center:  # centred, the intercept's step is exact
            steps[-1] *= 0.5
        self.settings = self.settings._replace(steps=steps)
        self._retry_from(self.state.last_good)
        return True

    def _threshold_holds(self) -> bool:
        """Whether a loss at the threshold is the data's: a loss by recurrence, or one from the statistics near rounding, is checked."""
        state = self.state
        loss = float(state.loss_history[self.done - 1])
        epochs = self.epochs
        if state.grad_is_true[0] != 1.0:
            true_loss = self._evaluate(state.params, state.grad)
            state.grad_is_true[0] = 1.0
            self.extra_passes += epochs.data_passes
        elif epochs.check is not None and loss < STATISTICS_LOSS_TRUST * self.plan.moments.loss_scale:
            true_loss = self._evaluate_check(state.params)
            self.extra_passes += 1
        else:
            return True
        state.loss_history[self.done - 1] = true_loss
        if true_loss <= self.loss_threshold:
            return True
        if epochs.check is not None:
            self.settings = self.settings._replace(loss_threshold=-1.0)  # the statistics cannot resolve it
        self._retry_from(state.params, keep_gradient=self.plan.options.method == "cg")
        return False

    def _convergence_holds(self) -> bool:
        """Confirm the loop's claim with a gradient from the data and the final error model, or carry on."""
        state = self.state
        if state.grad_is_true[0] != 1.0:
            # The loop's record is this very point: keep the data's loss for it.
            state.loss_history[self.done - 1] = self._evaluate(state.params, state.grad)
            state.grad_is_true[0] = 1.0
            self.extra_passes += self.epochs.data_passes
        error = self._error(self.plan.optimality(state.params, state.grad), state.params)
        if error <= self.reachable_tol:
            self.stop_reason = "tol"
            self.confirmed_error = error
            return True
        self.rejections += 1
        has_l1 = self.plan.options.has_l1
        if has_l1 and self.errors.exact:
            self.claims_paused_for = 2 * self.claims_paused_for if self.claims_paused_for else 1
            self.resume_claims_at = self.done + self.claims_paused_for
            self.settings = self.settings._replace(error_tol=-1.0)
        if self.rejections >= (MAX_L1_REJECTIONS if has_l1 else MAX_REJECTIONS):
            self.stop_reason = "stalled"
            self.confirmed_error = error
            return True
        if not self.errors.exact:
            # The loop's bound assumed too large a curvature: tighten it by at least the miss.
            guess = self.errors.curvature_guess / max(4.0, error / self.reachable_tol)
            errors = self.errors
            self.errors = estimated_error_model(
                errors.standardise, errors.inverse, errors.free, errors.target_scale, guess
            )
            self.settings = self.settings._replace(error_matrix=self.errors.matrix)
        self._retry_from(state.params, keep_gradient=self.plan.options.method == "cg")
        return False

    def _evaluate(self, params: NDArray[np.float64], grad: NDArray[np.float64]) -> float:
        """The objective (loss plus penalty) at ``params`` and its smooth part's gradient, from the epochs."""
        return self.epochs.evaluate(params, grad) + self.plan.penalty(params, grad)

    def _evaluate_check(self, params: NDArray[np.float64]) -> float:
        """The objective with the loss from a pass over the data (``Epochs.check``)."""
        return self.epochs.evaluate_check(params) + self.plan.penalty(params, np.zeros_like(params))

    def _hessian_vector(self, vector: NDArray[np.float64]) -> NDArray[np.float64]:
        """Half the objective's Hessian times ``vector``: the data's, plus ridge's diagonal."""
        product = self.epochs.hessian_vector(vector)
        ridge = self.plan.ridge
        if ridge.shape[0]:
            product += ridge * vector
        return product

    def _error(self, optimality: NDArray[np.float64], params: NDArray[np.float64]) -> float:
        """The standardised coefficient error at a true gradient or subgradient (a Lanczos estimate without the statistics)."""
        if self.errors.exact:
            if self.plan.options.has_l1:
                return support_error(self.errors, params, optimality)
            return self.errors.error(optimality)
        active = None
        if self.plan.options.has_l1:
            active = (params != 0.0) | (optimality != 0.0)
        error, _, passes = lanczos_error(self.errors, optimality, self._hessian_vector, active=active)
        self.extra_passes += passes * self.epochs.data_passes
        return error

    # --- the end of the run -------------------------------------------------------------------------

    def finish(self, started: float) -> TrainResult:
        state, plan, epochs = self.state, self.plan, self.epochs
        options = plan.options
        params = state.params
        grad = np.empty_like(params)
        stopped_at_check = self.stop_reason in ("tol", "loss_threshold", "stalled") and self.done > 0
        if stopped_at_check and state.grad_is_true[0] == 1.0:
            final_loss = float(state.loss_history[self.done - 1])
            grad[:] = state.grad
        else:
            final_loss = self._evaluate(params, grad)
            self.extra_passes += epochs.data_passes
        if epochs.check is not None and final_loss < STATISTICS_LOSS_TRUST * plan.moments.loss_scale:
            final_loss = self._evaluate_check(params)  # from the statistics it would be rounding
            self.extra_passes += 1
        self._check_final_loss(final_loss)
        optimality = plan.optimality(params, grad)
        error = self.confirmed_error if self.confirmed_error is not None else self._error(optimality, params)
        self.representation = representation_floor(plan, params)
        error = max(error, self.representation)
        converged = bool(error <= max(self.reachable_tol, _RESOLUTION_ULPS * self.representation))
        seconds = time.perf_counter() - started
        if not converged:
            self._warn_not_converged(error)
        first_norm = float(state.first_grad_norm[0]) if self.done > 0 else float("nan")
        final_norm = stepped_gradient_norm(optimality, self.settings.steps)
        original = plan.to_original(params)
        w, b = split(original, self.one_dimensional)
        gap = optimum = float("nan")
        if options.penalised and plan.statistics is not None:
            gap = elastic_net_duality_gap(
                plan.statistics, original[:-1], original[-1], options.alpha, options.l1_ratio, options.fit_intercept
            )
        elif plan.statistics is not None:
            optimum = optimal_loss(plan.statistics, options.fit_intercept)
        history = plan.to_original(state.params_history[: self.done]) if self.record_params else None
        return TrainResult(
            w=w,
            b=b,
            loss_history=state.loss_history[: self.done].copy(),
            n_iter=self.done,
            stop_reason=self.stop_reason,
            final_loss=final_loss,
            lr=float("nan") if options.method == "cg" else float(self.settings.steps[0]),
            backend=epochs.label,
            w_history=None
            if history is None
            else history[:, 0].copy()
            if self.one_dimensional
            else history[:, :-1].copy(),
            b_history=None if history is None else history[:, -1].copy(),
            seconds=seconds,
            method=options.method,
            solver=epochs.solver,
            lipschitz=None if plan.lipschitz is None else plan.lipschitz * 2.0**self.halvings,
            passes=int(epochs.setup_passes + epochs.data_passes * int(state.passes[0]) + self.extra_passes),
            gradient_norm_ratio=float(final_norm / first_norm) if first_norm > 0 else 0.0,
            converged=converged,
            coef_error=float(error),
            tol=self.tol,
            center=options.center,
            scale=options.scale,
            loop_seconds=self.loop_seconds,
            alpha=options.alpha,
            l1_ratio=options.l1_ratio,
            duality_gap=gap,
            optimal_loss=optimum,
            statistics=plan.statistics,
        )

    def _check_final_loss(self, final_loss: float) -> None:
        """Every run's returned parameters: a non-finite loss, or one above the start, is divergence."""
        state = self.state
        if self.done == 0:
            if not np.isfinite(final_loss):
                self._raise_divergence(np.array([final_loss]), state.params, final=True)
            return
        first = float(state.loss_history[0])
        if np.isfinite(final_loss) and final_loss <= first * (1.0 + GROWTH_TOLERANCE) + self.plan.loss_floor:
            return
        self._raise_divergence(np.append(state.loss_history[: self.done], final_loss), state.last_good, final=True)

    def _raise_divergence(self, losses, last_good, *, final: bool = False) -> None:
        """Raise :class:`DivergenceError` for ``losses`` (the bad one last); ``final`` for the returned parameters' check."""
        plan = self.plan
        options = plan.options
        iteration = losses.shape[0] - 1
        bad = float(losses[-1])
        lr = float(self.settings.steps[0])
        if not np.isfinite(bad):
            what = "became non-finite"
        elif bad > DIVERGENCE_FACTOR * losses[0] + plan.loss_floor:
            what = f"grew to {bad:.3g}, over {DIVERGENCE_FACTOR:g} times its start {losses[0]:.3g}"
        elif final:
            what = f"of the returned parameters is {bad:.3g}, above the starting loss {losses[0]:.3g}"
        else:
            what = f"rose from {losses[-2]:.3g} to {bad:.3g}, so a step this long is unstable"
        advice = divergence_advice(plan, self.iterations, float(self.state.first_error[0]), self.tol)
        texts = []
        for suggestion in advice:
            text = format_suggestion(suggestion)
            if suggestion.get("method") == "cg":
                text += " (exact step lengths, no learning rate)"
            elif "lr" in suggestion and (auto_value := _unpreconditioned_step(plan)) is not None:
                text += f" (fastgd picks the step; 1/L = {auto_value:.3g} for the features as given)"
            texts.append(text)
        step_text = "the automatic step" if options.lr is None else f"lr={lr:g}"
        message = f"training diverged at iteration {iteration} with {step_text}: the loss {what}."
        if texts:
            message += " Try " + "; or ".join(texts) + "."
        if current_syntax() == "python":
            message += " The last acceptable parameters and the loss history are attached to this error (.w, .b, .loss_history)."
        w, b = split(plan.to_original(last_good), self.one_dimensional)
        raise DivergenceError(
            message, iteration=iteration, lr=lr, w=w, b=b, loss_history=np.asarray(losses, dtype=np.float64).copy(),
            advice=advice,
        )  # fmt: skip

    def _warn_not_converged(self, error: float) -> None:
        plan = self.plan
        advice = not_converged_advice(
            plan, self.iterations, float(self.state.first_error[0]), error, self.tol, self.stop_reason,
            self.representation,
        )  # fmt: skip
        where = _STOPPED_BY[self.stop_reason].format(iterations=self.iterations)
        kind = "" if plan.errors.exact else "an estimated "
        distance = f"{kind}{error:.2g}" if np.isfinite(error) else "an unknown distance"
        message = (
            f"fastgd stopped {where} after {self.done} iterations with the coefficients {distance} from the "
            f"{'penalised optimum' if plan.options.penalised else 'least-squares solution'}, above tol={self.tol:g} (largest error of a standardised coefficient, "
            f"|w_j - w*_j| * std(x_j) / std(y))."
        )
        if not np.isfinite(error):
            message += (
                " More coefficients are non-zero than the data determine (the L1 penalty has not yet zeroed those "
                "the optimum does not use), so the run is not at the optimum."
            )
        floor = max(rounding_floor(plan), self.representation)
        if floor > self.tol:
            message += (
                f" float64 rounding limits the coefficients to about {floor:.1g} here ("
                + (
                    "the intercept is far from zero in units of std(y))"
                    if self.representation >= rounding_floor(plan)
                    else f"the standardised features are nearly collinear, condition number "
                    f"{plan.errors.condition_number:.2g}; drop or combine nearly duplicated columns)"
                )
                + ": accept a larger tolerance."
            )
        if advice:
            message += " " + format_advice(advice)
        # stacklevel: this method, finish, run_descent, the front end (train), its caller.
        warnings.warn(ConvergenceWarning(message, error=error, tol=self.tol, advice=advice), stacklevel=5)


_STOPPED_BY = {
    "iterations": "at the iteration cap ({iterations})",
    "loss_threshold": "at the loss threshold",
    "callback": "when the callback asked",
    "stalled": "when rounding left nothing to gain",
    "tol": "at the tolerance",
}


def _unpreconditioned_step(plan: Plan) -> float | None:
    """``1 / L`` for the features as given (what a classic run would use), when the statistics exist."""
    if plan.statistics is None:
        return None
    d = plan.shift.shape[0]
    hessian = plan.statistics.hessian(np.zeros(d), np.ones(d))
    if not plan.options.fit_intercept:
        hessian = hessian[:d, :d]
    lipschitz = stepsize.exact_lipschitz(hessian)
    return 1.0 / lipschitz if lipschitz > 0 else None
