"""Real data that ships with fastgd or scikit-learn, and realistic data built to mimic real trouble.

The data sets the right-answers tests and ``scripts/right_answers.py`` fit
(see docs/right-answers.md): Longley and stack loss (public domain, in
``fastgd/data/``), scikit-learn's diabetes data, and generators with fixed
seeds for the trouble real data brings (a calendar-year column, features of
1e-8..1e8 scale, near-duplicate columns, a far intercept, tiny tables).

Each case is a :class:`Case` with its ordinary-least-squares answer from
``numpy.linalg.lstsq`` (on ``[X 1]``, weighted by ``sqrt(s)`` when weighted),
and :func:`standardised_error` measures a fit against it the way users read
coefficients: ``|w_j - w*_j| * std(x_j) / std(y)``, and for the intercept the
error of the prediction at the feature means over ``std(y)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"

# NIST StRD "Longley": certified least-squares coefficients (intercept, then
# GNPDEFL, GNP, UNEMP, ARMED, POP, YEAR) and residual standard deviation.
LONGLEY_CERTIFIED = np.array([
    -3482258.63459582, 15.0618722713733, -0.358191792925910e-01, -2.02022980381683,
    -1.03322686717359, -0.511041056535807e-01, 1829.15146461355,
])  # fmt: skip
LONGLEY_RESIDUAL_SD = 304.854073561965


@dataclass
class Case:
    name: str
    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None = None
    names: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.names:
            self.names = [f"x{j}" for j in range(self.X.shape[1])]

    @property
    def least_squares(self) -> tuple[np.ndarray, float]:
        return least_squares(self.X, self.y, self.sample_weight)

    def loss(self, w, b) -> float:
        residual = self.X @ np.asarray(w) + b - self.y
        weights = np.ones(len(self.y)) if self.sample_weight is None else self.sample_weight
        return float(weights @ residual**2 / weights.sum())

    def standardised_error(self, w, b) -> float:
        return standardised_error(self.X, self.y, w, b, *self.least_squares, self.sample_weight)

    def relative_loss_gap(self, w, b) -> float:
        optimum = self.loss(*self.least_squares)
        return (self.loss(w, b) - optimum) / optimum


def least_squares(X, y, sample_weight=None) -> tuple[np.ndarray, float]:
    """Ordinary least squares as a careful user computes it: ``numpy.linalg.lstsq`` on standardised columns.

    The columns are centred (their means taken as deviations from the first
    row, so a large mean keeps its last digits) and scaled to unit norm, which
    changes nothing in exact arithmetic; the intercept then follows from the
    means. Plain lstsq on ``[X 1]`` is itself wrong on some of these cases (by
    half a standard deviation on the 1e-8..1e8 one, by several ulps of a 1e9
    intercept).
    """
    mean_x, mean_y, unit, target, norms, _ = _centred_unit_columns(X, y, sample_weight)
    w = np.linalg.lstsq(unit, target, rcond=None)[0] / norms
    return w, float(mean_y - mean_x @ w)


def _centred_unit_columns(X, y, sample_weight):
    """``(mean_x, mean_y, unit, target, norms, total)``: centred, weighted (by ``sqrt(s)``) columns of unit norm.

    The means are taken as deviations from the first row, so a large mean
    keeps its last digits; ``unit * norms`` is the centred weighted design and
    ``target`` the centred weighted ``y``.
    """
    X = np.asarray(X, dtype=np.float64).reshape(len(y), -1)
    y = np.asarray(y, dtype=np.float64)
    weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    total = float(weights.sum())
    mean_x = X[0] + weights @ (X - X[0]) / total
    mean_y = y[0] + weights @ (y - y[0]) / total
    root = np.sqrt(weights)
    design = (X - mean_x) * root[:, None]
    norms = np.linalg.norm(design, axis=0)
    norms[norms == 0] = 1.0
    return mean_x, float(mean_y), design / norms, (y - mean_y) * root, norms, total


def elastic_net(X, y, alpha: float, l1_ratio: float, sample_weight=None) -> tuple[np.ndarray, float]:
    """The elastic net's exact solution (scikit-learn's ``ElasticNet`` objective), as an oracle for tests.

    scikit-learn's coordinate descent (with a tight ``tol``) finds which
    coefficients are zero and the signs of the others; on that support the
    optimality conditions are linear, and are solved on centred columns of
    unit norm as :func:`least_squares` does. The conditions off the support
    are then checked, and the support corrected until both hold, so the
    answer does not inherit coordinate descent's slow last digits on
    correlated columns. Needs scikit-learn.
    """
    from sklearn.linear_model import ElasticNet

    mean_x, mean_y, unit, target, norms, total = _centred_unit_columns(X, y, sample_weight)
    design = unit * norms
    l1, l2 = alpha * l1_ratio, alpha * (1.0 - l1_ratio)
    if l1 > 0:
        start = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=1_000_000, fit_intercept=False)
        signs = np.sign(start.fit(design, target).coef_)
    else:
        signs = np.ones(unit.shape[1])
    u = np.zeros(unit.shape[1])
    for _ in range(2 * unit.shape[1] + 2):
        support = signs != 0
        columns = unit[:, support]
        matrix = columns.T @ columns + np.diag(total * l2 / norms[support] ** 2)
        u[:] = 0.0
        u[support] = np.linalg.solve(matrix, columns.T @ target - total * l1 * signs[support] / norms[support])
        correlation = norms * (unit.T @ (target - unit @ u)) / total  # -gradient of the data term, per w_j
        flipped = support & (np.sign(u) != signs)
        violated = ~support & (np.abs(correlation) > l1 * (1.0 + 1e-12))
        if not flipped.any() and not violated.any():
            break
        signs[flipped] = 0.0
        signs[violated] = np.sign(correlation[violated])
    else:
        raise RuntimeError("the elastic net's support did not settle")
    w = u / norms
    return w, float(mean_y - mean_x @ w)


def standardised_error(X, y, w, b, w_ref, b_ref, sample_weight=None) -> float:
    """The largest coefficient error in standardised units (see the module docstring)."""
    weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    total = weights.sum()
    mean_x = weights @ X / total
    std_x = np.sqrt(weights @ (X - mean_x) ** 2 / total)
    std_y = float(np.sqrt(weights @ (y - weights @ y / total) ** 2 / total))
    dw = np.asarray(w, dtype=np.float64) - w_ref
    weights_error = np.abs(dw) * np.where(std_x > 0, std_x, 0.0) / std_y
    intercept_error = abs((b - b_ref) + mean_x @ dw) / std_y
    return float(max(weights_error.max(), intercept_error))


def longley() -> Case:
    table = np.genfromtxt(DATA / "longley.csv", delimiter=",", names=True)
    names = list(table.dtype.names)
    X = np.column_stack([table[name] for name in names[1:]])
    return Case("longley", X, table[names[0]].copy(), names=names[1:])


def stackloss() -> Case:
    table = np.genfromtxt(DATA / "stackloss.csv", delimiter=",", names=True)
    names = list(table.dtype.names)
    X = np.column_stack([table[name] for name in names[1:]])
    return Case("stackloss", X, table[names[0]].copy(), names=names[1:])


def diabetes(scaled: bool) -> Case:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=scaled)
    return Case(
        f"diabetes-{'scaled' if scaled else 'raw'}", bunch.data.astype(np.float64), bunch.target.astype(np.float64)
    )


def calendar_year(n: int = 60, seed: int = 1) -> Case:
    """A macro-economic panel: the year beside trending series of 1e5 scale, a target around 6e4."""
    rng = np.random.default_rng(seed)
    year = 1950.0 + np.arange(n)
    t = year - year[0]
    gnp = 2.3e5 + 9e3 * t + rng.normal(0, 4e3, n)
    population = 1.07e5 + 1.5e3 * t + rng.normal(0, 150, n)
    deflator = 83 + 2.3 * t + rng.normal(0, 0.8, n)
    unemployed = 3.2e3 + rng.normal(0, 800, n)
    armed = 2.6e3 + rng.normal(0, 500, n)
    X = np.column_stack([deflator, gnp, unemployed, armed, population, year])
    y = (
        -3.4e6 + 15.0 * deflator - 0.03 * gnp - 2.0 * unemployed - 1.0 * armed - 0.05 * population
        + 1800.0 * year + rng.normal(0, 300, n)
    )  # fmt: skip
    return Case("calendar-year", X, y, names=["deflator", "gnp", "unemployed", "armed", "population", "year"])


def house_prices(n: int = 20_000, seed: int = 2) -> Case:
    """Living area in m², lot size in hectares, bedrooms, age, distance in metres; price around 1e6."""
    rng = np.random.default_rng(seed)
    area = rng.normal(150, 50, n).clip(30)
    lot = rng.lognormal(np.log(0.08), 0.5, n)
    bedrooms = rng.integers(1, 7, n).astype(np.float64)
    age = rng.uniform(0, 120, n)
    distance = rng.gamma(2.0, 4_000, n)
    X = np.column_stack([area, lot, bedrooms, age, distance])
    y = 2.5e5 + 4_000 * area + 2.5e6 * lot + 15_000 * bedrooms - 1_200 * age - 9.0 * distance + rng.normal(0, 6e4, n)
    return Case("house-prices", X, y, names=["area_m2", "lot_ha", "bedrooms", "age", "distance_m"])


def scales_1e_8_to_1e8(n: int = 3_000, seed: int = 3) -> Case:
    rng = np.random.default_rng(seed)
    scales = 10.0 ** np.array([-8, -4, 0, 4, 8])
    X = rng.normal(size=(n, 5)) * scales + 3 * scales
    y = X @ (np.array([1.0, -2.0, 0.5, 3.0, -1.0]) / scales) + 10.0 + rng.normal(0, 0.5, n)
    return Case("scales-1e-8..1e8", X, y)


def near_duplicates(n: int = 2_000, seed: int = 4) -> Case:
    """Two instruments measuring the same quantity (correlation 0.99999) and a third feature."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(20, 5, n)
    first = signal + rng.normal(0, 0.02, n)
    second = signal + rng.normal(0, 0.02, n)
    third = rng.normal(0, 1, n)
    X = np.column_stack([first, second, third])
    y = 3.0 * first + 1.0 * second - 2.0 * third + 4.0 + rng.normal(0, 0.3, n)
    return Case("near-duplicates", X, y)


