"""Train a model "elsewhere" (plain PyTorch) on part of a lira results file's candidate pool,
then hand it to lira as an external target (docs/privacy.md, "Audit your own model").

    /usr/bin/python3 audit_own_model.py RESULTS.h5 OUT_DIR [--epochs E] [--seed S]

Writes OUT_DIR/model.pt (TorchScript) and OUT_DIR/membership.npy (1 = trained on), and
OUT_DIR/phi.npy: the model's logit-scaled confidence of the true class on every candidate,
computed here in float64 (what `lira signals` must reproduce). For Fashion-MNIST/MNIST IDX
data with data.normalization: standard, as lira's built-in models see it.
"""
import argparse
import gzip
import os

import h5py
import numpy as np
import torch
from torch import nn

# lira's per-channel constants for data.normalization: standard (docs/datasets.md).
NORMALIZATION = {"fashion-mnist": (0.2860, 0.3530), "mnist": (0.1307, 0.3081)}


def data_section(config_yaml):
    """The scalar keys of the config's data section (the resolved YAML lira stores)."""
    keys, inside = {}, False
    for line in config_yaml.splitlines():
        if not line.startswith(" "):
            inside = line.strip() == "data:"
            continue
        if inside and ":" in line:
            key, value = line.strip().split(":", 1)
            keys[key] = value.split("#")[0].strip().strip('"')
    return keys


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(directory, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    raise SystemExit(f"{stem} is not in {directory}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    with h5py.File(a.results, "r") as f:
        config = f.attrs["config"]
        config = config.decode() if isinstance(config, bytes) else config
        labels = f["labels"][:]
        canary = f["candidate_index"][:] < 0
    data = data_section(config)
    if data["dataset"] not in NORMALIZATION or data["normalization"] != "standard":
        raise SystemExit("this example reads IDX data (fashion-mnist, mnist) with data.normalization: standard")
    n, offset, population = int(data["candidates"]), int(data["candidate_offset"]), int(data["population"])
    if canary.any():
        raise SystemExit("this example does not rebuild canaries; use a results file without data.canaries")
    images = read_idx(find(data["path"], "train-images-idx3-ubyte"))[offset:offset + n]
    mean, std = NORMALIZATION[data["dataset"]]
    x = torch.tensor((images.astype(np.float32) / 255.0 - mean) / std).unsqueeze(1)  # [N, 1, 28, 28]
    y = torch.tensor(labels, dtype=torch.int64)

    # The model's training set: a random half of the candidates some model may train on.
    rng = np.random.default_rng(a.seed)
    membership = np.zeros(n, dtype=bool)
    membership[rng.permutation(n - population)[: (n - population) // 2]] = True
    torch.manual_seed(a.seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    members = torch.tensor(np.flatnonzero(membership))
    for _ in range(a.epochs):
        for batch in members[torch.randperm(len(members))].split(128):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
    model.eval()
    os.makedirs(a.out, exist_ok=True)
    torch.jit.trace(model, x[:2]).save(os.path.join(a.out, "model.pt"))
    np.save(os.path.join(a.out, "membership.npy"), membership)
    with torch.no_grad():
        z = model(x).double()
    zy = z.gather(1, y[:, None])[:, 0]
    others = z.scatter(1, y[:, None], float("-inf")).logsumexp(1)
    np.save(os.path.join(a.out, "phi.npy"), (zy - others).numpy())
    accuracy = (z.argmax(1) == y)[torch.tensor(membership)].double().mean().item()
    print(f"trained on {membership.sum()} of {n} candidates, train accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
