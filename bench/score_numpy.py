# The baseline of the scoring benchmark: the reference code's way of scoring -- load every
# model's signals into memory, then generate_ours (online LiRA) with the last model as
# target, then an sklearn ROC -- on a lira results file.
#   /usr/bin/python3 bench/score_numpy.py FILE
import os
import sys
import time

import h5py
import numpy as np
from sklearn.metrics import auc, roc_curve

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plotpy  # noqa: E402

start = time.perf_counter()
with h5py.File(sys.argv[1], "r") as f:
    keep = f["keep"][:].astype(bool)
    scores = f["signals/logit_confidence"][:].astype(np.float64)  # plot.py works in float64
ref_keep, ref_scores, check_keep, check_scores = plotpy.split(keep, scores, 1)
prediction = plotpy.online(ref_keep, ref_scores, check_scores)
fpr, tpr, _ = roc_curve(check_keep.ravel(), prediction.ravel())
low = tpr[np.where(fpr < 0.001)[0][-1]]
print(f"numpy generate_ours: AUC {auc(fpr, tpr):.4f}, TPR@0.1%FPR {low:.4f}, {time.perf_counter() - start:.1f} s")
