"""`complab bench meta`: the memory and time of one meta-gradient against the number of
inner steps, for each meta-learner (learners/).

Second-order MAML differentiates through its inner loop and stores every step, so its
memory grows with the steps (first-order MAML stores none but still runs them);
implicit differentiation and the contrastive rule treat the inner solution as a fixed
point and COMLN integrates forward sensitivities inside its custom VJP, so theirs stays
flat. COMLN's steps are its horizon T over the solver step dt; "comln (autodiff)" is
the same solve differentiated by backpropagation through a scan of that many steps,
the reference it improves on.

Memory is XLA's planned temporary memory for one compiled meta-gradient (the peak
working set beyond inputs and outputs, the figure that grows with stored
activations); time is its median wall time. The problem: sinusoid episodes (25 tasks,
10 + 10 points, an MLP 1-40-40-1, every weight fast); for COMLN, 5-way 5-shot
episodes of 32-dimensional Gaussian clusters through a feature MLP 32-64-64.
"""

from dataclasses import asdict, dataclass
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from complab.bench import measure
from complab.learners import comln, contrastive, implicit, maml, meta, optim
from complab.models import students
from complab.tasks import sinusoid

STEPS = (10, 30, 100, 300)
LEARNERS = ("maml", "maml (first order)", "implicit", "contrastive", "comln", "comln (autodiff)")


@dataclass(frozen=True)
class Figure:
    learner: str
    inner_steps: int
    step_ms: float
    temp_mib: float
    compile_s: float

    def to_row(self) -> dict:
        return asdict(self)


def _mse(model, x, y):
    return jnp.mean((model(x) - y) ** 2)


def _sinusoid_gradient(name: str, steps: int) -> tuple[Callable, tuple]:
    model = students.Config("mlp", hidden=40, layers=2).build(1, 1, key=jax.random.key(0))
    batch = sinusoid.Sinusoid(sinusoid.Config()).episodes(jax.random.key(1), "train", 25, 10, 10)
    inner, outer = meta.Inner(kind="sgd", lr=0.004, steps=steps), optim.Config()
    if name.startswith("maml"):
        learner = maml.MAML(outer, inner, _mse, first_order="first" in name)
        return lambda m, b: learner.meta_gradient(m, b)[2], (model, batch)
    rule = (implicit.Implicit(outer, inner, _mse, lam=2.0) if name == "implicit" else
            contrastive.Contrastive(outer, inner, _mse, lam=2.0, beta=0.01, symmetric=True))
    return lambda m, b: rule.meta_gradient(m, b)[1], (model, batch)


def _comln_gradient(name: str, steps: int) -> tuple[Callable, tuple]:
    ways, shots, dim, dt = 5, 5, 32, 0.05
    k_c, k_s, k_q, k_f, k_m = jax.random.split(jax.random.key(2), 5)
    centres = jax.random.normal(k_c, (ways, dim))
    sy, qy = jnp.repeat(jnp.arange(ways), shots), jnp.repeat(jnp.arange(ways), 15)
    x = (centres[sy] + jax.random.normal(k_s, (ways * shots, dim)), centres[qy] + jax.random.normal(k_q, (15 * ways,
                                                                                                          dim)))
    features = eqx.nn.MLP(dim, 64, 64, 1, activation=jax.nn.relu, key=k_f)
    model = comln.Model(eqx.filter_vmap(features), ways, 64, t0=steps * dt, key=k_m)
    if name == "comln":
        def loss(m):
            return comln.cross_entropy(m.logits(m.adapt(x[0], sy, dt), x[1]), qy)
    else:
        def loss(m):
            w = comln.flow_unrolled(m.w0, m.features(x[0]), jax.nn.one_hot(sy, ways), jnp.exp(m.log_t), steps)
            return comln.cross_entropy(m.logits(w, x[1]), qy)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    return lambda p: jax.grad(lambda q: loss(eqx.combine(q, static)))(p), (params,)


def meta_memory(on_figure: Callable[[Figure], None], steps: tuple[int, ...] = STEPS,
                learners: tuple[str, ...] = LEARNERS) -> None:
    for name in learners:
        for n in steps:
            fn, args = (_comln_gradient if name.startswith("comln") else _sinusoid_gradient)(name, n)
            if not name.startswith("comln"):
                params, static = eqx.partition(args[0], eqx.is_inexact_array)
                fn, args = (lambda g, s: lambda p, b: g(eqx.combine(p, s), b))(fn, static), (params, args[1])
            t = measure.compiled(fn, args, min_s=0.3, min_calls=3)
            on_figure(Figure(name, n, t.ms, t.temp_mib, t.compile_s))
