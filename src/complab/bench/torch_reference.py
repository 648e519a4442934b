"""The reference transformer of `bench reference` in plain PyTorch (eager), written to
match complab's: one-hot tokens embedded without bias, pre-norm blocks of causal
multi-head attention (projections without bias) and a GELU MLP (x4, with biases), a
final LayerNorm, a readout without bias, cross-entropy on every position, Adam. One
step samples its batch, as complab's does. Imports PyTorch: only for the bench."""

import time

import numpy as np
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.out = nn.Linear(width, width, bias=False)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, h):
        b, t, w = h.shape
        q, k, v = self.qkv(self.ln1(h)).view(b, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.out(y.transpose(1, 2).reshape(b, t, w))
        return h + self.mlp(self.ln2(h))


class Transformer(nn.Module):
    def __init__(self, layers: int, width: int, heads: int, vocab: int):
        super().__init__()
        self.embed = nn.Linear(vocab, width, bias=False)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(width)
        self.readout = nn.Linear(width, vocab, bias=False)

    def forward(self, x):
        h = self.embed(x)
        for block in self.blocks:
            h = block(h)
        return self.readout(self.ln(h))


def step_ms(threads: int, layers: int, width: int, heads: int, length: int, batch: int, vocab: int,
            min_s: float = 1.0) -> float:
    """The median milliseconds of one training step with `threads` intra-op threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = Transformer(layers, width, heads, vocab)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            ids = torch.randint(0, vocab, (batch, length + 1))
            x = nn.functional.one_hot(ids[:, :-1], vocab).float()
            loss = nn.functional.cross_entropy(model(x).reshape(-1, vocab), ids[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        for _ in range(3):
            step()
        times, start = [], time.perf_counter()
        while len(times) < 5 or time.perf_counter() - start < min_s:
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        return 1000 * float(np.median(times))
    finally:
        torch.set_num_threads(previous)
