#!/usr/bin/env python3
"""Independent PyTorch reference for two published training recipes.

lira (C++/libtorch) dumps its initial state, the exact batches it trained on, its per-step
losses and its final state; this script re-runs the recipe with torch.nn / torch.optim
from Python on those batches and compares step by step.

  recipe_reference.py check --dump DIR [--tol 1e-4] [--verbose]

Recipes:
  airbench94  Keller Jordan's airbench94.py (legacy): frozen 2x2 whitening conv, GELU
              ConvGroups, BN with frozen scale, label-smoothed summed CE, Nesterov SGD
              with two parameter groups, triangular LambdaLR, lookahead EMA.
  wrn28-2     objax WideResNet(28, 2) as trained by the official LiRA code: pre-activation
              blocks, XLA "SAME" padding, objax BatchNorm (biased variance, momentum 0.9),
              explicit L2 loss term, heavy-ball momentum, cos(7 pi p / 16) schedule + warmup.
Only numpy, torch and the standard library are used; CPU, float32.
"""
import argparse
import json
import math
import os
import signal
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- dump I/O
def load_dump(d):
    with open(os.path.join(d, "manifest.json")) as f:
        man = json.load(f)
    tensors = {}
    for t in man["tensors"]:
        dt = {"float32": np.float32, "float64": np.float64, "int64": np.int64}[t["dtype"]]
        a = np.fromfile(os.path.join(d, t["file"]), dtype="<" + np.dtype(dt).str[1:])
        tensors[t["name"]] = torch.from_numpy(a.reshape(t["shape"]).copy())
    return man, tensors


def prefixed(tensors, prefix):
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def state_names(model):
    return [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]


@torch.no_grad()
def load_state(model, state, what):
    """Copy dumped tensors into the model; the names must match exactly."""
    names = state_names(model)
    missing = sorted(set(names) - set(state))
    extra = sorted(set(state) - set(names))
    if missing or extra:
        raise SystemExit("FAIL: %s state names differ from the reference model: missing %s, "
                         "unexpected %s" % (what, missing[:8], extra[:8]))
    sd = model.state_dict()
    for k in names:
        v = state[k]
        if v.numel() != sd[k].numel():
            raise SystemExit("FAIL: %s/%s has shape %s, reference expects %s"
                             % (what, k, list(v.shape), list(sd[k].shape)))
        sd[k].copy_(v.reshape(sd[k].shape).to(sd[k].dtype))


