# Load a lira results file into numpy (docs/results-format.md). Run: python3 load_results.py FILE
import sys
import h5py
import numpy as np

with h5py.File(sys.argv[1], "r") as f:
    keep = f["keep"][:].astype(bool)                      # [M, N]: model m trained on candidate n
    conf = f["signals/logit_confidence"][:]               # [M, N, A] float32, NaN where not done
    loss = f["signals/loss"][:]                           # [M, N, A]
    done = f["models/done"][:].astype(bool)               # [M]
    labels, queries, config = f["labels"][:], list(f.attrs["queries"]), f.attrs["config"]
print("keep", keep.shape, "logit_confidence", conf.shape, "queries", queries, "done", int(done.sum()))
