"""``python -m fastgd`` runs end to end and reports what it promises."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_trains_both_paths_and_reports_speed():
    completed = subprocess.run(
        [sys.executable, "-m", "fastgd", "--rows", "20000", "--iterations", "40"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = completed.stdout
    assert "reference numpy" in out and "fused numba" in out
    assert re.search(r"speed-up of the fused kernels over the reference path: [0-9.]+x", out)
    rows = [line.split() for line in out.splitlines() if line.startswith(("reference numpy", "fused numba"))]
    # Both paths learn the same parameters: w printed in [..], then b, loss, ms/epoch, GB/s.
    assert rows[0][2] == rows[1][2]
    true_w = re.search(r"true parameters:\s+w = \[([-0-9.]+)\]", out).group(1)
    assert abs(float(rows[1][2].strip("[]")) - float(true_w)) < 0.01
