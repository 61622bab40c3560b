"""The elastic net's regularisation path: ``fastgd.path`` against scikit-learn's ``enet_path``, and streaming.

The problem is ``fastgd.benchmarking.generate_convergence_data`` (8 float64 features of different scales
and means; 10⁶ rows, 20,000 at tiny sizes) with 20 alphas over three decades from the one that zeroes
every coefficient. fastgd reads the data once for the whole path; scikit-learn's Gram-matrix coordinate
descent (``precompute=True``, centred data) too. scikit-learn (the ``fastgd[sklearn]`` extra) is skipped
where it is not installed. ``scripts/bench_path.py`` adds glum and checks every answer against the exact one.

``TrainStream`` times ``fastgd.train_stream`` over a ``.npy`` file in 16 MiB blocks (one pass with the
gram solver) against ``fastgd.train`` on the same array in memory.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import warnings

import numpy as np

import fastgd
from fastgd.benchmarking import generate_convergence_data

ROWS = 20_000 if os.environ.get("FASTGD_BENCH_SIZES", "full") == "tiny" else 1_000_000
FEATURES = 8
N_ALPHAS = 20


def _alphas(X: np.ndarray, y: np.ndarray, l1_ratio: float) -> np.ndarray:
    largest = float(np.max(np.abs((y - y.mean()) @ (X - X.mean(axis=0)))) / len(y) / l1_ratio)
    return np.geomspace(largest, largest * 1e-3, N_ALPHAS)


class RegularisationPath:
    """Seconds for a 20-alpha elastic-net path, fastgd against scikit-learn."""

    params = (("fastgd", "sklearn enet_path"), (0.5, 1.0))
    param_names = ("contender", "l1_ratio")
    timeout = 300

    def setup(self, contender, l1_ratio):
        if contender == "sklearn enet_path" and importlib.util.find_spec("sklearn") is None:
            raise NotImplementedError("scikit-learn is not installed (pip install fastgd[sklearn])")
        self.X, self.y = generate_convergence_data(ROWS, FEATURES)
        self.alphas = _alphas(self.X, self.y, l1_ratio)
        if contender == "fastgd":
            fastgd.path(self.X[:1000], self.y[:1000], alphas=self.alphas[:2], l1_ratio=l1_ratio)  # compile

    def time_path(self, contender, l1_ratio):
        if contender == "fastgd":
            fastgd.path(self.X, self.y, alphas=self.alphas, l1_ratio=l1_ratio, tol=1e-9)
            return
        from sklearn.linear_model import enet_path

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its own convergence warnings are not what is timed
            mean_x = self.X.mean(axis=0)
            enet_path(self.X - mean_x, self.y - self.y.mean(), alphas=self.alphas, l1_ratio=l1_ratio,
                      precompute=True, tol=1e-8)  # fmt: skip


class TrainStream:
    """Seconds to the least-squares answer from a ``.npy`` file read in blocks, and in memory."""

    params = (("stream", "in memory"),)
    param_names = ("how",)
    timeout = 300

    def setup(self, how):
        X, y = generate_convergence_data(ROWS, FEATURES)
        self.folder = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.folder.name, "data.npy")
        np.save(self.path, np.column_stack([X, y]))
        self.X, self.y = X, y
        fastgd.train(X[:1000], y[:1000], iterations=10, method="cg", solver="gram")  # compile

    def teardown(self, how):
        self.folder.cleanup()

    def time_train(self, how):
        if how == "stream":
            fastgd.train_stream(self.path, target="-1", iterations=1000, progress=False)
        else:
            fastgd.train(self.X, self.y, iterations=1000, method="cg", solver="gram")
