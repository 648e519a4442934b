"""The modular hyperteacher (Schug, Kobayashi, Akram, Wolczyk, Proca, von Oswald, Pascanu,
Sacramento, Steger, ICLR 2024, "Discovering modular solutions that generalize
compositionally"; code smonsays/modular-hyperteacher), served in context as in
Kobayashi, Schug, Akram et al. 2024, "When can transformers compositionally generalize
in-context?".

A teacher MLP x -> ReLU(x W_1(e_1) / s) -> ... -> ReLU(. W_L(e_L) / s) -> . W_out has
`generated_layers` = L hidden layers whose weights a linear hypernetwork (no bias) makes
from a k-hot combination e_l of `modules` = K module embeddings:
W_l(e_l) = sum_m e_lm Theta_l^m (Theta ~ N(0, 1 / fan_in), s = sqrt(max_hot)). W_out and
every Theta come from `teacher_seed`. Per layer the combinations are the K one-hots and,
with `max_hot` = 2, the K(K-1)/2 pairs; a task is one combination per layer (all
products). Inputs x ~ U[-sqrt 3, sqrt 3]^d (unit variance); each task's outputs are
standardised per output by their mean and standard deviation over 1,000 fixed inputs
(from `teacher_seed`), as the paper normalises its teacher's logits.

Supports (which tasks train, split "train"; which are held out, split "test"), as the
paper names them:
- "random": a permutation drawn from `split_seed` holds out `frac_ood` of all tasks;
- "connected": per layer, the one-hots and the pairs (i, i+1), (i, i+2) mod K;
- "disconnected": per layer, combinations inside {0..K/2-1} or inside {K/2..K-1} (K even);
- "non_compositional": tasks whose last layer uses the last module are held out (that
  module is never seen there).
For connected and disconnected, a task trains when every layer's combination is in
the support, and the held-out tasks are the same for both, as in the paper's code:
those with a layer combination in neither support (the rest are unused), so the two
supports are compared on one test set. E.g. K = 6, one layer, max_hot 2: 21 tasks;
connected trains 18 (6 one-hots, 12 pairs), disconnected 12; both hold out (0,3), (1,4),
(2,5). With several generated layers the paper's disconnected support also keeps every
layer in the same half with the same number of modules; here the layers are
independent (a product).

Few-shot format (`episodes`, for meta-learning): per task a support and a query set.
In-context format (`sample`): `context` pairs (x_i, y_i) then the query (x_q, 0); tokens concat(x, y);
the loss is the squared error at the query (mean over outputs). R^2 = 1 - mean squared
error / variance of the query targets, both pooled over the batch and outputs.
`Batch.info` carries "task" (its index in `tasks`) and "embedding" ([L, K], the k-hots).
"""

import itertools
from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, masked_mean

Support = Literal["random", "connected", "disconnected", "non_compositional"]
NORM_INPUTS = 1000


@dataclass(frozen=True)
class Config:
    modules: int = 6  # K
    max_hot: int = 2  # combinations of 1..max_hot modules per layer (1 or 2)
    generated_layers: int = 1
    input_dim: int = 16
    hidden: int = 16
    output_dim: int = 1
    support: Support = "connected"
    frac_ood: float = 0.25  # the "random" support's held-out fraction
    context: int = 32  # (x, y) pairs before the query
    teacher_seed: int = 2024  # the teacher's weights and the normalisation inputs
    split_seed: int = 2024  # the "random" support's held-out tasks

    def __post_init__(self):
        require(self.modules >= 2 and self.max_hot in (1, 2) and self.generated_layers >= 1,
                f"the hyperteacher needs modules >= 2, max_hot 1 or 2 and generated_layers >= 1; got "
                f"modules={self.modules}, max_hot={self.max_hot}, generated_layers={self.generated_layers}")
        require(min(self.input_dim, self.hidden, self.output_dim, self.context) >= 1 and 0 < self.frac_ood < 1,
                f"the hyperteacher needs input_dim, hidden, output_dim, context >= 1 and 0 < frac_ood < 1; got {self}")
        require(self.support in ("random", "connected", "disconnected", "non_compositional"),
                f"support must be random, connected, disconnected or non_compositional, got {self.support!r}")
        require(self.support != "disconnected" or self.modules % 2 == 0,
                f"the disconnected support splits the modules into two halves: modules must be even, got "
                f"{self.modules}")
        train, test = split_tasks(self)
        require(len(train) > 0 and len(test) > 0,
                f"the {self.support} support with modules={self.modules}, max_hot={self.max_hot} and "
                f"generated_layers={self.generated_layers} leaves {len(train)} training and {len(test)} held-out "
                "tasks: both must be non-empty")


