"""Gradient optimizers for the learners, from one frozen config (Optax underneath).

SGD (with optional momentum), Adam or RMSprop (torch's form, g / (sqrt(avg g^2) + eps)),
decoupled weight decay (Adam + decay = AdamW;
never applied to 1-D parameters: biases, norms, decay rates), global-norm clipping,
a schedule of linear warmup then cosine decay to `final_lr_frac * lr` (1.0:
constant), and per-group learning-rate scalings: each `Group` multiplies the
updates of the parameters whose path (as `jax.tree_util.keystr` writes it, e.g.
`.w` or `.mixers[0].w_q`) matches its regular expression. The teacher-student
papers train the two layers of a committee machine at lr eta and eta_v / N this way.
"""

import re
from dataclasses import dataclass
from typing import Any, Literal

import equinox as eqx
import jax
import optax

from complab.config import require
from complab.errors import ConfigError


@dataclass(frozen=True)
class Group:
    match: str  # a regular expression searched in each parameter's path
    scale: float = 1.0  # learning-rate multiplier for the parameters it matches

    def __post_init__(self):
        require(self.scale >= 0, f"a group's scale must be >= 0, got {self.scale}")
        try:
            re.compile(self.match)
        except re.error as e:
            raise ConfigError(f"group match {self.match!r} is not a regular expression ({e})") from None


@dataclass(frozen=True)
class Config:
    kind: Literal["adam", "sgd", "rmsprop"] = "adam"
    lr: float = 1e-3
    steps: int = 1000  # the schedule's length
    warmup: int = 0
    final_lr_frac: float = 1.0  # cosine decay to this fraction of lr; 1.0: constant
    weight_decay: float = 0.0  # decoupled (AdamW-style), matrices only
    clip: float = 0.0  # global-norm clip; 0: none
    b1: float = 0.9  # Adam's first moment decay
    b2: float = 0.999  # Adam's second moment decay; RMSprop's squared-gradient decay (torch's alpha)
    momentum: float = 0.0  # SGD only
    groups: tuple[Group, ...] = ()

    def __post_init__(self):
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.steps >= 1, f"steps must be >= 1, got {self.steps}")
        require(0 <= self.warmup <= self.steps, f"warmup must be in [0, steps={self.steps}], got {self.warmup}")
        require(0 <= self.final_lr_frac <= 1, f"final_lr_frac must be in [0, 1], got {self.final_lr_frac}")
        require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        require(self.clip >= 0, f"clip must be >= 0 (0: no clipping), got {self.clip}")
        require(0 <= self.b1 < 1 and 0 <= self.b2 < 1, f"b1 and b2 must be in [0, 1), got {self.b1}, {self.b2}")
        require(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        require(self.momentum == 0 or self.kind == "sgd", f"momentum applies to sgd only, not {self.kind}")


def schedule(cfg: Config) -> optax.Schedule:
    return optax.warmup_cosine_decay_schedule(0.0 if cfg.warmup else cfg.lr, cfg.lr, cfg.warmup,
                                              max(cfg.steps, cfg.warmup + 1), end_value=cfg.final_lr_frac * cfg.lr)


def group_scales(groups: tuple[Group, ...], tree: Any) -> Any:
    """Per-leaf learning-rate multipliers: the product of the scales of the groups that match."""

    def scale(path, _):
        name = jax.tree_util.keystr(path)
        out = 1.0
        for g in groups:
            if re.search(g.match, name):
                out *= g.scale
        return out

    return jax.tree_util.tree_map_with_path(scale, tree)


def check_groups(groups: tuple[Group, ...], params: Any) -> None:
    """Refuse a group that matches no parameter (a typo would silently train at lr)."""
    names = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(params)]
    for g in groups:
        if not any(re.search(g.match, n) for n in names):
            raise ConfigError(f"learning-rate group {g.match!r} matches no parameter; the parameters are: "
                              f"{', '.join(names)}")


def _scale_by_groups(groups: tuple[Group, ...]) -> optax.GradientTransformation:
    def update(updates, state, params=None):
        del params
        return jax.tree.map(lambda u, s: u * s, updates, group_scales(groups, updates)), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def optimizer(cfg: Config) -> optax.GradientTransformation:
    decay_mask = lambda params: jax.tree.map(lambda p: p.ndim > 1, params)  # noqa: E731
    parts = [optax.clip_by_global_norm(cfg.clip)] if cfg.clip else []
    if cfg.kind == "adam":
        parts.append(optax.scale_by_adam(cfg.b1, cfg.b2))
    elif cfg.kind == "rmsprop":
        parts.append(optax.scale_by_rms(decay=cfg.b2, eps=1e-8, eps_in_sqrt=False))
    elif cfg.momentum:
        parts.append(optax.trace(cfg.momentum))
    if cfg.weight_decay:
        parts.append(optax.add_decayed_weights(cfg.weight_decay, mask=decay_mask))
    parts.append(optax.scale_by_learning_rate(schedule(cfg)))
    if cfg.groups:
        parts.append(_scale_by_groups(cfg.groups))
    return optax.chain(*parts)


def start(cfg: Config, params: Any) -> Any:
    """The optimizer state for `params` (refusing a learning-rate group that matches none of them)."""
    check_groups(cfg.groups, params)
    return optimizer(cfg).init(params)


def descend(cfg: Config, grads: Any, opt_state: Any, params: Any, target: Any) -> tuple[Any, Any]:
    """(`target` moved by one optimizer step on `grads`, the new optimizer state); `params` are
    `target`'s trainable leaves, as `grads` holds them."""
    updates, opt_state = optimizer(cfg).update(grads, opt_state, params)
    return eqx.apply_updates(target, updates), opt_state
