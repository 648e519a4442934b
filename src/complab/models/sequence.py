"""A residual stack of sequence mixers (and feedforward blocks) with a linear readout:
the recurrent nets, the linear transformers and the encoder / decoder transformers of
the catalogue are all this stack with another mixer class.

    h_0 = s E x + PE(p)     (E = identity when d_model is 0, i.e. the token width;
                             s = sqrt(width) when `embed_scale`, else 1; E ~ N(0, embed_std^2)
                             truncated at 2 std when embed_std > 0)
    norm "none":  h = h + mixer(h);           h = h + ff(h)
    norm "pre":   h = h + mixer(LN(h));       h = h + ff(LN(h));   LN before the readout
    norm "post":  h = LN(h + mixer(h));       h = LN(h + ff(h))
    out = R h_L

The mixer is chosen by the type of `cfg.mixer` (each mixer's Config has `build`),
so variants are separate config classes, not flags; likewise `cfg.ff`
(models/feedforward.py; None: no feedforward block). With one layer, no norm and no
embedding this is the single-layer model of the in-context regression literature.

Positions p are 0..T-1, or with `random_positions` a sorted sample from
[0, max_position) drawn per sequence from the forward pass's key (Ruoss et al. 2023;
a key is then needed at evaluation too). They feed the absolute encoding PE
(`positions`: none, sincos, learned) and every mixer that takes positions (attention's
RoPE, ALiBi, T5). `valid` marks the real tokens of a padded sequence: non-causal
mixers ignore the others and randomized positions are drawn for the real ones only.
With `shared`, one block's weights (mixer, feedforward, norms) serve every layer: the
Universal Transformer's recurrence in depth (Dehghani et al. 2019), as CTL++'s models.
Dropout (rate `dropout`, on the embedding and each block's output before the residual
sum) acts only when `train` is set. `form` picks the mixers' parallel or step-by-step
form: the same function (tests/models/mixers), at different speeds per device
(`complab bench mixers`); the step form of attention is causal and takes no positions.
"""

from dataclasses import dataclass
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from complab import rng
from complab.config import require
from complab.errors import ComplabError
from complab.models import positions as pos
from complab.models.base import AbstractModel


@dataclass(frozen=True)
class Config:
    mixer: Any  # a mixer Config (models/mixers/*.py)
    layers: int = 1
    d_model: int = 0  # 0: the token width, no embedding
    norm: Literal["none", "pre", "post"] = "none"
    ff: Any = None  # a feedforward Config (models/feedforward.py) or None
    positions: Literal["none", "sincos", "learned"] = "none"  # absolute encoding added to the embedding
    random_positions: bool = False
    max_position: int = 2048  # the learned table's size and the randomized positions' range
    embed_scale: bool = False
    embed_std: float = 0.0  # > 0: embedding ~ truncated N(0, std^2) (Ruoss et al.: 0.02); 0: Equinox's default
    dropout: float = 0.0
    form: Literal["parallel", "recurrent"] = "parallel"  # which form of the mixers runs (the same function)
    shared: bool = False  # one block's weights at every layer (the Universal Transformer)

    def __post_init__(self):
        require(self.layers >= 1 and self.d_model >= 0 and self.max_position >= 1 and 0 <= self.dropout < 1
                and self.embed_std >= 0,
                f"a sequence model needs layers >= 1, d_model >= 0, max_position >= 1, embed_std >= 0 and dropout "
                f"in [0, 1), "
                f"got layers={self.layers}, d_model={self.d_model}, max_position={self.max_position}, "
                f"dropout={self.dropout}")


def _dropout(h: Array, rate: float, key: jax.Array | None) -> Array:
    if key is None or rate == 0.0:
        return h
    return jnp.where(jax.random.bernoulli(key, 1.0 - rate, h.shape), h / (1.0 - rate), 0.0)


