"""The compositional-preferences world of modular_preferences_goals: its students and final
evaluation (the experiment's module holds the config, the training and the checks; its
docstring describes the world, the students and the metrics)."""

import equinox as eqx
import jax
import numpy as np

from complab import rng
from complab.learners import maml, meta
from complab.models import students
from complab.tasks import preference_grid as pg

HNET_FAST = r"\.embedding|\.readout_bias"


def student(cfg, name: str) -> tuple[students.Config, maml.MAML]:
    """(the student's config, to build with the task's dims, and its meta-learner)."""
    if name == "linear_hnet":
        return (students.Config("linear_hnet", hidden=cfg.hidden, layers=cfg.layers, modules=cfg.modules),
                maml.MAML(cfg.train, cfg.hnet_inner, pg.q_loss, fast=HNET_FAST, first_order=cfg.hnet_first_order,
                          learn_init=cfg.hnet_learn_init))
    if name == "anil":
        return (students.Config("mlp", hidden=cfg.anil_mlp[0], layers=cfg.anil_mlp[1]),
                maml.MAML(cfg.train, cfg.anil_inner, pg.q_loss, fast=r"\.readout"))
    return (students.Config("mlp", hidden=cfg.maml_mlp[0], layers=cfg.maml_mlp[1]),
            maml.MAML(cfg.train, cfg.maml_inner, pg.q_loss, fast=".*"))


@eqx.filter_jit
def _evaluate(learn: maml.MAML, model, task: pg.PreferenceGrid, episodes: dict, key: jax.Array, n_episodes: int,
              blind_w: jax.Array):
    """Per task: the query Q loss after adaptation and the task-blind planner's (weights
    `blind_w`) on the same points, and the summed returns of the adapted student, the
    expert and the task-blind planner in the same episodes."""

    def one(sx, sy, qx, qy, w, k):
        adapted, _ = learn.adapt(model, sx, sy)
        keys = jax.random.split(k, n_episodes)

        def total(**how):
            return jax.vmap(lambda kk: task.rollout(kk, w, **how)["return"])(keys).sum()

        blind = pg.q_loss(jax.vmap(lambda o: task.optimal_q(o, blind_w)), qx, qy)
        return (pg.q_loss(adapted, qx, qy), blind, total(policy=lambda o: adapted(o[None])[0]), total(),
                total(believed=blind_w))

    keys = jax.random.split(key, episodes["weights"].shape[0])
    return jax.vmap(one)(*(episodes[k] for k in meta.EPISODE_KEYS), episodes["weights"], keys)


def rows(cfg, learn: maml.MAML, model, task: pg.PreferenceGrid, draw, k_eval: jax.Array, chunk: int) -> list[dict]:
    """The final evaluation: one row per split of tasks. `draw(key, split, n)` gives episodes."""
    out = []
    blind_w = task.mean_weights("train")
    for s in ("train", "test"):
        parts = []
        for i in range(cfg.eval_tasks // chunk):
            k_ep, k_roll = jax.random.split(jax.random.fold_in(rng.named(k_eval, s), i))
            parts.append(_evaluate(learn, model, task, draw(k_ep, s, chunk), k_roll, cfg.eval_episodes, blind_w))
        loss, blind_loss, mine, expert, blind = (np.concatenate([np.asarray(p[j]) for p in parts]) for j in range(5))
        out.append({"split_of_tasks": s, "loss": float(loss.mean()), "blind_loss": float(blind_loss.mean()),
                    "fit": float(1.0 - loss.mean() / blind_loss.mean()),
                    "return": float(mine.sum() / expert.sum()), "blind_return": float(blind.sum() / expert.sum()),
                    "expert_return": float(expert.mean() / cfg.eval_episodes)})
    return out
