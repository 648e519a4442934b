"""`complab bench mixers`: for every mixer of the zoo and each of its forms (parallel; step-by-step),
at a few (length, width) points: the compile time, the steady-state time of one
forward + backward pass over a batch, and the peak temporary memory XLA plans for it
(`memory_analysis`), so the cost of each mixer as the length grows is visible
(quadratic attention against linear recurrences). Timing is the median of `repeats`
calls after one warm-up; speed is measured here, never asserted in tests.
"""

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp

from complab.bench.measure import compiled
from complab.models.mixers import (delta_net, elstm, gated_rnn, hyla, linear_attention, linear_transformer, lru,
                                   lstm, recurrent_delta, softmax_attention, srwm)
from complab.models.mixers.base import AbstractRecurrentMixer


def zoo(max_len: int) -> dict[str, object]:
    """One representative config per mixer (4 heads where there are heads)."""
    return {
        "softmax_attention": softmax_attention.Config(heads=4, max_len=max_len),
        "softmax_attention_rope": softmax_attention.Config(heads=4, encoding="rope", max_len=max_len),
        "hyla": hyla.Config(heads=4, causal=True, max_len=max_len),
        "linear_attention": linear_attention.Config(heads=4),
        "linear_transformer": linear_transformer.Config(heads=4),
        "delta_net": delta_net.Config(heads=4),
        "gated_rnn": gated_rnn.Config(neurons=64),
        "lru": lru.Config(state=64),
        "recurrent_delta": recurrent_delta.Config(heads=4),
        "srwm": srwm.Config(heads=4),
        "lstm": lstm.Config(hidden=64),
        "elstm": elstm.Config(hidden=64),
    }


@dataclass(frozen=True)
class Figure:
    name: str
    form: str
    length: int
    width: int
    batch: int
    compile_s: float
    step_ms: float
    temp_mib: float
    error: str = ""  # why the point has no figures (e.g. out of device memory)

    def to_row(self) -> dict:
        return dict(self.__dict__)


def mixers(lengths: tuple[int, ...] = (64, 256, 1024), widths: tuple[int, ...] = (64,), batch: int = 8,
           repeats: int = 5, names: tuple[str, ...] | None = None,
           on_figure: Callable[[Figure], None] | None = None) -> list[Figure]:
    """Figures for every mixer, form and length; a point that fails (out of memory: the
    step form of attention keeps its whole cache per step for the backward pass) is
    recorded with its error and the others go on."""
    out = []
    for name in zoo(1):
        if names and name not in names:
            continue
        for width in widths:
            for length in lengths:
                out += _points(name, zoo(length)[name].build(width, key=jax.random.key(0)), length, width, batch,
                               repeats, on_figure)
    return out


def _points(name, mixer, length, width, batch, repeats, on_figure) -> list[Figure]:
    forms = {"recurrent": lambda m, x: m.recurrent(x)}
    if not isinstance(mixer, AbstractRecurrentMixer):
        forms = {"parallel": lambda m, x: m(x), **forms}
    out = []
    for form, apply in forms.items():
        def loss(m, x, apply=apply):
            return jnp.mean(jax.vmap(lambda z: apply(m, z))(x) ** 2)

        x = jax.random.normal(jax.random.key(1), (batch, length, width))
        try:
            t = compiled(jax.grad(loss, argnums=(0, 1)), (mixer, x), min_s=0.0, min_calls=repeats)
            fig = Figure(name, form, length, width, batch, t.compile_s, t.ms, t.temp_mib)
        except jax.errors.JaxRuntimeError as e:
            reason = "out of memory" if "RESOURCE_EXHAUSTED" in str(e) else str(e).splitlines()[0][:200]
            fig = Figure(name, form, length, width, batch, float("nan"), float("nan"), float("nan"), reason)
        out.append(fig)
        if on_figure is not None:
            on_figure(fig)
    return out
