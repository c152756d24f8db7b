#!/usr/bin/python3
"""Writes Fashion-MNIST (Debian's dataset-fashion-mnist IDX files) in the CIFAR-10 binary
format: each 28x28 gray image zero-padded to 32x32 and copied to 3 channels; records
<label byte><3072 pixel bytes>, data_batch_1..5.bin (12,000 each) and test_batch.bin.
For measuring the 32x32 RGB recipes (airbench94, wrn28-2) on real data on a machine
without CIFAR-10.   usage: fmnist_as_cifar.py OUT_DIR [IDX_DIR]"""
import gzip
import os
import sys

import numpy as np


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(idx_dir, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(idx_dir, name)):
            return os.path.join(idx_dir, name)
    sys.exit(f"fmnist_as_cifar: no {stem}[.gz] in {idx_dir}")


def records(images, labels):
    padded = np.zeros((len(images), 3, 32, 32), np.uint8)
    padded[:, :, 2:30, 2:30] = images[:, None, :, :]
    out = np.empty((len(images), 3073), np.uint8)
    out[:, 0] = labels
    out[:, 1:] = padded.reshape(len(images), -1)
    return out.tobytes()


def main():
    out = sys.argv[1]
    idx = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
    os.makedirs(out, exist_ok=True)
    x = read_idx(find(idx, "train-images-idx3-ubyte"))
    y = read_idx(find(idx, "train-labels-idx1-ubyte"))
    for b in range(5):
        s = slice(b * 12000, (b + 1) * 12000)
        with open(os.path.join(out, f"data_batch_{b + 1}.bin"), "wb") as f:
            f.write(records(x[s], y[s]))
    xt = read_idx(find(idx, "t10k-images-idx3-ubyte"))
    yt = read_idx(find(idx, "t10k-labels-idx1-ubyte"))
    with open(os.path.join(out, "test_batch.bin"), "wb") as f:
        f.write(records(xt, yt))


if __name__ == "__main__":
    main()
