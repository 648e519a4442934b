"""A society of small models that talk only in symbols (after Zhuge et al. 2023's
natural-language society of mind, NLSOM): each member sees its own view of an input,
says one message of two tokens, GUESS=d and CONF in {lo, mid, hi}, and may revise its
guess after reading the others' messages ("mindstorm" rounds); the society answers by
a democratic plurality vote or by a monarchical leader that reads the messages alone.

- Views of an 8 x 8 image (`VIEWS`): each a fixed linear map to at most 64 features,
  zero-padded to 64, so members of different views stack (one vmapped model); "noisy"
  also drops each pixel with probability 1/2, one fixed draw per image.
- `Members`: one MLP per view (features -> hidden -> 10 logits), stacked.
- `message`: GUESS = argmax of a member's probabilities, CONF = lo below 0.5, mid
  below 0.9, hi above; `tokens` one-hot codes the 30 possible messages.
- `Heads`: one linear map per member (stacked): a listener maps [own logits, the
  frequencies of the 30 messages among the *other* members] to revised logits; the
  leader is one head over the concatenated one-hot messages of every member (it knows
  who said what, which the vote does not).
- `vote`: the most frequent guess; ties go to the higher summed confidence (lo 1,
  mid 2, hi 3), then to the lower digit.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

CLASSES, CONFIDENCES = 10, 3
MESSAGES = CLASSES * CONFIDENCES
LOW, HIGH = 0.5, 0.9  # confidence thresholds on a member's top probability


def _crop(rows: slice, cols: slice) -> np.ndarray:
    m = np.zeros((8, 8, 64), np.float32)
    cells = [(r, c) for r in range(8)[rows] for c in range(8)[cols]]
    for j, (r, c) in enumerate(cells):
        m[r, c, j] = 1.0
    return m.reshape(64, 64)


def _pooled() -> np.ndarray:
    m = np.zeros((8, 8, 64), np.float32)
    for r in range(8):
        for c in range(8):
            m[r, c, (r // 2) * 4 + c // 2] = 0.25
    return m.reshape(64, 64)


def _sums(axis: int) -> np.ndarray:
    m = np.zeros((8, 8, 64), np.float32)
    for r in range(8):
        for c in range(8):
            m[r, c, (r, c)[axis]] = 1.0 / 8
    return m.reshape(64, 64)


def _masses() -> np.ndarray:
    m = np.zeros((8, 8, 64), np.float32)
    for r in range(8):
        for c in range(8):
            m[r, c, (r // 4) * 2 + c // 4] = 1.0 / 16
    return m.reshape(64, 64)


VIEWS = {
    "top_left": lambda: _crop(slice(0, 4), slice(0, 4)),
    "top_right": lambda: _crop(slice(0, 4), slice(4, 8)),
    "bottom_left": lambda: _crop(slice(4, 8), slice(0, 4)),
    "bottom_right": lambda: _crop(slice(4, 8), slice(4, 8)),
    "row_sums": lambda: _sums(0),
    "column_sums": lambda: _sums(1),
    "blurred": _pooled,  # 2 x 2 average pooling, 16 features
    "noisy": lambda: np.eye(64, dtype=np.float32),  # the whole image, half its pixels dropped
    "masses": _masses,  # the ink in each quadrant (the rule agent's 4 features)
    "centre": lambda: _crop(slice(2, 6), slice(2, 6)),
}


def view(name: str, images: Float[Array, "n 64"], key: jax.Array) -> Float[Array, "n 64"]:
    """The features a member of view `name` sees of each image (`key`: the noisy view's
    fixed pixel drops)."""
    x = images @ jnp.asarray(VIEWS[name]())
    if name == "noisy":
        x = x * jax.random.bernoulli(key, 0.5, x.shape)
    return x


class Members(eqx.Module):
    w1: Float[Array, "members hidden 64"]
    b1: Float[Array, "members hidden"]
    w2: Float[Array, "members 10 hidden"]
    b2: Float[Array, "members 10"]

    def __init__(self, members: int, hidden: int, *, key: jax.Array):
        k1, k2 = jax.random.split(key)
        self.w1 = jax.random.normal(k1, (members, hidden, 64)) / 8.0
        self.b1 = jnp.zeros((members, hidden))
        self.w2 = jax.random.normal(k2, (members, CLASSES, hidden)) / jnp.sqrt(hidden)
        self.b2 = jnp.zeros((members, CLASSES))

    def __call__(self, x: Float[Array, "members n 64"]) -> Float[Array, "members n 10"]:
        h = jax.nn.relu(jnp.einsum("mhd,mnd->mnh", self.w1, x) + self.b1[:, None])
        return jnp.einsum("mch,mnh->mnc", self.w2, h) + self.b2[:, None]


class Heads(eqx.Module):
    """Linear heads, one per member (listeners) or a single one (the leader)."""

    w: Float[Array, "heads 10 d"]
    b: Float[Array, "heads 10"]

    def __init__(self, heads: int, d_in: int):
        self.w, self.b = jnp.zeros((heads, CLASSES, d_in)), jnp.zeros((heads, CLASSES))

    def __call__(self, x: Float[Array, "heads n d"]) -> Float[Array, "heads n 10"]:
        return jnp.einsum("mcd,mnd->mnc", self.w, x) + self.b[:, None]


def message(probs: Float[Array, "... 10"]) -> tuple[Int[Array, "..."], Int[Array, "..."]]:
    """(guess, confidence level 0 lo / 1 mid / 2 hi) of probabilities."""
    top = probs.max(-1)
    return probs.argmax(-1), (top >= LOW).astype(jnp.int32) + (top >= HIGH).astype(jnp.int32)


def tokens(guess: Int[Array, "..."], conf: Int[Array, "..."]) -> Float[Array, "... 30"]:
    return jax.nn.one_hot(guess * CONFIDENCES + conf, MESSAGES)


def listener_inputs(own_logits: Float[Array, "members n 10"], guess: Int[Array, "members n"],
                    conf: Int[Array, "members n"]) -> Float[Array, "members n 40"]:
    """Each member's own logits beside the frequencies of the others' messages."""
    t = tokens(guess, conf)
    others = (t.sum(0)[None] - t) / max(t.shape[0] - 1, 1)
    return jnp.concatenate([own_logits, others], -1)


def leader_inputs(guess: Int[Array, "members n"], conf: Int[Array, "members n"]) -> Float[Array, "1 n d"]:
    """Every member's message, one-hot, side by side (the leader knows who said what)."""
    t = tokens(guess, conf)
    return jnp.moveaxis(t, 0, 1).reshape(1, t.shape[1], -1)


def vote(guess: Int[Array, "members n"], conf: Int[Array, "members n"]) -> Int[Array, " n"]:
    counts = jax.nn.one_hot(guess, CLASSES).sum(0)
    weight = (jax.nn.one_hot(guess, CLASSES) * (conf + 1)[..., None]).sum(0)
    return jnp.argmax(counts + 1e-3 * weight - 1e-6 * jnp.arange(CLASSES)[None], -1)
