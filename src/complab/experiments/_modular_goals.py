"""The compositional-goals world of modular_preferences_goals (Schug et al. ICLR 2024, the
authors' configs/compositional_grid.py and sweeps/compgrid/compositional.yaml): its
config, students and final evaluation. The task is tasks/goal_grid.py; the experiment's
module trains the students and states the checks.

The authors' students (`paper()`; second order, a meta-learned start, 200,000 steps of
128 tasks, AdamW with weight decay 0.01 at a constant rate, each learner its own outer
learning rate and clip; the inner loop AdamW with optax's default decay 1e-4):
- "linear_hnet": hidden layers 32 x 2 with 8 templates, the inner loop adapting the task
  embedding and the output bias (lr 0.3, 10 steps); outer lr 3e-3, clip 2. Ours is
  models/students.py's: the embedding generates the two hidden layers' weights, and the
  readout is shared (meta-learned, its bias adapted); the authors' hypernetwork also
  generates the output layer and the biases, one embedding per layer normalised to a
  fixed norm (30 adapted parameters against our 22). The sweep's nonlinear hypernetwork
  (hnet_deepmlp) is not run.
- "anil": an MLP of 2 x 512, its readout adapted for 100 inner steps of lr 0.01; outer lr
  1e-3, clip 2;
- "maml": an MLP of 2 x 384, every parameter adapted (10 steps of lr 0.01); outer lr 1e-3,
  clip 1.
Outer weight decay skips vectors here (learners/optim.py), optax's decays them too.
One support and one query demonstration per task (120 steps each, masked after the first
interaction); the loss is the masked cross-entropy over the 6 actions (behaviour cloning).
The mazes are the run's: maze i from seed + i, as the authors', so seeds 0, 1 and 2 share
four of their five mazes (the authors' 2020-2022 too).

`Goals()` is a CPU-sized world (3,000 steps of 32 tasks, ANIL 2 x 128 with 20 inner steps),
for `--set worlds=preferences,goals` at the cpu tier; it does not show the claim there (see
the experiment's docstring).

Metrics per split of tasks, on `eval_tasks` fresh tasks after adaptation on their support
demonstration: "accuracy", the masked step accuracy of the argmax action on the query
demonstration (the authors' `acc`), "solved", the fraction of query demonstrations whose
every step is right (their `acc_all`, which with one query demonstration is the same: a
greedy policy on those states walks the shortest path and interacts), and the query loss.
Ours, the reference: "accuracy_other", the query accuracy of the same student adapted on
the support demonstration of another task of the same split (the next one in the batch,
occasionally the same task drawn twice): what it predicts without inferring this task,
the maze and objects in view. "fit" = (accuracy - accuracy_other) / (1 - accuracy_other),
the share of those wrong steps that the right demonstration puts right (0: the
demonstration told it nothing about the task; 1: every step right). Measured against
the student's start before adaptation instead, a barely trained hypernetwork passed: its
start predicted one action everywhere (0.24 accuracy), while adapting on another task's
demonstration already gave 0.49 of 0.64.

Measured. The goal world runs at the smoke and paper tiers (the authors' sizes: 200,000 steps of 128 tasks,
one support and one query demonstration), not at the cpu tier. On 2 CPU cores its
hypernetwork at `Goals()`'s size (3,000 steps of 32 tasks, second order, 10 inner steps;
`--set worlds=goals`) took 896 s for seed 0 on the random split: step accuracy 0.749 in
distribution and 0.702 held out (0.427 and 0.450 adapted on another task's
demonstration), fit 0.562 / 0.459, ratio 0.816 (check 1 fails), and 1.6% of the query
demonstrations solved (1.2% held out): far from the paper's policies.
At the paper tier's sizes on one H200 (seed 0, cut budgets of the authors' 200,000 steps,
256 evaluation tasks, three processes sharing the GPU: about 12 ms a hypernetwork step,
so a full run is about 40 min), accuracy in distribution / held out (adapted on another
task's demonstration), fit, ratio:
- hypernetwork, random split, 5,000 steps (101 s): 0.877 / 0.807 (0.453 / 0.497), fit
  0.775 / 0.617, ratio 0.796; 20,000 steps (258 s): 0.909 / 0.828 (0.462 / 0.488), fit
  0.832 / 0.665, ratio 0.799; solved 0.418 / 0.234. Check 1 fails at these budgets.
- hypernetwork, non-compositional, 5,000 steps: fit 0.751 / 0.125, ratio 0.166; 20,000
  steps: 0.894 / 0.345 (0.453 / 0.353), fit 0.806 / -0.012, ratio -0.015: the unseen
  goal quadrant is not inferred at all (check 3 holds for the hypernetwork).
- ANIL (2 x 512, 100 inner steps), 2,000 steps (206 s): random split 0.670 / 0.648
  (0.464 / 0.475), fit 0.384 / 0.329, ratio 0.856; non-compositional fit 0.354 / 0.090,
  ratio 0.255. Not yet learned (fit < 0.5), so checks 2 and 3 have no ANIL to read.
- zero training (1 step): fit 0.12 / 0.05-0.07.
"""

