"""`complab bench reference`: fixed models timed against outside anchors.

- `transformer`: a 2-layer causal transformer (width 64, 4 heads, pre-norm, GELU MLP
  x4, length 64, batch 64, 16 one-hot tokens in and out, cross-entropy on every
  position, Adam): complab's `SequenceModel` with the training step jitted, beside
  the same network in plain PyTorch (eager; one thread, then two), timed in the same
  run when PyTorch is installed (`pip install 'complab[bench]'`); the ratio is
  complab's step time over PyTorch's (on the CPU, whatever device complab runs on).
- `fuzzy_softmax` / `fuzzy_hyla`: the training step of `hyla_fuzzy_logic`'s cpu tier
  (Schug et al. 2024: 4 variables, 2 terms, length 32, width 64, 2 layers, 8 heads of 2
  query / key / value dimensions, T5 bias, batch 128, squared error at the query), its
  own task, model and loss, with softmax attention and with HYLA: the anchors are the
  paper's public code at that size on this machine kind, 78 ms and 143 ms per step
  (issue 11).
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from complab.bench.experiments import measure_fit
from complab.experiments import hyla_fuzzy_logic as exp
from complab.learners import optim, supervised
from complab.learners.supervised import Supervised, predict
from complab.models import feedforward, sequence
from complab.models.mixers import softmax_attention
from complab.tasks import fuzzy_logic
from complab.tasks.base import Batch
from complab.training import as_data

ANCHOR_MS = {"fuzzy_softmax": 78.0, "fuzzy_hyla": 143.0}
TRANSFORMER = dict(layers=2, width=64, heads=4, length=64, batch=64, vocab=16)


@dataclass(frozen=True)
class RefFigure:
    name: str
    compile_s: float
    step_ms: float
    flops: float
    loop_step_ms: float
    reference: str  # what the step is compared with
    reference_ms: float

    def to_row(self) -> dict:
        return {**self.__dict__, "ratio": self.step_ms / self.reference_ms}


def _tokens(key, batch, length, vocab):
    ids = jax.random.randint(key, (batch, length + 1), 0, vocab)
    one_hot = jax.nn.one_hot(ids, vocab)
    return Batch(x=one_hot[:, :-1], y=one_hot[:, 1:], mask=jnp.ones((batch, length)), info={})


def _cross_entropy(model, batch, key):
    logits = predict(model, batch, key, train=True)
    return -jnp.mean(jnp.sum(batch.y * jax.nn.log_softmax(logits), axis=-1))


def transformer_case():
    c = TRANSFORMER
    cfg = sequence.Config(mixer=softmax_attention.Config(heads=c["heads"], causal=True), layers=c["layers"],
                          d_model=c["width"], norm="pre", ff=feedforward.MLPConfig())
    model = sequence.SequenceModel(cfg, c["vocab"], c["vocab"], key=jax.random.key(0))
    learner = Supervised(optim.Config(lr=1e-3), _cross_entropy)

    def data(key, t):
        return _tokens(key, c["batch"], c["length"], c["vocab"])

    return learner, learner.init(jax.random.key(1), model), data


def fuzzy_case(mixer: str):
    cfg = exp.EXPERIMENT.tiers["cpu"]
    task = fuzzy_logic.FuzzyLogic(cfg.task)
    model = sequence.SequenceModel(exp.model_config(cfg, mixer), *task.dims, key=jax.random.key(0))
    learner = Supervised(cfg.train, supervised.at_last(task.loss))
    return learner, learner.init(jax.random.key(1), model), as_data(task, cfg.batch_size)


def reference(on_figure=None) -> list[RefFigure]:
    out = []
    cases = {"transformer": transformer_case, "fuzzy_softmax": lambda: fuzzy_case("softmax"),
             "fuzzy_hyla": lambda: fuzzy_case("hyla")}
    torch_ms = torch_transformer_ms()
    for name, make in cases.items():
        learner, state, data = make()
        compile_s, step_ms, flops, _, _, loop_ms = measure_fit(learner, state, data, jax.random.key(2), 16)
        if name == "transformer":
            refs = [(f"PyTorch eager on the CPU, {n} thread{'s' * (n > 1)}", ms) for n, ms in torch_ms.items()] or \
                   [("PyTorch not installed", float("nan"))]
        else:
            refs = [("the paper's code (anchor)", ANCHOR_MS[name])]
        for ref, ms in refs:
            fig = RefFigure(name, compile_s, step_ms, flops, loop_ms, ref, ms)
            out.append(fig)
            if on_figure is not None:
                on_figure(fig)
    return out


def torch_transformer_ms() -> dict[int, float]:
    """{threads: ms per training step} of the reference transformer in PyTorch eager ({} without PyTorch)."""
    try:
        from complab.bench import torch_reference
    except ImportError:
        return {}
    return {n: torch_reference.step_ms(threads=n, **TRANSFORMER) for n in (1, 2)}
