# Writes tests/data/official_code_fixture.h5: a small experiment in lira's minimal layout
# plus the scores that tensorflow/privacy research/mi_lira_2021/plot.py computes on it, so
# the C++ "official-code" flavor can be checked against them. The numpy below follows
# plot.py's semantics (generate_ours, generate_ours_offline, generate_global, do_plot with
# ntest): truncated IN/OUT sets, median centering, std + 1e-30, fixed variance as one
# uncentered std (and std_out = std(dat_in) online), two-sided offline logpdf.
# Stored scores follow lira's sign convention (higher = member): minus plot.py's
# `prediction`, which do_plot negates before its ROC for the same reason.
#   /usr/bin/python3 tests/data/official_code_fixture.py tests/data/official_code_fixture.h5
import sys

import h5py
import numpy as np
import scipy.stats

rng = np.random.default_rng(7)
M, N, A, ntest = 12, 40, 2, 2
keep = np.zeros((M, N), dtype=bool)
for n in range(N):  # roughly balanced, not exactly: plot.py must truncate
    keep[rng.permutation(M)[: rng.integers(4, 9)], n] = True
difficulty = rng.normal(0, 2, size=(1, N, 1))
scores = difficulty + rng.normal(0, 1, size=(M, N, A)) + 1.5 * keep[:, :, None] * rng.uniform(0.5, 1.5, size=(1, N, 1))
scores = scores.astype(np.float32).astype(np.float64)  # lira stores float32 signals


def fits(k, s):
    dat_in = [s[k[:, j], j, :] for j in range(s.shape[1])]
    dat_out = [s[~k[:, j], j, :] for j in range(s.shape[1])]
    in_size = min(min(map(len, dat_in)), 100000)
    out_size = min(min(map(len, dat_out)), 100000)
    return np.array([x[:in_size] for x in dat_in]), np.array([x[:out_size] for x in dat_out])


def online(k, s, ck, cs, fix):
    dat_in, dat_out = fits(k, s)
    mean_in, mean_out = np.median(dat_in, 1), np.median(dat_out, 1)
    if fix:
        std_in = std_out = np.std(dat_in)
    else:
        std_in, std_out = np.std(dat_in, 1), np.std(dat_out, 1)
    out = []
    for sc in cs:
        pr_in = -scipy.stats.norm.logpdf(sc, mean_in, std_in + 1e-30)
        pr_out = -scipy.stats.norm.logpdf(sc, mean_out, std_out + 1e-30)
        out.append(-(pr_in - pr_out).mean(1))
    return np.array(out)


def offline(k, s, ck, cs, fix):
    _, dat_out = fits(k, s)
    mean_out = np.median(dat_out, 1)
    std_out = np.std(dat_out) if fix else np.std(dat_out, 1)
    return np.array([-scipy.stats.norm.logpdf(sc, mean_out, std_out + 1e-30).mean(1) for sc in cs])


ref_keep, ref_scores, check_keep, check_scores = keep[:-ntest], scores[:-ntest], keep[-ntest:], scores[-ntest:]
expected = {
    "lira-online": online(ref_keep, ref_scores, check_keep, check_scores, False),
    "lira-online-fixed-variance": online(ref_keep, ref_scores, check_keep, check_scores, True),
    "lira-offline": offline(ref_keep, ref_scores, check_keep, check_scores, False),
    "lira-offline-fixed-variance": offline(ref_keep, ref_scores, check_keep, check_scores, True),
    "global-threshold": np.array([sc.mean(1) for sc in check_scores]),
}
with h5py.File(sys.argv[1], "w") as f:
    f["keep"] = keep
    f["signals/logit_confidence"] = scores.astype(np.float32)
    for name, value in expected.items():
        f["expected/" + name] = value