from dataclasses import dataclass, replace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab import rng
from complab.config import require
from complab.experiments._modular_preferences import HNET_FAST
from complab.learners import maml, meta, optim
from complab.models import students
from complab.tasks import goal_grid as gg

STUDENTS = ("linear_hnet", "anil", "maml")


@dataclass(frozen=True)
class Student:
    """One learner's network (hidden width and layers), outer optimiser and inner loop."""

    train: optim.Config
    inner: meta.Inner
    hidden: int = 32
    layers: int = 2

    def __post_init__(self):
        require(self.hidden >= 1 and self.layers >= 1,
                f"a student needs hidden >= 1 and layers >= 1; got {self.hidden}, {self.layers}")


def _adamw(lr: float, steps: int) -> meta.Inner:
    return meta.Inner(kind="adam", lr=lr, steps=steps, weight_decay=1e-4)


def _outer(lr: float, clip: float, steps: int) -> optim.Config:
    return optim.Config(lr=lr, steps=steps, clip=clip, weight_decay=0.01)


@dataclass(frozen=True)
class Goals:
    task: gg.Config = gg.Config()
    students: tuple[str, ...] = ("linear_hnet", "anil")
    hnet: Student = Student(_outer(3e-3, 2.0, 3000), _adamw(0.3, 10))
    modules: int = 8  # the hypernetwork's templates
    anil: Student = Student(_outer(1e-3, 2.0, 3000), _adamw(0.03, 20), hidden=128)
    maml: Student = Student(_outer(1e-3, 1.0, 3000), _adamw(0.01, 10), hidden=128)
    meta_batch: int = 32
    shots: int = 1  # support demonstrations per task, and as many query ones
    eval_tasks: int = 256

    def __post_init__(self):
        require(set(self.students) <= set(STUDENTS) and "linear_hnet" in self.students,
                f"the goal world's students are among {', '.join(STUDENTS)} and include linear_hnet; got "
                f"{self.students}")
        require(min(self.modules, self.meta_batch, self.shots, self.eval_tasks) >= 1,
                f"the goal world's modules, meta_batch, shots and eval_tasks must be >= 1; got {self}")

    def student(self, name: str) -> Student:
        return {"linear_hnet": self.hnet, "anil": self.anil, "maml": self.maml}[name]


def paper() -> Goals:
    """The authors' goal world: their students, 200,000 steps of 128 tasks, 1,024 evaluation tasks."""
    n = 200_000
    return Goals(students=STUDENTS, hnet=Student(_outer(3e-3, 2.0, n), _adamw(0.3, 10)),
                 anil=Student(_outer(1e-3, 2.0, n), _adamw(0.01, 100), hidden=512),
                 maml=Student(_outer(1e-3, 1.0, n), _adamw(0.01, 10), hidden=384), meta_batch=128, eval_tasks=1024)