def layer_combinations(modules: int, max_hot: int) -> np.ndarray:
    """[count, K] 0/1: the one-hots, then (with max_hot 2) the pairs in lexicographic order."""
    out = [tuple(c) for k in range(1, max_hot + 1) for c in itertools.combinations(range(modules), k)]
    return np.array([[int(m in c) for m in range(modules)] for c in out], dtype=np.int32)


def _in_support(combo: np.ndarray, support: str) -> bool:
    """Whether a layer's combination trains under the connected / disconnected support."""
    k, idx = len(combo), np.flatnonzero(combo)
    if len(idx) == 1:
        return True
    a, b = idx
    if support == "connected":
        return b - a in (1, 2, k - 1, k - 2)  # (i, i+1) and (i, i+2) mod K
    return (a < k // 2) == (b < k // 2)


def split_tasks(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """(train, test): [count, L] per-layer combination indices of each split's tasks."""
    combos = layer_combinations(cfg.modules, cfg.max_hot)
    tasks = np.array(list(itertools.product(range(len(combos)), repeat=cfg.generated_layers)),
                     dtype=np.int32).reshape(-1, cfg.generated_layers)
    if cfg.support == "random":
        perm = np.random.default_rng(cfg.split_seed).permutation(len(tasks))
        n_test = int(len(tasks) * cfg.frac_ood)
        return tasks[np.sort(perm[n_test:])], tasks[np.sort(perm[:n_test])]
    if cfg.support == "non_compositional":
        held = combos[tasks[:, -1], -1] == 1
        return tasks[~held], tasks[held]
    ok = {s: np.array([_in_support(c, s) for c in combos]) for s in ("connected", "disconnected")}
    held = ~(ok["connected"] | ok["disconnected"])[tasks].all(1)
    return tasks[ok[cfg.support][tasks].all(1)], tasks[held]


class Teacher(eqx.Module):
    thetas: list[Float[Array, "modules fan_in fan_out"]]
    readout: Float[Array, "hidden out"]
    scale: float = eqx.field(static=True)

    def __init__(self, cfg: Config, key: jax.Array):
        dims = [cfg.input_dim] + [cfg.hidden] * cfg.generated_layers
        keys = jax.random.split(key, cfg.generated_layers + 1)
        self.thetas = [jax.random.normal(k, (cfg.modules, i, o)) / np.sqrt(i) for k, i, o in zip(keys, dims, dims[1:])]
        self.readout = jax.random.normal(keys[-1], (cfg.hidden, cfg.output_dim)) / np.sqrt(cfg.hidden)
        self.scale = float(np.sqrt(cfg.max_hot))

    def __call__(self, embedding: Float[Array, "layers modules"], x: Float[Array, "n d"]) -> Float[Array, "n out"]:
        h = x
        for e, theta in zip(embedding, self.thetas):
            h = jax.nn.relu(h @ jnp.einsum("m,mio->io", e, theta) / self.scale)
        return h @ self.readout


def uniform_inputs(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    return jax.random.uniform(key, shape, minval=-np.sqrt(3.0), maxval=np.sqrt(3.0))


@eqx.filter_jit
def _output_stats(teacher: Teacher, combos, tasks, key: jax.Array, input_dim: int):
    """Per task and output, the teacher's mean and standard deviation over NORM_INPUTS fixed inputs."""
    x = uniform_inputs(key, (NORM_INPUTS, input_dim))
    out = jax.vmap(lambda t: teacher(combos[t].astype(jnp.float32), x))(tasks)
    return out.mean(1), out.std(1) + 1e-6


class Hyperteacher(AbstractTask):
    cfg: Config
    teacher: Teacher
    combos: Int[Array, "combos modules"]
    tasks: dict[str, Int[Array, "count layers"]]
    mean: dict[str, Float[Array, "count out"]]
    std: dict[str, Float[Array, "count out"]]
    splits: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, cfg: Config):
        self.cfg = cfg
        k_teacher, k_norm = jax.random.split(jax.random.key(cfg.teacher_seed))
        self.teacher = Teacher(cfg, k_teacher)
        self.combos = jnp.asarray(layer_combinations(cfg.modules, cfg.max_hot))
        train, test = split_tasks(cfg)
        self.tasks = {"train": jnp.asarray(train), "test": jnp.asarray(test)}
        stats = {s: _output_stats(self.teacher, self.combos, v, k_norm, cfg.input_dim) for s, v in self.tasks.items()}
        self.mean = {s: m for s, (m, _) in stats.items()}
        self.std = {s: sd for s, (_, sd) in stats.items()}
        self.splits = ("train", "test")

    @property
    def dims(self) -> tuple[int, int]:
        return self.cfg.input_dim + self.cfg.output_dim, self.cfg.output_dim

    def embedding(self, split: str, task: Int[Array, "..."]) -> Float[Array, "... layers modules"]:
        return self.combos[self.tasks[split][task]].astype(jnp.float32)

    def outputs(self, split: str, task: Int[Array, ""], x: Float[Array, "n d"]) -> Float[Array, "n out"]:
        """A task's standardised outputs."""
        out = self.teacher(self.embedding(split, task), x)
        return (out - self.mean[split][task][None]) / self.std[split][task][None]

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        c = self.cfg
        k_task, k_x = jax.random.split(key)
        task = jax.random.randint(k_task, (batch_size,), 0, self.tasks[split].shape[0])
        x = uniform_inputs(k_x, (batch_size, c.context + 1, c.input_dim))
        y = jax.vmap(lambda t, xs: self.outputs(split, t, xs))(task, x)
        tokens = jnp.concatenate([x, y.at[:, -1].set(0.0)], -1)
        mask = jnp.zeros((batch_size, c.context + 1)).at[:, -1].set(1.0)
        return Batch(x=tokens, y=y, mask=mask, info={"task": task, "embedding": self.embedding(split, task)})

    def episodes(self, key: jax.Array, split: str, tasks: int, shots: int, queries: int) -> dict[str, Array]:
        """The few-shot format (meta-learning): per task `shots` support and `queries` query
        examples of the same task; from `split`'s own stream like `sample`."""
        k_task, k_x = jax.random.split(self.stream(key, split))
        task = jax.random.randint(k_task, (tasks,), 0, self.tasks[split].shape[0])
        x = uniform_inputs(k_x, (tasks, shots + queries, self.cfg.input_dim))
        y = jax.vmap(lambda t, xs: self.outputs(split, t, xs))(task, x)
        return {"support_x": x[:, :shots], "support_y": y[:, :shots], "query_x": x[:, shots:],
                "query_y": y[:, shots:], "task": task, "embedding": self.embedding(split, task)}

    def loss(self, pred: Float[Array, "batch time out"], batch: Batch) -> Float[Array, ""]:
        return masked_mean(((pred - batch.y) ** 2).mean(-1), batch.mask)

    def metrics(self, pred: Float[Array, "batch time out"], batch: Batch) -> dict[str, Array]:
        return {"loss": self.loss(pred, batch), "r2": r_squared(pred[:, -1], batch.y[:, -1])}


def r_squared(pred: Float[Array, "batch out"], y: Float[Array, "batch out"]) -> Float[Array, ""]:
    """1 - mean squared error / variance of the targets (pooled over the batch and outputs)."""
    return 1.0 - jnp.mean((pred - y) ** 2) / jnp.mean((y - y.mean(0, keepdims=True)) ** 2)
