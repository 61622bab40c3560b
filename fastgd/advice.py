"""Advice that works when followed: which options converge, and in how many iterations.

Suggestions are computed from the problem itself: with the sufficient
statistics at hand (up to 2,048 features) the condition number of each
parametrisation is known, so the iterations a method needs follow from its
textbook rate (:func:`fastgd.convergence.iterations_needed`) and the error
it has to remove. Each suggestion is a complete change of options, from the
start of the run, and only options not already in use are suggested.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .convergence import iterations_needed
from .setup import Plan, preconditioner

Suggestion = dict[str, Any]

# Conjugate gradients lose their finite termination to rounding on problems
# worse conditioned than this; no iteration count is promised there.
CG_ROUNDING_CONDITION = 1e8


def rounding_floor(plan: Plan) -> float:
    """About the smallest coefficient error float64 reaches on this problem (0 when unknown).

    The gradient carries rounding of about ``eps`` times the size of the
    terms it sums; the error map multiplies it by up to the condition number
    of the standardised problem.
    """
    kappa = plan.errors.condition_number
    if not math.isfinite(kappa):
        return 0.0
    d = plan.shift.shape[0]
    return 50.0 * np.finfo(np.float64).eps * (d + 1) * kappa


def representation_floor(plan: Plan, params: np.ndarray) -> float:
    """One ulp of the largest standardised parameter: no float64 answer is closer than that.

    It matters for an intercept many standard deviations of ``y`` away from
    zero (1e12 of them leave an ulp of 2e-4).
    """
    return float(np.finfo(np.float64).eps * np.max(np.abs(plan.errors.standardise @ params)))


def _nice_count(value: float) -> int:
    """Round an iteration count up to two significant digits."""
    value = max(1, math.ceil(value))
    digits = max(0, len(str(value)) - 2)
    return int(math.ceil(value / 10**digits) * 10**digits)


def _unit_steps(plan: Plan) -> np.ndarray:
    return plan.free.astype(np.float64)


def _condition(plan: Plan, center: bool, scale: bool) -> float:
    return plan.condition(*preconditioner(plan.moments, center, scale, plan.options.ridge_weight), _unit_steps(plan))


def _as_run(plan: Plan, method_changes: bool) -> tuple[bool, bool]:
    """The centring and scaling a run would use after a change of method: the caller's, or fastgd's defaults."""
    options = plan.options
    center = options.center if options.center_given or not method_changes else options.fit_intercept
    scale = options.scale if options.scale_given or not method_changes else True
    return center, scale


def _preconditioned(plan: Plan, suggestion: Suggestion, center: bool, scale: bool) -> tuple[float, bool, bool]:
    """Add the preconditioner to ``suggestion`` where it is off and would help; return the condition number then."""
    options = plan.options
    kappa = _condition(plan, center, scale)
    standard = (options.fit_intercept, True)
    if (center, scale) != standard:
        better = _condition(plan, *standard)
        if better * 10 < kappa:
            if options.fit_intercept and not center:
                suggestion["center"] = True
            if not scale:
                suggestion["scale"] = True
            return better, *standard
    return kappa, center, scale


def fastest_method(plan: Plan) -> str:
    """Conjugate gradients, or, with an L1 penalty (not smooth), Nesterov's method (FISTA)."""
    return "nesterov" if plan.options.has_l1 else "cg"


def _cg(plan: Plan, iterations: int, reduction: float) -> Suggestion:
    """Conjugate gradients, or FISTA with an L1 penalty (the automatic step, and the preconditioner where it helps)."""
    suggestion: Suggestion = {} if plan.options.lr is None else {"lr": "auto"}
    method = suggestion["method"] = fastest_method(plan)
    kappa, _, _ = _preconditioned(plan, suggestion, *_as_run(plan, method_changes=True))
    needed = iterations_needed(method, kappa, reduction, int(plan.free.sum()))
    if needed > iterations:
        suggestion["iterations"] = _nice_count(needed)
    return suggestion


def not_converged_advice(
    plan: Plan,
    iterations: int,
    first_error: float,
    error: float,
    tol: float,
    stop_reason: str,
    representation: float = 0.0,
) -> list[Suggestion]:
    """Changes of options expected to converge from the start, best first.

    ``representation`` is :func:`representation_floor` at the returned
    parameters; with :func:`rounding_floor` it bounds the reachable error.
    """
    options = plan.options
    floor = max(rounding_floor(plan), representation)
    advice: list[Suggestion] = []
    if floor > tol:
        advice.append({"tol": float(f"{10 * floor:.0e}")})
    if stop_reason in ("loss_threshold", "callback"):
        return advice
    target = max(tol, 2.0 * floor)
    reduction = (first_error if math.isfinite(first_error) and first_error > 0 else error) / target
    n_free = int(plan.free.sum())
    if plan.statistics is None:
        # Without the statistics the rates are unknown: conjugate gradients, at a few sweeps of d steps;
        # with an L1 part FISTA, whose count no sweep rule gives: ten times the iterations run.
        if options.has_l1:
            if options.method != "nesterov":
                advice.append({**({} if options.lr is None else {"lr": "auto"}), "method": "nesterov"})
            else:
                advice.append({"iterations": _nice_count(10 * iterations)})
            return advice
        if options.method != fastest_method(plan):
            suggestion: Suggestion = {} if options.lr is None else {"lr": "auto"}
            suggestion["method"] = fastest_method(plan)
            if 4 * n_free > iterations:
                suggestion["iterations"] = _nice_count(4 * n_free + 10)
            advice.append(suggestion)
        elif iterations < 4 * n_free:
            advice.append({"iterations": _nice_count(4 * n_free + 10)})
        return advice
    if options.method != fastest_method(plan):
        advice.append(_cg(plan, iterations, reduction))
    if options.method == "gd":
        own = plan.gd_rate_condition()
    else:
        own = plan.condition(plan.shift, plan.scale, _unit_steps(plan))
    trustworthy = options.method != "cg" or own < CG_ROUNDING_CONDITION
    needed = iterations_needed(options.method, own, reduction, n_free)
    if trustworthy and iterations < needed < 1e7:
        advice.append({"iterations": _nice_count(needed)})
    if options.method == "cg":
        suggestion = {}
        kappa, _, _ = _preconditioned(plan, suggestion, options.center, options.scale)
        if suggestion:
            needed = iterations_needed("cg", kappa, reduction, n_free)
            if needed > iterations:
                suggestion["iterations"] = _nice_count(needed)
            advice.append(suggestion)
    return advice


def divergence_advice(plan: Plan, iterations: int, first_error: float, tol: float) -> list[Suggestion]:
    """What avoids a divergence: the automatic step (with the iterations it needs), or conjugate gradients."""
    options = plan.options
    advice: list[Suggestion] = []
    reduction = first_error / tol if math.isfinite(first_error) and first_error > 0 else 1e6
    n_free = int(plan.free.sum())
    if options.lr is not None:
        suggestion: Suggestion = {"lr": "auto"}
        if plan.statistics is not None:
            kappa, _, _ = _preconditioned(plan, suggestion, *_as_run(plan, method_changes=True))
            needed = iterations_needed(options.method, kappa, reduction, n_free)
            if iterations < needed < 1e7:
                suggestion["iterations"] = _nice_count(needed)
        advice.append(suggestion)
    if options.method != fastest_method(plan):
        method = fastest_method(plan)
        if plan.statistics is not None:
            advice.append(_cg(plan, iterations, reduction))
        else:
            advice.append({"method": method} if options.lr is None else {"lr": "auto", "method": method})
    return advice
