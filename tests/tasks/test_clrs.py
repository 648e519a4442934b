"""The vectorised CLRS algorithms equal plain loops written as CLRS writes them; BFS trees
and Bellman-Ford distances are right; the task's splits, determinism and padding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.tasks import clrs
from complab.tasks import clrs_algorithms as algos

N, GRAPHS = 7, 40


def _graphs(weighted: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(GRAPHS):
        p = rng.choice([0.2, 0.5, 0.8])
        half = rng.binomial(1, p, (N, N))
        a = (half * half.T).astype(float)
        if weighted:
            u = rng.uniform(size=(N, N))
            a = a * np.sqrt(u * u.T + 1e-3)
        out.append((a.astype(np.float32), int(rng.integers(N))))
    return out


def bfs_loop(a, s):
    n = a.shape[0]
    reach, pi = np.zeros(n), np.arange(n)
    reach[s] = 1
    frames = []
    while True:
        prev = reach.copy()
        frames.append((prev.copy(), pi.copy()))
        for i in range(n):
            for j in range(n):
                if a[i, j] > 0 and prev[i] == 1:
                    if pi[j] == j and j != s:
                        pi[j] = i
                    reach[j] = 1
        if np.all(reach == prev):
            break
    return frames, pi


def bellman_ford_loop(a, s):
    n = a.shape[0]
    d, pi, msk = np.zeros(n, np.float32), np.arange(n), np.zeros(n)
    msk[s] = 1
    frames = []
    while True:
        prev_d, prev_msk = d.copy(), msk.copy()
        frames.append((pi.copy(), prev_d.copy(), prev_msk.copy()))
        for u in range(n):
            for v in range(n):
                if prev_msk[u] == 1 and a[u, v] != 0:
                    if msk[v] == 0 or prev_d[u] + a[u, v] < d[v]:
                        d[v] = prev_d[u] + a[u, v]
                        pi[v] = u
                    msk[v] = 1
        if np.all(d == prev_d):
            break
    return frames, pi


def _pred(order):
    probe = np.arange(len(order))
    for i in range(1, len(order)):
        probe[order[i]] = order[i - 1]
    return probe


def insertion_sort_loop(keys):
    a, order = keys.copy(), np.arange(len(keys))
    frames = [(_pred(order), 0, 0)]
    for j in range(1, len(a)):
        key, i = a[j], j - 1
        while i >= 0 and a[i] > key:
            a[i + 1], order[i + 1] = a[i], order[i]
            i -= 1
        a[i + 1] = key
        stor = order[i + 1]
        order[i + 1] = j
        frames.append((_pred(order), stor, j))
    return frames, _pred(order)


@pytest.fixture(scope="module")
def run_bfs():
    return jax.jit(jax.vmap(lambda a, s: algos.bfs(a, s, N)))


@pytest.fixture(scope="module")
def run_bf():
    return jax.jit(jax.vmap(lambda a, s: algos.bellman_ford(a, s, N)))


def test_bfs_equals_the_loop_and_builds_a_bfs_tree(run_bfs):
    gs = _graphs(False)
    hints, out, length = run_bfs(jnp.asarray(np.stack([a for a, _ in gs])), jnp.asarray([s for _, s in gs]))
    for b, (a, s) in enumerate(gs):
        frames, pi = bfs_loop(a, s)
        assert int(length[b]) == len(frames)
        np.testing.assert_array_equal(out[b], pi)
        for t, (reach, pi_t) in enumerate(frames):
            np.testing.assert_array_equal(hints["reach_h"][b, t], reach)
            np.testing.assert_array_equal(hints["pi_h"][b, t], pi_t)
        # a BFS tree: hop distances from s, each reached node's parent one hop closer
        dist = np.full(N, np.inf)
        dist[s], frontier = 0, [s]
        while frontier:
            nxt = [j for i in frontier for j in range(N) if a[i, j] > 0 and dist[j] == np.inf]
            for j in nxt:
                dist[j] = dist[[i for i in frontier if a[i, j] > 0][0]] + 1
            frontier = sorted(set(nxt))
        for j in range(N):
            if j == s or dist[j] == np.inf:
                assert pi[j] == j
            else:
                assert a[pi[j], j] > 0 and dist[pi[j]] == dist[j] - 1


def test_bellman_ford_equals_the_loop_and_shortest_paths(run_bf):
    gs = _graphs(True)
    hints, out, length = run_bf(jnp.asarray(np.stack([a for a, _ in gs])), jnp.asarray([s for _, s in gs]))
    for b, (a, s) in enumerate(gs):
        frames, pi = bellman_ford_loop(a, s)
        assert int(length[b]) == len(frames)
        np.testing.assert_array_equal(out[b], pi)
        for t, (pi_t, d_t, m_t) in enumerate(frames):
            np.testing.assert_array_equal(hints["pi_h"][b, t], pi_t)
            np.testing.assert_allclose(hints["d"][b, t], d_t, rtol=1e-6)
            np.testing.assert_array_equal(hints["msk"][b, t], m_t)
        w = np.where(a > 0, a.astype(np.float64), np.inf)
        np.fill_diagonal(w, 0)
        for k in range(N):  # Floyd-Warshall
            w = np.minimum(w, w[:, k:k + 1] + w[k:k + 1, :])
        d = np.asarray(hints["d"][b, -1])
        reached = np.isfinite(w[s])
        np.testing.assert_allclose(d[reached], w[s][reached], rtol=1e-5)
        for v in np.flatnonzero(reached):
            if v != s:
                assert np.isclose(d[pi[v]] + a[pi[v], v], d[v], rtol=1e-5)


def test_insertion_sort_equals_the_loop():
    rng = np.random.default_rng(1)
    keys = rng.uniform(size=(GRAPHS, N)).astype(np.float32)
    hints, out, length = jax.jit(jax.vmap(lambda k: algos.insertion_sort(k, jnp.int32(N), N)))(jnp.asarray(keys))
    for b in range(GRAPHS):
        frames, pred = insertion_sort_loop(keys[b])
        assert int(length[b]) == N
        np.testing.assert_array_equal(out[b], pred)
        for t, (p, i, j) in enumerate(frames):
            np.testing.assert_array_equal(hints["pred_h"][b, t], p)
            assert int(np.argmax(hints["i"][b, t])) == i and int(np.argmax(hints["j"][b, t])) == j


@pytest.mark.parametrize("algorithm", clrs.ALGORITHMS)
def test_splits_determinism_and_padding(algorithm):
    task = clrs.Clrs(clrs.Config(algorithm=algorithm, train_sizes=(3, 5), test_size=8))
    sample = jax.jit(lambda k: task.sample(k, "train", 16))
    a, b = sample(jax.random.key(3)), sample(jax.random.key(3))
    assert all(jnp.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    c = sample(jax.random.key(4))
    assert not jnp.array_equal(a.x, c.x)
    test = task.sample(jax.random.key(3), "test", 4)
    assert int(test.info["nodes"].min()) == 8 > int(a.info["nodes"].max())
    assert set(np.asarray(a.info["nodes"]).tolist()) == {3, 5}
    # padding: the same example in 5 slots and cut to its real nodes has the same trajectory there
    cfg = clrs.Config(algorithm=algorithm, train_sizes=(3, 5), test_size=8)
    u = clrs.uniform(jax.random.key(5), (5, 5, 2))
    v = clrs.uniform(jax.random.key(6), (8,))
    example = jax.jit(clrs.example, static_argnums=(0, 3, 6))  # one program each, not one per primitive
    padded = example(cfg, u, v, 5, jnp.int32(3), jnp.float32(0.7), False)
    small = example(cfg, u[:3, :3], jnp.concatenate([v[:3], v[5:6]]), 3, jnp.int32(3), jnp.float32(0.7), False)
    assert int(padded["length"]) == int(small["length"])
    np.testing.assert_array_equal(padded["y"][:3], small["y"])
    np.testing.assert_allclose(padded["x"][:3], small["x"])
    for k in small["hints"]:
        np.testing.assert_allclose(padded["hints"][k][:3, :3], small["hints"][k][:3])


def test_self_score_counts_self_pointers():
    task = clrs.Clrs(clrs.Config(algorithm="bfs", train_sizes=(4,), test_size=6))
    b = task.sample(jax.random.key(0), "valid", 32)
    y, nodes = np.asarray(b.y), np.asarray(b.info["nodes"])  # NumPy: a JAX index per element compiles each
    want = np.mean([y[i, j] == j for i in range(32) for j in range(nodes[i])])
    assert np.isclose(float(clrs.self_score(b)), want)


def _as_batch(ex, slots, nodes):
    mask = (jnp.arange(slots) < nodes).astype(jnp.float32)[None]
    info = {"edges": ex["edges"][None], "hints": {k: v[None] for k, v in ex["hints"].items()},
            "length": ex["length"][None], "nodes": jnp.asarray([nodes])}
    return clrs.Batch(x=ex["x"][None], y=ex["y"][None], mask=mask, info=info)


@pytest.mark.parametrize("algorithm", clrs.ALGORITHMS)
def test_the_loss_and_score_read_only_real_nodes_and_live_frames(algorithm):
    """An example in 3 slots and the same example in 5: predictions equal on its real nodes and on the frames
    1 .. length-1, garbage elsewhere (padded nodes, frames past its end), give the same loss and score."""
    cfg = clrs.Config(algorithm=algorithm, train_sizes=(3, 5), test_size=8)
    example = jax.jit(clrs.example, static_argnums=(0, 3, 6))
    nodes = jnp.int32(3)
    for seed in range(20):  # an example with at least one hint step to score
        u, v = clrs.uniform(jax.random.key(seed), (5, 5, 2)), clrs.uniform(jax.random.key(100 + seed), (8,))
        small = _as_batch(example(cfg, u[:3, :3], jnp.concatenate([v[:3], v[5:6]]), 3, nodes, jnp.float32(0.7),
                                  False), 3, 3)
        if int(small.info["length"][0]) >= 2:
            break
    padded = _as_batch(example(cfg, u, v, 5, nodes, jnp.float32(0.7), False), 5, 3)
    length = int(small.info["length"][0])
    assert length == int(padded.info["length"][0]) and 2 <= length <= 3
    rng = np.random.default_rng(0)

    def garbage_around(pred, shape):
        out = rng.normal(size=shape).astype(np.float32) * 5
        out[tuple(slice(0, d) for d in pred.shape)] = pred
        return jnp.asarray(out)

    out_small = jnp.asarray(rng.normal(size=(1, 3, 3)).astype(np.float32))
    kinds = algos.SPECS[algorithm]["hints"]
    hints_small = {k: jnp.asarray(rng.normal(size=(1, 2, 3, 3) if kind == "pointer" else (1, 2, 3)).astype(np.float32))
                   for k, kind in kinds.items()}
    out_padded = garbage_around(np.asarray(out_small), (1, 5, 5))
    hints_padded = {k: garbage_around(np.asarray(p), (1, 4, *(5,) * (p.ndim - 2))) for k, p in hints_small.items()}
    a = {"output": out_small, "hints": hints_small}
    b = {"output": out_padded, "hints": hints_padded}
    task = clrs.Clrs(cfg)
    np.testing.assert_allclose(task.loss(b, padded), task.loss(a, small), rtol=1e-5)
    assert float(clrs.score(out_padded, padded)) == float(clrs.score(out_small, small))
    # and the hint loss does read frames 1 .. length-1: changing one of them changes it
    k = next(iter(hints_small))
    at = (0, length - 2, 0) + ((1,) if hints_padded[k].ndim == 4 else ())  # one logit (a pointer row's softmax
    moved = {**hints_padded, k: hints_padded[k].at[at].add(3.0)}  # ignores a shift of the whole row)
    assert float(clrs.hint_loss(algorithm, moved, padded)) != float(clrs.hint_loss(algorithm, hints_padded, padded))
