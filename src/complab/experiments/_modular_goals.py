"""The compositional-goals world of modular_preferences_goals (Schug et al. ICLR 2024, the
authors' configs/compositional_grid.py and sweeps/compgrid/compositional.yaml): its
config, students and final evaluation. The task is tasks/goal_grid.py; the experiment's
module trains the students and states the checks.

Students, as the authors' sweep (each learner its own outer learning rate and clip; AdamW
with weight decay 0.01 at a constant rate, 200,000 steps of 128 tasks, second order):
- "linear_hnet": 847 -> 32 -> 32 -> 6 with 8 templates, the inner loop adapting the
  embedding and the output bias (Adam, lr 0.3, 10 steps); outer lr 3e-3, clip 2;
- "anil": an MLP of 2 x 512, the readout adapted for 100 inner steps of lr 0.01; outer lr
  1e-3, clip 2;
- "maml": an MLP of 2 x 384, every parameter adapted (10 steps of lr 0.01); outer lr 1e-3,
  clip 1.
One support and one query demonstration per task (120 steps each, masked after the first
interaction); the loss is the masked cross-entropy over the 6 actions (behaviour cloning).

Metrics per split of tasks, on `eval_tasks` fresh tasks after adaptation on their support
demonstration, as the authors log them: "accuracy", the masked step accuracy of the argmax
action on the query demonstration (their `acc`), "solved", the fraction of query
demonstrations whose every step is right (their `acc_all`: a greedy policy on those
states walks the shortest path and interacts), and the query loss. Ours: "accuracy_before",
the same model's accuracy before adaptation (its meta-learned start, a policy that has not
inferred the task: it sees the maze and the objects but not which one is the goal nor the
interaction), and "fit" = (accuracy - accuracy_before) / (1 - accuracy_before), the share
of what the start got wrong that adaptation put right (0: adaptation inferred nothing).
"""

import dataclasses
from dataclasses import dataclass

import equinox as eqx
import jax
import numpy as np

from complab import rng
from complab.config import require
from complab.learners import maml, meta, optim
from complab.models import students
from complab.tasks import goal_grid as gg

STUDENTS = ("linear_hnet", "anil", "maml")
HNET_FAST = r"\.embedding|\.readout_bias"
PAPER_STEPS = 200_000


@dataclass(frozen=True)
class Goals:
    task: gg.Config = gg.Config()
    students: tuple[str, ...] = ("linear_hnet", "anil")
    hidden: int = 32
    layers: int = 2
    modules: int = 8
    anil_mlp: tuple[int, int] = (512, 2)  # (hidden width, hidden layers)
    maml_mlp: tuple[int, int] = (384, 2)
    hnet_train: optim.Config = optim.Config(lr=3e-3, steps=PAPER_STEPS, clip=2.0, weight_decay=0.01)
    anil_train: optim.Config = optim.Config(lr=1e-3, steps=PAPER_STEPS, clip=2.0, weight_decay=0.01)
    maml_train: optim.Config = optim.Config(lr=1e-3, steps=PAPER_STEPS, clip=1.0, weight_decay=0.01)
    hnet_inner: meta.Inner = meta.Inner(kind="adam", lr=0.3, steps=10)
    anil_inner: meta.Inner = meta.Inner(kind="adam", lr=0.01, steps=100)
    maml_inner: meta.Inner = meta.Inner(kind="adam", lr=0.01, steps=10)
    meta_batch: int = 128
    shots: int = 1  # support demonstrations per task, and as many query ones
    eval_tasks: int = 1024

    def __post_init__(self):
        require(set(self.students) <= set(STUDENTS) and "linear_hnet" in self.students,
                f"the goal world's students are among {', '.join(STUDENTS)} and include linear_hnet; got "
                f"{self.students}")
        require(min(self.hidden, self.layers, self.modules, *self.anil_mlp, *self.maml_mlp, self.meta_batch,
                    self.shots, self.eval_tasks) >= 1, f"the goal world's sizes must be >= 1; got {self}")

    def train(self, name: str) -> optim.Config:
        return {"linear_hnet": self.hnet_train, "anil": self.anil_train, "maml": self.maml_train}[name]