def far_intercept(n: int = 5_000, seed: int = 5) -> Case:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * np.array([1.0, 2.0, 0.5])
    y = 7.5e8 + X @ np.array([2.0, -1.0, 4.0]) + rng.normal(0, 1.0, n)
    return Case("far-intercept", X, y)


def tiny(n: int, seed: int = 6) -> Case:
    rng = np.random.default_rng(seed + n)
    X = np.column_stack([rng.normal(40, 12, n), rng.normal(0.5, 0.1, n), rng.normal(1e4, 3e3, n)])
    y = X @ np.array([0.8, 30.0, 0.002]) + 12.0 + rng.normal(0, 2.0, n)
    return Case(f"tiny-{n}", X, y)


def weighted_house_prices() -> Case:
    case = house_prices(n=5_000, seed=7)
    case.sample_weight = np.random.default_rng(8).uniform(0.2, 3.0, len(case.y))
    case.name = "house-prices-weighted"
    return case


def all_cases() -> list[Case]:
    """Every case, real data first (scikit-learn's diabetes data when scikit-learn is installed)."""
    cases = [longley(), stackloss()]
    try:
        cases += [diabetes(True), diabetes(False)]
    except ImportError:  # scikit-learn is a test dependency; stay usable without it
        pass
    cases += [
        calendar_year(), house_prices(), scales_1e_8_to_1e8(), near_duplicates(), far_intercept(),
        tiny(16), tiny(25), tiny(30), weighted_house_prices(),
    ]  # fmt: skip
    return cases
