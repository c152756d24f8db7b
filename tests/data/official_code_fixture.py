# Writes tests/data/official_code_fixture.h5: a small experiment in lira's minimal layout
# plus the scores that tensorflow/privacy research/mi_lira_2021/plot.py computes on it
# (bench/plotpy.py: truncated IN/OUT sets, median centering, std + 1e-30, fixed variance
# as one uncentered std and std_out = std(dat_in) online, two-sided offline logpdf), so the
# C++ "official-code" flavor can be checked against them.
#   /usr/bin/python3 tests/data/official_code_fixture.py tests/data/official_code_fixture.h5
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import plotpy  # noqa: E402

rng = np.random.default_rng(7)
M, N, A, ntest = 12, 40, 2, 2
keep = np.zeros((M, N), dtype=bool)
for n in range(N):  # roughly balanced, not exactly: plot.py must truncate
    keep[rng.permutation(M)[: rng.integers(4, 9)], n] = True
difficulty = rng.normal(0, 2, size=(1, N, 1))
scores = difficulty + rng.normal(0, 1, size=(M, N, A)) + 1.5 * keep[:, :, None] * rng.uniform(0.5, 1.5, size=(1, N, 1))
scores = scores.astype(np.float32).astype(np.float64)  # lira stores float32 signals


ref_keep, ref_scores, check_keep, check_scores = plotpy.split(keep, scores, ntest)
expected = {
    "lira-online": plotpy.online(ref_keep, ref_scores, check_scores, False),
    "lira-online-fixed-variance": plotpy.online(ref_keep, ref_scores, check_scores, True),
    "lira-offline": plotpy.offline(ref_keep, ref_scores, check_scores, False),
    "lira-offline-fixed-variance": plotpy.offline(ref_keep, ref_scores, check_scores, True),
    "global-threshold": plotpy.global_threshold(check_scores),
}
with h5py.File(sys.argv[1], "w") as f:
    f["keep"] = keep
    f["signals/logit_confidence"] = scores.astype(np.float32)
    for name, value in expected.items():
        f["expected/" + name] = value