def task(g: Goals, split: str, key: jax.Array) -> gg.GoalGrid:
    """The seed's mazes and split (the authors draw both from the run's seed)."""
    seed = rng.seed_of(key)
    return gg.GoalGrid(dataclasses.replace(g.task, split=split, split_seed=seed, maze_seed=seed))


def student(g: Goals, name: str) -> tuple[students.Config, maml.MAML]:
    """(the student's config, to build with the task's dims, and its meta-learner)."""
    if name == "linear_hnet":
        return (students.Config("linear_hnet", hidden=g.hidden, layers=g.layers, modules=g.modules),
                maml.MAML(g.hnet_train, g.hnet_inner, gg.ce_loss, fast=HNET_FAST))
    if name == "anil":
        return (students.Config("mlp", hidden=g.anil_mlp[0], layers=g.anil_mlp[1]),
                maml.MAML(g.anil_train, g.anil_inner, gg.ce_loss, fast=r"\.readout"))
    return (students.Config("mlp", hidden=g.maml_mlp[0], layers=g.maml_mlp[1]),
            maml.MAML(g.maml_train, g.maml_inner, gg.ce_loss, fast=".*"))


@eqx.filter_jit
def _evaluate(learn: maml.MAML, model, episodes: dict, horizon: int):
    """Per task: the query loss, accuracy and solved fraction after adaptation, and the accuracy before."""

    def one(sx, sy, qx, qy):
        adapted, _ = learn.adapt(model, sx, sy)
        hit = (adapted(qx).argmax(-1) == qy[:, :-1].argmax(-1)) | (qy[:, -1] == 0)  # a masked step counts as right
        solved = hit.reshape(-1, horizon).all(-1).mean()
        return gg.ce_loss(adapted, qx, qy), gg.accuracy(adapted, qx, qy), solved, gg.accuracy(model, qx, qy)

    return meta.per_task(one, episodes)


def rows(g: Goals, learn: maml.MAML, model, world: gg.GoalGrid, draw, k_eval: jax.Array, chunk: int) -> list[dict]:
    """The final evaluation: one row per split of tasks. `draw(key, split, n)` gives episodes."""
    out = []
    for s in ("train", "test"):
        parts = [_evaluate(learn, model, draw(jax.random.fold_in(rng.named(k_eval, s), i), s, chunk),
                           world.cfg.horizon) for i in range(g.eval_tasks // chunk)]
        loss, acc, solved, before = (np.concatenate([np.asarray(p[j]) for p in parts]) for j in range(4))
        a, b = float(acc.mean()), float(before.mean())
        out.append({"split_of_tasks": s, "loss": float(loss.mean()), "accuracy": a, "solved": float(solved.mean()),
                    "accuracy_before": b, "fit": (a - b) / (1.0 - b) if b < 1 else float("nan")})
    return out


def ratio(accuracy: dict[str, dict[int, float]]) -> dict[int, float]:
    """The generalisation ratio: held-out over in-distribution accuracy (1: held out as well as seen)."""
    train, test = accuracy["train"], accuracy["test"]
    return {s: test[s] / train[s] if train[s] > 0 else float("nan") for s in train if s in test}


def smoke() -> Goals:
    """A goal world of seconds: 7 x 7 mazes, the hypernetwork only (each student's build is tested apart)."""
    tiny = optim.Config(lr=1e-3, steps=10, clip=2.0, weight_decay=0.01)
    return Goals(task=gg.Config(size=7, mazes=2, objects=3, distractors=1, horizon=40), students=("linear_hnet",),
                 hidden=8, modules=4,
                 anil_mlp=(16, 2), hnet_train=tiny, anil_train=tiny, maml_train=tiny,
                 hnet_inner=meta.Inner(kind="adam", lr=0.3, steps=3),
                 anil_inner=meta.Inner(kind="adam", lr=0.01, steps=3), meta_batch=4, eval_tasks=4)
