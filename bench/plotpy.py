# A numpy implementation of what tensorflow/privacy research/mi_lira_2021/plot.py
# computes (generate_ours, generate_ours_offline, generate_global, and do_plot's split into
# the first M - ntest models as references and the last ntest as targets), written from
# its documented semantics for comparisons with lira: the scoring benchmark times it, and
# tests/fixtures/official_code_fixture.py uses it to make the official-code test fixture.
# Returned scores use lira's sign convention (higher = member): minus plot.py's
# `prediction`, which do_plot negates before its ROC for the same reason.
import numpy as np
import scipy.stats


def _fits(keep, scores):
    # plot.py: per example, the IN (OUT) models' signals, truncated to the smallest count.
    dat_in = [scores[keep[:, j], j, :] for j in range(scores.shape[1])]
    dat_out = [scores[~keep[:, j], j, :] for j in range(scores.shape[1])]
    in_size = min(min(map(len, dat_in)), 100000)
    out_size = min(min(map(len, dat_out)), 100000)
    return np.array([x[:in_size] for x in dat_in]), np.array([x[:out_size] for x in dat_out])


def online(keep, scores, check_scores, fix_variance=False):
    dat_in, dat_out = _fits(keep, scores)
    mean_in, mean_out = np.median(dat_in, 1), np.median(dat_out, 1)
    if fix_variance:
        std_in = std_out = np.std(dat_in)  # plot.py's std_out = np.std(dat_in)
    else:
        std_in, std_out = np.std(dat_in, 1), np.std(dat_out, 1)
    out = []
    for sc in check_scores:
        pr_in = -scipy.stats.norm.logpdf(sc, mean_in, std_in + 1e-30)
        pr_out = -scipy.stats.norm.logpdf(sc, mean_out, std_out + 1e-30)
        out.append(-(pr_in - pr_out).mean(1))
    return np.array(out)


def offline(keep, scores, check_scores, fix_variance=False):
    _, dat_out = _fits(keep, scores)
    mean_out = np.median(dat_out, 1)
    std_out = np.std(dat_out) if fix_variance else np.std(dat_out, 1)
    return np.array([-scipy.stats.norm.logpdf(sc, mean_out, std_out + 1e-30).mean(1) for sc in check_scores])


def global_threshold(check_scores):
    return np.array([sc.mean(1) for sc in check_scores])


def split(keep, scores, ntest):
    """do_plot's split: (reference keep, reference scores, target keep, target scores)."""
    return keep[:-ntest], scores[:-ntest], keep[-ntest:], scores[-ntest:]
