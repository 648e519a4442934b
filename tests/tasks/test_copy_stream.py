"""The string-memorisation stream: the worked example read back symbol by symbol,
sequences back to back with their lengths drawn below T_cur, and the curriculum raising
T_cur only once the running loss is under the threshold."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.tasks import copy_stream as cs

CFG = cs.Config(max_length=8, spread=2, threshold=0.15, rate=0.5, restart=0.3)


def _walk(s, t_cur, steps, seed=0):
    key = jax.random.key(seed)
    xs, ys, lengths = [], [], []
    for i in range(steps):
        s = cs.refresh(CFG, jax.random.fold_in(key, i), s, jnp.asarray(t_cur))
        x, y, _ = cs.symbols(s)
        xs.append(int(x[0]))
        ys.append(int(y[0]))
        lengths.append(int(s.length[0]))
        s = cs.advance(s)
    return xs, ys, lengths


def test_the_worked_example():
    s = cs.Streams(jnp.zeros(1, jnp.int32), jnp.array([2]), jnp.array([[1, 0, 0, 0, 0, 0, 0, 0]]))
    xs, ys = [], []
    for _ in range(6):
        x, y, _ = cs.symbols(s)
        xs.append(int(x[0]))
        ys.append(int(y[0]))
        s = cs.advance(s)
    assert xs == [2, 1, 0, 3, 3, 3] and ys == [3, 3, 3, 2, 1, 0]
    assert int(s.pos[0]) == 0  # the next sequence starts


def test_sequences_follow_each_other_with_lengths_below_t_cur():
    xs, ys, lengths = _walk(cs.start(CFG, 1), 5, 200)
    starts = [i for i, x in enumerate(xs) if x == cs.START]
    assert starts[0] == 0 and len(starts) > 5
    for a, b in zip(starts, starts[1:]):
        t = lengths[a]
        assert b - a == 2 * t + 2 and 3 <= t <= 5
        assert xs[a + 1:a + 1 + t] == ys[a + t + 2:b]  # the string comes back after the marker
        assert set(xs[a + 1:a + 1 + t]) <= {0, 1} and ys[a + t + 1] == cs.START
    assert len({lengths[a] for a in starts}) > 1


def test_the_curriculum_raises_t_cur_only_below_the_threshold():
    t, avg = cs.curriculum(CFG, jnp.asarray(3), jnp.asarray(0.2), jnp.asarray(0.12))  # average 0.16
    assert int(t) == 3 and np.isclose(float(avg), 0.16)
    t, avg = cs.curriculum(CFG, jnp.asarray(3), jnp.asarray(0.16), jnp.asarray(0.1))  # average 0.13
    assert int(t) == 4 and np.isclose(float(avg), 0.3)
    t, _ = cs.curriculum(CFG, jnp.asarray(CFG.max_length), jnp.asarray(0.0), jnp.asarray(0.0))
    assert int(t) == CFG.max_length