def smoke() -> Goals:
    """A goal world of seconds: 7 x 7 mazes, the hypernetwork only (each student's build is tested apart)."""
    tiny = _outer(1e-3, 2.0, 10)
    return Goals(task=gg.Config(size=7, mazes=2, objects=3, distractors=1, horizon=40), students=("linear_hnet",),
                 hnet=Student(tiny, _adamw(0.3, 3), hidden=8), modules=4, meta_batch=4, eval_tasks=4)


def task(g: Goals, split: str, key: jax.Array) -> gg.GoalGrid:
    """The seed's mazes and split (the authors draw both from the run's seed)."""
    seed = rng.seed_of(key)
    return gg.GoalGrid(replace(g.task, split=split, split_seed=seed, maze_seed=seed))


def student(g: Goals, name: str) -> tuple[students.Config, maml.MAML]:
    """(the student's config, to build with the task's dims, and its meta-learner)."""
    s = g.student(name)
    kind, fast = {"linear_hnet": ("linear_hnet", HNET_FAST), "anil": ("mlp", r"\.readout"), "maml": ("mlp", ".*")}[name]
    return (students.Config(kind, hidden=s.hidden, layers=s.layers, modules=g.modules),
            maml.MAML(s.train, s.inner, gg.ce_loss, fast=fast))


def scores(logits: jax.Array, y: jax.Array, horizon: int) -> tuple[jax.Array, jax.Array]:
    """(masked step accuracy, fraction of demonstrations with every unmasked step right) of logits [n, actions]
    against targets [n, actions + mask], n = demonstrations x horizon."""
    hit = logits.argmax(-1) == y[:, :-1].argmax(-1)
    solved = (hit | (y[:, -1] == 0)).reshape(-1, horizon).all(-1).mean()
    return gg.accuracy(lambda _: logits, None, y), solved


@eqx.filter_jit
def _evaluate(learn: maml.MAML, model, episodes: dict, horizon: int):
    """Per task: the query loss, accuracy and solved fraction after adaptation on its support, and the query
    accuracy after adaptation on the next task's support."""

    def one(sx, sy, ox, oy, qx, qy):
        adapted, _ = learn.adapt(model, sx, sy)
        logits = adapted(qx)
        other = learn.adapt(model, ox, oy)[0]
        return gg.ce_loss(lambda _: logits, qx, qy), *scores(logits, qy, horizon), scores(other(qx), qy, horizon)[0]

    sx, sy, qx, qy = (episodes[k] for k in meta.EPISODE_KEYS)
    return jax.vmap(one)(sx, sy, jnp.roll(sx, 1, 0), jnp.roll(sy, 1, 0), qx, qy)


def rows(g: Goals, learn: maml.MAML, model, task: gg.GoalGrid, draw, k_eval: jax.Array, chunk: int) -> list[dict]:
    """The final evaluation: one row per split of tasks. `draw(key, split, n)` gives episodes."""
    out = []
    for s in ("train", "test"):
        parts = [_evaluate(learn, model, draw(jax.random.fold_in(rng.named(k_eval, s), i), s, chunk),
                           task.cfg.horizon) for i in range(g.eval_tasks // chunk)]
        loss, acc, solved, other = (np.concatenate([np.asarray(p[j]) for p in parts]) for j in range(4))
        a, o = float(acc.mean()), float(other.mean())
        out.append({"split_of_tasks": s, "loss": float(loss.mean()), "accuracy": a, "solved": float(solved.mean()),
                    "accuracy_other": o, "fit": (a - o) / (1.0 - o) if o < 1 else float("nan")})
    return out


def ratio(fit: dict[str, dict[int, float]]) -> dict[int, float]:
    """The generalisation ratio: the held-out over the in-distribution fit (1: the demonstration of a held-out task
    tells the student as much as one of a seen task)."""
    train, test = fit["train"], fit["test"]
    return {s: test[s] / train[s] if train[s] > 0 else float("nan") for s in train if s in test}