# ============================================================================ airbench94
class ConvGroup(nn.Module):
    """airbench ConvGroup: conv -> maxpool2 -> BN -> GELU -> conv -> BN -> GELU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)   # padding='same'
        self.pool = nn.MaxPool2d(2)
        self.norm1 = nn.BatchNorm2d(cout, eps=1e-12, momentum=0.4)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(cout, eps=1e-12, momentum=0.4)
        self.act = nn.GELU()                                           # exact erf GELU
        for bn in (self.norm1, self.norm2):
            bn.weight.requires_grad = False                            # BN scale frozen

    def forward(self, x):
        x = self.act(self.norm1(self.pool(self.conv1(x))))
        return self.act(self.norm2(self.conv2(x)))


class AirBench94(nn.Module):
    def __init__(self):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2, padding=0, bias=True)        # 2x2 whitening conv
        self.whiten.weight.requires_grad = False                       # frozen filters
        self.act = nn.GELU()
        self.groups = nn.ModuleList([ConvGroup(24, 64), ConvGroup(64, 256), ConvGroup(256, 256)])
        self.pool = nn.MaxPool2d(3)
        self.head = nn.Linear(256, 10, bias=False)

    def forward(self, x):
        x = self.act(self.whiten(x))                                   # 32 -> 31
        for g in self.groups:                                          # 31 -> 15 -> 7 -> 3
            x = g(x)
        x = self.pool(x).flatten(1)                                    # 3 -> 1
        return self.head(x) * (1.0 / 9)                                # output scaling 1/9


class Lookahead:
    """airbench LookaheadState: EMA over every floating state entry, copied back to the net."""

    def __init__(self, model, start):
        self.ema = {k: start[k].reshape(v.shape).to(v.dtype).clone()
                    for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model, decay):
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.ema[k].lerp_(v, 1 - decay)
                v.copy_(self.ema[k])


def run_airbench94(man, T):
    steps, E, B = man["steps"], man["steps_per_epoch"], man["batch_size"]
    model = AirBench94()
    load_state(model, prefixed(T, "init/"), "init")
    lookahead = Lookahead(model, prefixed(T, "preinit/"))              # EMA starts pre-whitening

    # Fixed published hyperparameters (manifest lr/momentum/wd are ignored).
    momentum = 0.85
    kilostep_scale = 1024 * (1 + 1 / (1 - momentum))
    lr = 11.5 / kilostep_scale
    wd = 0.0153 * B / kilostep_scale
    lr_biases = lr * 64
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    norm_biases = [p for n, p in trainable if "norm" in n]
    others = [p for n, p in trainable if "norm" not in n]
    opt = torch.optim.SGD([dict(params=norm_biases, lr=lr_biases, weight_decay=wd / lr_biases),
                           dict(params=others, lr=lr, weight_decay=wd / lr)],
                          momentum=momentum, nesterov=True)

    total = steps
    warmup_steps = int(total * 0.23)

    def factor(t):                                                     # triangular schedule
        if t < warmup_steps:
            f = t / warmup_steps
            return (1 - f) * 0.2 + f * 1.0
        f = (t - warmup_steps) / (total - warmup_steps)
        return (1 - f) * 1.0 + f * 0.07

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    alpha = 0.95 ** 5 * (torch.arange(total + 1) / total) ** 3         # lookahead decay, float32

    losses = []
    for s in range(steps):
        model.whiten.bias.requires_grad = (s // E) < 3                 # whiten bias: 3 epochs
        model.train()
        out = model(T["batch/%d/x" % s])
        loss = F.cross_entropy(out, T["batch/%d/y" % s], label_smoothing=0.2,
                               reduction="none").sum()
        losses.append(loss.item())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        count = s + 1
        if count % 5 == 0:
            lookahead.update(model, decay=alpha[count].item())
        if count == total:
            lookahead.update(model, decay=1.0)
    return losses, model


def whitening_check(T, tol=1e-3):
    """Recompute the whitening filters in float64 numpy and compare with init/whiten.weight."""
    x = T["whiten_sample"].double().numpy()
    n, c, h, w = x.shape
    # all 2x2 stride-1 patches, flattened in (c, kh, kw) order
    p = np.stack([x[:, :, i:i + h - 1, j:j + w - 1] for i in range(2) for j in range(2)], -1)
    p = p.transpose(0, 2, 3, 1, 4).reshape(-1, c * 4)                  # [patches, c*kh*kw]
    C = p.T @ p / len(p)                                               # uncentered covariance
    lam, vec = np.linalg.eigh(C)
    lam, vec = lam[::-1], vec[:, ::-1]                                 # descending
    filt = (vec / np.sqrt(lam + 5e-4)).T                               # [12, 12] rows = filters
    W = T["init/whiten.weight"].double().numpy().reshape(24, -1)
    k = filt.shape[0]
    lines, errs = [], []
    # Rows whose eigenvalue is (nearly) degenerate have no well-defined eigenvector: for such
    # clusters compare the cluster's operator sum f f^T (rotation-invariant) instead.
    clusters, cur = [], [0]
    for i in range(1, k):
        if (lam[i - 1] - lam[i]) < 1e-3 * lam[0]:   # gap too small for float32
            cur.append(i)
        else:
            clusters.append(cur)
            cur = [i]
    clusters.append(cur)
    for cl in clusters:
        if len(cl) == 1:
            i = cl[0]
            e = min(np.linalg.norm(W[i] - sg * filt[i]) for sg in (1, -1)) / np.linalg.norm(filt[i])
            errs.append(e)
        else:
            A = W[cl].T @ W[cl]
            Bm = filt[cl].T @ filt[cl]
            e = np.linalg.norm(A - Bm) / np.linalg.norm(Bm)
            errs.append(e)
            lines.append("  rows %s: near-degenerate eigenvalues, compared as a subspace" % cl)
    neg = np.linalg.norm(W[k:] + W[:k]) / max(np.linalg.norm(W[:k]), 1e-12)
    bias = T["init/whiten.bias"].abs().max().item()
    err = max(errs)
    ok = err <= tol and neg <= tol and bias == 0.0
    print("whitening: max rel err of filters %.3e, rows 12..23 vs -(rows 0..11) %.3e, "
          "max |bias| %.3e -> %s" % (err, neg, bias, "ok" if ok else "FAIL"))
    for l in lines:
        print(l)
    if not ok:
        worst = int(np.argmax(errs))
        return ("whitening filters differ (cluster %s rel err %.3e, negated half %.3e, bias %.3e)"
                % (clusters[worst], err, neg, bias))
    return None


# ============================================================================ wrn28-2
def same_pad(x, k, s):
    """XLA 'SAME' padding for both spatial dims (pad_before = total // 2)."""
    pads = []
    for n in (x.shape[3], x.shape[2]):                                 # F.pad order: W then H
        out = -(-n // s)
        tot = max((out - 1) * s + k - n, 0)
        pads += [tot // 2, tot - tot // 2]
    return F.pad(x, pads)


class SameConv(nn.Module):
    """objax Conv2D, no bias, padding SAME."""

    def __init__(self, cin, cout, k, stride=1):
        super().__init__()
        self.k, self.stride = k, stride
        self.weight = nn.Parameter(torch.empty(cout, cin, k, k))
        nn.init.kaiming_normal_(self.weight)

    def forward(self, x):
        return F.conv2d(same_pad(x, self.k, self.stride), self.weight, stride=self.stride)


class ObjaxBN(nn.Module):
    """objax BatchNorm2D(momentum=0.9, eps=1e-5) in training mode, from elementary ops:
    batch statistics with BIASED variance used both to normalize and for the running update."""

    def __init__(self, ch, momentum=0.9, eps=1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(ch))
        self.bias = nn.Parameter(torch.zeros(ch))
        self.register_buffer("running_mean", torch.zeros(ch))
        self.register_buffer("running_var", torch.ones(ch))

    def forward(self, x):
        if self.training:
            mean = x.mean(dim=(0, 2, 3), keepdim=True)
            var = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
            with torch.no_grad():
                self.running_mean += (1 - self.momentum) * (mean.flatten() - self.running_mean)
                self.running_var += (1 - self.momentum) * (var.flatten() - self.running_var)
        else:
            mean = self.running_mean.view(1, -1, 1, 1)
            var = self.running_var.view(1, -1, 1, 1)
        y = (x - mean) / torch.sqrt(var + self.eps)
        return y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class WRNBlock(nn.Module):
    """objax WRNBlock: pre-activation; the projection shortcut takes relu(bn1(x))."""

    def __init__(self, nin, nout, stride):
        super().__init__()
        self.bn1 = ObjaxBN(nin)
        self.conv1 = SameConv(nin, nout, 3, stride)
        self.bn2 = ObjaxBN(nout)
        self.conv2 = SameConv(nout, nout, 3, 1)
        self.shortcut = SameConv(nin, nout, 1, stride) if (nin != nout or stride > 1) else None

    def forward(self, x):
        o1 = F.relu(self.bn1(x))
        z = self.conv2(F.relu(self.bn2(self.conv1(o1))))
        return z + (self.shortcut(o1) if self.shortcut is not None else x)


class WRN(nn.Module):
    """objax WideResNet(depth 28, width 2): stem 16, groups 32/64/128 of 4 blocks."""

    def __init__(self, depth=28, width=2, nclass=10):
        super().__init__()
        n = (depth - 4) // 6
        self.stem = SameConv(3, 16, 3, 1)
        blocks, nin = [], 16
        for g, wdt in enumerate([16 * width, 32 * width, 64 * width]):
            for b in range(n):
                blocks.append(WRNBlock(nin, wdt, 2 if (g > 0 and b == 0) else 1))
                nin = wdt
        self.blocks = nn.ModuleList(blocks)
        self.bn = ObjaxBN(nin)
        self.fc = nn.Linear(nin, nclass, bias=True)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.fc(F.relu(self.bn(x)).mean(dim=(2, 3)))          # global average pool

    def kernels(self):                                                 # objax vars ending '.w'
        return [m.weight for m in self.modules() if isinstance(m, (SameConv, nn.Linear))]


def run_wrn(man, T):
    steps, E, B, N = man["steps"], man["steps_per_epoch"], man["batch_size"], man["examples"]
    epochs, lr_peak, warmup = float(man["epochs"]), float(man["lr"]), float(man["warmup"])
    wd = float(man["weight_decay"])
    model = WRN()
    load_state(model, prefixed(T, "init/"), "init")
    # objax Momentum == torch heavy-ball SGD (m = g + mu m; p -= lr m); L2 is in the loss.
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=float(man["momentum"]),
                          nesterov=False, weight_decay=0.0)
    losses = []
    for s in range(steps):
        epoch, b = s // E, s % E
        p = (epoch * N + b * B) / (epochs * N)                         # training progress
        lr = lr_peak * math.cos(7 * math.pi * p / 16)                  # official LiRA schedule
        if warmup > 0:
            lr *= min(max(p / warmup, 0.0), 1.0)                       # linear warmup
        model.train()
        out = model(T["batch/%d/x" % s])
        xe = F.cross_entropy(out, T["batch/%d/y" % s])                 # mean CE (lira's loss)
        l2 = 0.5 * sum((w ** 2).sum() for w in model.kernels())        # explicit L2 term
        loss = xe + wd * l2
        losses.append(xe.item())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
    return losses, model


RECIPES = {"airbench94": run_airbench94, "wrn28-2": run_wrn}


# ============================================================================ compare
def check(args):
    man, T = load_dump(args.dump)
    # A float64 dump (recipe_steps --float64) is retraced in float64: the models are built
    # in torch's default dtype.
    if any(t["dtype"] == "float64" for t in man["tensors"]):
        torch.set_default_dtype(torch.float64)
    recipe = man["recipe"]
    if recipe not in RECIPES:
        print("FAIL: unknown recipe %r" % recipe)
        return 1
    tol = args.tol
    failures = []
    if len(man["losses"]) != man["steps"]:
        failures.append("manifest has %d losses for %d steps" % (len(man["losses"]), man["steps"]))
    white_fail = whitening_check(T) if recipe == "airbench94" else None

    ref_losses, model = RECIPES[recipe](man, T)
    first_bad = None
    for s, (a, b) in enumerate(zip(man["losses"], ref_losses)):
        r = abs(a - b) / max(abs(b), 1e-12)
        if not math.isfinite(r):
            r = float("inf")
        print("step %d: lira loss %.8g, reference %.8g, rel diff %.3e%s"
              % (s, a, b, r, "  <-- over tol" if r > tol else ""))
        if r > tol and first_bad is None:
            first_bad = (s, a, b, r)
    if first_bad:
        failures.append("losses differ first at step %d (lira %.8g, reference %.8g, rel %.3e)"
                        % first_bad)

    final = prefixed(T, "final/")
    ref = {k: v.detach() for k, v in model.state_dict().items()
           if not k.endswith("num_batches_tracked")}
    missing = sorted(set(ref) - set(final))
    extra = sorted(set(final) - set(ref))
    if missing or extra:
        failures.append("final state names differ: missing %s, unexpected %s"
                        % (missing[:8], extra[:8]))
    diffs = []
    for k in sorted(set(ref) & set(final)):
        a = final[k].double().reshape(-1)
        b = ref[k].double().reshape(-1)
        if a.numel() != b.numel():
            diffs.append((float("inf"), k))
            continue
        r = ((a - b).norm() / max(b.norm().item(), 1e-12)).item()
        diffs.append((r if math.isfinite(r) else float("inf"), k))
    diffs.sort(reverse=True)
    over = [d for d in diffs if d[0] > tol]
    shown = diffs if args.verbose else diffs[:5]
    print("final tensors: %d compared, %d over tol %.1e; %s:"
          % (len(diffs), len(over), tol, "all" if args.verbose else "5 worst"))
    for r, k in shown:
        print("  %-40s rel diff %.3e%s" % (k, r, "  <-- over tol" if r > tol else ""))
    if over:
        failures.append("final tensor %s differs most (rel %.3e; %d tensors over tol)"
                        % (over[0][1], over[0][0], len(over)))
    if white_fail:
        failures.append(white_fail)

    if failures:
        print("FAIL (%s): %s" % (recipe, "; ".join(failures)))
        return 1
    print("OK (%s): %d steps, losses and final state within %.1e" % (recipe, man["steps"], tol))
    return 0


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)                       # quiet under | head
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="re-run a dumped lira training and compare")
    c.add_argument("--dump", required=True)
    c.add_argument("--tol", type=float, default=1e-4)
    c.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    sys.exit(check(args))


if __name__ == "__main__":
    main()