class SequenceModel(AbstractModel):
    embed: eqx.nn.Linear | None
    table: Float[Array, "positions width"] | None
    mixers: list
    norms: list
    ffs: list
    ff_norms: list
    final_norm: eqx.nn.LayerNorm | None
    readout: eqx.nn.Linear
    cfg: Config = eqx.field(static=True)

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        width = cfg.d_model or d_in
        k_embed, k_out, *k_mix = jax.random.split(key, 2 + cfg.layers)
        self.embed = eqx.nn.Linear(d_in, width, use_bias=False, key=k_embed) if cfg.d_model else None
        if self.embed is not None and cfg.embed_std > 0:
            w = cfg.embed_std * jax.random.truncated_normal(k_embed, -2.0, 2.0, (width, d_in))
            self.embed = eqx.tree_at(lambda e: e.weight, self.embed, w)
        self.table = None
        if cfg.positions == "learned":
            self.table = 0.02 * jax.random.normal(rng.named(key, "positions"), (cfg.max_position, width))
        k_mix = k_mix[:1] if cfg.shared else k_mix
        self.mixers = [cfg.mixer.build(width, key=k) for k in k_mix]
        self.ffs = [cfg.ff.build(width, key=rng.named(k, "ff")) for k in k_mix] if cfg.ff is not None else []

        def norms(n):
            return [eqx.nn.LayerNorm(width) if cfg.norm != "none" else eqx.nn.Identity() for _ in range(n)]

        self.norms, self.ff_norms = norms(len(self.mixers)), norms(len(self.ffs))
        self.final_norm = eqx.nn.LayerNorm(width) if cfg.norm == "pre" else None
        self.readout = eqx.nn.Linear(width, d_out, use_bias=False, key=k_out)
        self.cfg = cfg

    def positions(self, length: int, key: jax.Array | None, valid: Bool[Array, " time"] | None):
        cfg = self.cfg
        if not cfg.random_positions:
            if cfg.positions == "learned" and length > cfg.max_position:
                raise ComplabError(f"a sequence of {length} tokens is longer than the learned position table "
                                   f"(max_position={cfg.max_position}); raise max_position")
            return jnp.arange(length)
        if key is None:
            raise ComplabError("a model with randomized positions needs a key in every forward pass, "
                               "evaluation included")
        if length > cfg.max_position:
            raise ComplabError(f"{length} tokens cannot take distinct positions below max_position="
                               f"{cfg.max_position}; raise max_position")
        return pos.random_positions(key, length, cfg.max_position, None if valid is None else valid.sum())

    def trace(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
              valid: Bool[Array, " time"] | None = None, train: bool = False, last: bool = False) -> dict[str, Array]:
        """Named intermediates and "out"; with `last`, the final block works on the last
        position only (its mixer's `last`), so "out" is [1, d_out]."""
        cfg, t = self.cfg, x.shape[0]
        k_pos, k_drop = jax.random.split(key) if key is not None else (None, None)
        if train and cfg.dropout > 0 and key is None:
            raise ComplabError("dropout in training needs a key in the forward pass")
        drop_keys = iter(jax.random.split(k_drop, 1 + 2 * cfg.layers) if train and cfg.dropout > 0
                         else [None] * (1 + 2 * cfg.layers))
        p = self.positions(t, k_pos, valid)
        h = x if self.embed is None else jax.vmap(self.embed)(x)
        if cfg.embed_scale:
            h = h * jnp.sqrt(h.shape[-1]).astype(h.dtype)
        if cfg.positions == "sincos":
            h = h + pos.sincos(p, h.shape[-1]).astype(h.dtype)
        elif cfg.positions == "learned":
            h = h + self.table[p]
        h = _dropout(h, cfg.dropout, next(drop_keys))
        out = {"positions": p}
        for i in range(cfg.layers):
            final, j = last and i == cfg.layers - 1, 0 if cfg.shared else i
            blocks = [(f"block{i}.mixer", self.norms[j], self._mix(self.mixers[j], p, valid, cfg.form, final))]
            if self.ffs:
                k_ff = jax.random.fold_in(rng.named(k_drop, "ff"), i) if train and k_drop is not None else None
                blocks.append((f"block{i}.ff", self.ff_norms[j], lambda z, f=self.ffs[j], k=k_ff: f.trace(z, k)))
            for name, norm, block in blocks:
                ln = jax.vmap(norm)
                inner = block(ln(h) if cfg.norm == "pre" else h)
                out.update({f"{name}.{k}": v for k, v in inner.items()})
                h = h[-inner["out"].shape[0]:] + _dropout(inner["out"], cfg.dropout, next(drop_keys))
                if cfg.norm == "post":
                    h = ln(h)
        if self.final_norm is not None:
            h = jax.vmap(self.final_norm)(h)
        out["out"] = jax.vmap(self.readout)(h)
        return out

    @staticmethod
    def _mix(mixer, p, valid, form, last=False):
        if form == "recurrent":
            if mixer.takes_positions:
                raise ComplabError(f"{type(mixer).__name__} uses token positions and runs only in its parallel "
                                   "form here; set form='parallel'")
            return lambda z: {"out": mixer.recurrent(z)[-1:] if last else mixer.recurrent(z)}
        if mixer.takes_positions:
            return lambda z: ({"out": mixer.trace(z, positions=p, valid=valid)["out"][-1:]} if last
                              else mixer.trace(z, positions=p, valid=valid))
        return (lambda z: {"out": mixer.last(z)[None]}) if last else mixer.trace

    def __call__(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
                 valid: Bool[Array, " time"] | None = None, train: bool = False) -> Float[Array, "time d_out"]:
        return self.trace(x, key=key, valid=valid, train=train)["out"]

    def last(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
             valid: Bool[Array, " time"] | None = None, train: bool = False) -> Float[Array, " d_out"]:
        """The output at the last position, computing no more of the final block than it needs
        (the same function as `self(x)[-1]`; with dropout, the same distribution)."""
        return self.trace(x, key=key, valid=valid, train=train, last=True)["out"][0]
