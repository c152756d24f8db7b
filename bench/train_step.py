# Benchmark: the same training step as bench/train_step.cpp, in PyTorch from Python, for
# the architectures both can build identically (mlp, cnn). Same arguments, same output.
#   /usr/bin/python3 bench/train_step.py --arch cnn --batch 128 --threads 1 --steps 200
import argparse
import time

import torch
from torch import nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--arch", default="cnn")
p.add_argument("--image", default="1x28x28")
p.add_argument("--batch", type=int, default=128)
p.add_argument("--steps", type=int, default=200)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--device", default="cpu")
p.add_argument("--augment", action="store_true")
p.add_argument("--bf16", action="store_true")
a = p.parse_args()
c, h, w = map(int, a.image.split("x"))
torch.set_num_threads(a.threads)
torch.manual_seed(0)
dev = torch.device(a.device)
pool, warmup = 4096, 20


def build(arch):
    # lira's model.arch mlp (hidden [256]) and cnn (channels [16, 32], hidden [256]).
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 256), nn.ReLU(), nn.Linear(256, 10))
    if arch == "cnn":
        return nn.Sequential(nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(32 * (h // 4) * (w // 4), 256), nn.ReLU(), nn.Linear(256, 10))
    raise SystemExit(f"train_step.py builds mlp and cnn only, not {arch}")


def augment(x):
    b = x.shape[0]
    mask = (torch.rand(b, device=x.device) < 0.5).view(b, 1, 1, 1)
    x = torch.where(mask, x.flip(3), x)
    k = 2
    padded = F.pad(x, (k, k, k, k), mode="reflect")
    oy = torch.randint(0, 2 * k + 1, (b, 1), device=x.device)
    ox = torch.randint(0, 2 * k + 1, (b, 1), device=x.device)
    rows = (oy + torch.arange(h, device=x.device)).view(b, 1, h, 1)
    cols = (ox + torch.arange(w, device=x.device)).view(b, 1, 1, w)
    x = padded.gather(2, rows.expand(b, c, h, padded.shape[3]))
    return x.gather(3, cols.expand(b, c, h, w))


net = build(a.arch).to(dev).train()
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
images = torch.randint(0, 256, (pool, c, h, w), dtype=torch.uint8, device=dev)
labels = torch.randint(0, 10, (pool,), device=dev)
cuda = dev.type == "cuda"
sync = torch.cuda.synchronize if cuda else (lambda: None)
data = compute = 0.0
for s in range(warmup + a.steps):
    sync()
    t0 = time.perf_counter()
    idx = torch.randint(0, pool, (a.batch,), device=dev)
    x = images.index_select(0, idx).float().mul_(1 / 255).sub_(0.5)
    if a.augment:
        x = augment(x)
    y = labels.index_select(0, idx)
    sync()
    t1 = time.perf_counter()
    opt.zero_grad()
    if cuda and a.bf16:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(net(x).float(), y)
    else:
        loss = F.cross_entropy(net(x).float(), y)
    loss.backward()
    opt.step()
    sync()
    t2 = time.perf_counter()
    if s >= warmup:
        data += t1 - t0
        compute += t2 - t1
d, k = 1000 * data / a.steps, 1000 * compute / a.steps
print(f"python arch={a.arch} batch={a.batch} threads={a.threads} device={a.device} augment={int(a.augment)} "
      f"ms_per_step={d + k:.3f} data_ms={d:.3f} compute_ms={k:.3f} data_share={d / (d + k):.3f}")
