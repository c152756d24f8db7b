# Writes small TorchScript models for the trainer tests, with Debian's python3-torch:
#   /usr/bin/python3 make_torchscript_model.py OUT_DIR
# tiny_cnn.pt: 1x28x28 images -> 10 logits (scripted, with BatchNorm);
# tiny_mlp_traced.pt: the same input, traced; wrong_classes.pt: returns 3 logits.
import sys
import torch
from torch import nn


class TinyCnn(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 14 * 14, classes)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.fc(torch.flatten(x, 1))


out = sys.argv[1]
torch.manual_seed(0)
torch.jit.script(TinyCnn()).save(f"{out}/tiny_cnn.pt")
mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
torch.jit.trace(mlp, torch.zeros(2, 1, 28, 28)).save(f"{out}/tiny_mlp_traced.pt")
torch.jit.script(TinyCnn(classes=3)).save(f"{out}/wrong_classes.pt")
