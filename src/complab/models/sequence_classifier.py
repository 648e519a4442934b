"""Sequence classifiers as CTL++'s models (Csordás, Irie, Schmidhuber 2022; code
RobertCsordas/ctlpp): a padded token sequence [time, vocab] with its `valid` tokens ->
class logits [1, classes] (one answer token).

- "transformer": the zoo's sequence model (models/sequence.py) as the authors'
  `relative_universal` encoder: one post-norm layer of non-causal softmax attention with
  Transformer-XL relative positions (no absolute encoding) and a ReLU feedforward
  (`ff_factor` x width), shared and applied `layers` times; the class is read from the
  first token (the SOS marker the task puts there), as their `result_column="first"`.
- "bilstm": a token embedding, an LSTM reading the sequence forwards and one reading it
  backwards (`hidden` units each), and a linear readout of their final states
  [h_fwd; h_bwd], as their packed bidirectional encoder. The backward direction reads
  the real tokens only: the padded sequence is reversed and rotated so they come first.
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from complab.config import require
from complab.models import feedforward, sequence
from complab.models.mixers import lstm, softmax_attention

KINDS = ("transformer", "bilstm")


@dataclass(frozen=True)
class Config:
    kind: Literal["transformer", "bilstm"] = "transformer"
    dim: int = 128
    layers: int = 8  # transformer: applications of the shared layer
    heads: int = 4
    ff_factor: float = 2.0
    hidden: int = 128  # bilstm: units per direction
    dropout: float = 0.0  # transformer only

    def __post_init__(self):
        require(self.kind in KINDS, f"a sequence classifier is one of {', '.join(KINDS)}, got {self.kind!r}")
        require(min(self.dim, self.layers, self.heads, self.hidden) >= 1 and self.dim % self.heads == 0,
                f"a sequence classifier needs dim, layers, heads, hidden >= 1 and heads dividing dim; got {self}")

    def build(self, vocab: int, classes: int, *, key: jax.Array) -> eqx.Module:
        return (Transformer if self.kind == "transformer" else BiLSTM)(self, vocab, classes, key=key)


class Transformer(eqx.Module):
    net: sequence.SequenceModel

    def __init__(self, cfg: Config, vocab: int, classes: int, *, key: jax.Array):
        mixer = softmax_attention.Config(heads=cfg.heads, causal=False, encoding="xl")
        self.net = sequence.SequenceModel(
            sequence.Config(mixer=mixer, layers=cfg.layers, d_model=cfg.dim, norm="post", shared=True,
                            ff=feedforward.MLPConfig(factor=cfg.ff_factor, activation="relu"), dropout=cfg.dropout),
            vocab, classes, key=key)

    def __call__(self, x: Float[Array, "time vocab"], *, valid: Bool[Array, " time"] | None = None,
                 key: jax.Array | None = None, train: bool = False) -> Float[Array, "1 classes"]:
        return self.net(x, valid=valid, key=key, train=train)[:1]


class BiLSTM(eqx.Module):
    embed: eqx.nn.Linear
    forward: lstm.LSTM
    backward: lstm.LSTM
    readout: eqx.nn.Linear

    def __init__(self, cfg: Config, vocab: int, classes: int, *, key: jax.Array):
        k_e, k_f, k_b, k_r = jax.random.split(key, 4)
        self.embed = eqx.nn.Linear(vocab, cfg.dim, use_bias=False, key=k_e)
        self.forward = lstm.Config(hidden=cfg.hidden).build(cfg.dim, key=k_f)
        self.backward = lstm.Config(hidden=cfg.hidden).build(cfg.dim, key=k_b)
        self.readout = eqx.nn.Linear(cfg.dim, classes, key=k_r)

    def __call__(self, x: Float[Array, "time vocab"], *, valid: Bool[Array, " time"] | None = None,
                 key: jax.Array | None = None, train: bool = False) -> Float[Array, "1 classes"]:
        t = x.shape[0]
        n = t if valid is None else valid.sum()
        e = jax.vmap(self.embed)(x)
        fwd = self.forward.recurrent(e)[n - 1]
        bwd = self.backward.recurrent(jnp.roll(e[::-1], n - t, axis=0))[n - 1]  # real tokens first, reversed
        # each direction's output is its state read out to `dim`: their sum is a linear map of [h_fwd; h_bwd]
        return self.readout(fwd + bwd)[None]
