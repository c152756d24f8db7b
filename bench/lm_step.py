"""The same GPT training step as bench/lm_step.cpp, in PyTorch from Python (Debian's
python3-torch: the same libtorch). Prints "py gpt ... ms_per_step=... tokens_per_s=..."."""
import argparse, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, embed, heads, layers):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(embed), nn.LayerNorm(embed)
        self.qkv, self.proj = nn.Linear(embed, 3 * embed), nn.Linear(embed, embed)
        self.fc, self.fc_proj = nn.Linear(embed, 4 * embed), nn.Linear(4 * embed, embed)
        with torch.no_grad():
            for l in (self.qkv, self.proj, self.fc, self.fc_proj):
                l.weight.normal_(0, 0.02); l.bias.zero_()
            for l in (self.proj, self.fc_proj):
                l.weight.mul_(1 / math.sqrt(2 * layers))

    def forward(self, x, allowed):
        B, T, C = x.shape
        D = C // self.heads
        q, k, v = self.qkv(self.ln1(x)).chunk(3, -1)
        q, k, v = (t.view(B, T, self.heads, D).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D)
        att = att.masked_fill(~allowed, -1e9).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, vocab, layers, heads, embed, context):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, embed), nn.Embedding(context, embed)
        self.blocks = nn.ModuleList(Block(embed, heads, layers) for _ in range(layers))
        self.lnf = nn.LayerNorm(embed)

    def forward(self, idx, rec):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T)).unsqueeze(0)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        allowed = (rec.unsqueeze(2) == rec.unsqueeze(1)).logical_and(causal.unsqueeze(0)).unsqueeze(1)
        for b in self.blocks:
            x = b(x, allowed)
        return self.lnf(x) @ self.wte.weight.t()


p = argparse.ArgumentParser()
for name, default in (("layers", 2), ("heads", 4), ("embed", 64), ("context", 128), ("batch", 16), ("steps", 50),
                      ("threads", 1)):
    p.add_argument("--" + name, type=int, default=default)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
net = Gpt(257, a.layers, a.heads, a.embed, a.context)
opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
x = torch.randint(0, 256, (a.batch, a.context))
rec = torch.zeros(a.batch, a.context, dtype=torch.long)
rec[:, a.context // 2:] = 1
valid = (rec[:, :-1] == rec[:, 1:]).reshape(-1).float()


def step():
    opt.zero_grad()
    logits = net(x, rec)[:, :-1]
    nll = F.cross_entropy(logits.reshape(-1, 257), x[:, 1:].reshape(-1), reduction="none")
    loss = (nll * valid).sum() / valid.sum()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    opt.step()


for _ in range(5):
    step()
t0 = time.perf_counter()
for _ in range(a.steps):
    step()
s = time.perf_counter() - t0
print(f"py gpt layers={a.layers} embed={a.embed} context={a.context} batch={a.batch} threads={a.threads} "
      f"ms_per_step={1000 * s / a.steps:.3f} tokens_per_s={a.batch * a.context * a.steps / s:.0f}")
