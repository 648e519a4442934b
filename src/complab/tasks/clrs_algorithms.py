"""Three CLRS algorithms as pure, vectorised JAX functions that return their whole hint
trajectory (Veličković et al. 2022, the CLRS benchmark; google-deepmind/clrs
`_src/algorithms/{searching,graphs,sorting}.py` and `_src/specs.py`), for one graph of
`n` slots whose first `nodes` are real (the rest are padding: no edges, no effect).

A trajectory has `frames` hint frames (a static number); the first `length` are the
algorithm's own, the rest repeat the last one. Frame 0 is the state before the first
iteration, as CLRS pushes it; a model runs `length - 1` steps (at least one), each
predicting the next frame.

Hint semantics (CLRS's, read from its code, written here in vectorised form):
- BFS (`bfs`): input source `s`, adjacency `A`. State: reach (mask), pi (pointer, initially
  every node to itself). One iteration: every node j not reached before, with a reached
  neighbour, becomes reached, and pi[j] = the *lowest-index* reached neighbour (CLRS loops
  over i in increasing order and sets pi[j] only once; the source keeps pi[s] = s).
  A frame is pushed before each iteration; the loop ends after the first iteration that
  reaches nothing new, so the last frame equals the output. Hints reach_h, pi_h; output
  pi (unreached nodes and the source point to themselves).
- Bellman-Ford (`bellman_ford`): weighted symmetric `A` (weights > 0). State: d (scalar,
  0 where not reached), msk (reached), pi. One iteration, from the previous d and msk:
  for every edge u -> v with u reached, v takes d[u] + A[u, v] if v is not reached yet
  or it is strictly smaller than v's current distance; among equal candidates the
  lowest-index u wins (CLRS's loop order with its strict `<`). Pushed frames: (pi_h, d,
  msk) before each iteration; the loop ends after an iteration that changes no distance.
  Output pi.
- Insertion sort (`insertion_sort`): keys. Frame j (j = 0 .. nodes - 1) is the array
  after inserting element j into the sorted prefix 0..j: pred_h[v] = v's predecessor in
  the current list order (sorted prefix, then elements j+1, j+2, ... in input order; the
  list's first element points to itself), `i` = the element that j was inserted before
  (j itself when it is the prefix's largest; CLRS's `stor_pos`), `j` = element j (both
  one-hot node masks; frame 0: i = j = node 0). Output pred: each element's predecessor
  in sorted order, the smallest to itself. Ties in keys (probability zero) sort by index.

Every function returns (hints: dict of [frames, n] arrays (pointers as int32), output
[n] int32, length int32).
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

BIG = 1e9


def _first(cand: Array) -> tuple[Array, Array]:
    """For a [n_from, n_to] boolean array: whether each column has a True, and the lowest
    row index that does."""
    return cand.any(0), jnp.argmax(cand, axis=0)


def _unroll(update, state0, frames: int):
    """The states s_0 .. s_{frames-1} of iterating `update` (identity at its fixed point), and
    how many CLRS pushes there are: 1 + the number of iterations that changed `changed`."""

    def body(s, _):
        new = update(s)
        return new, (new, jnp.any(new[0] != s[0]))

    _, (states, changed) = jax.lax.scan(body, state0, None, length=frames - 1)
    traj = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), state0, states)
    return traj, (1 + changed.sum()).astype(jnp.int32)


def bfs(adjacency: Float[Array, "n n"], source: Int[Array, ""], frames: int):
    n = adjacency.shape[0]
    idx = jnp.arange(n)

    def update(s):
        reach, pi = s
        has, first = _first((adjacency > 0) & (reach[:, None] > 0))
        set_pi = has & (reach == 0)
        return jnp.maximum(reach, has.astype(reach.dtype)), jnp.where(set_pi, first, pi)

    reach0 = (idx == source).astype(jnp.float32)
    (reach, pi), length = _unroll(update, (reach0, idx), frames)
    return {"reach_h": reach, "pi_h": pi}, pi[-1], length


def bellman_ford(weights: Float[Array, "n n"], source: Int[Array, ""], frames: int):
    n = weights.shape[0]
    idx = jnp.arange(n)

    def update(s):
        d, msk, pi = s
        edge = (weights != 0) & (msk[:, None] > 0)
        cand = jnp.where(edge, d[:, None] + weights, BIG)  # [u, v]
        best, arg = cand.min(0), jnp.argmin(cand, axis=0)  # argmin: the lowest u among ties
        better = edge.any(0) & ((msk == 0) | (best < d))
        return jnp.where(better, best, d), jnp.maximum(msk, edge.any(0).astype(msk.dtype)), jnp.where(better, arg, pi)

    msk0 = (idx == source).astype(jnp.float32)
    (d, msk, pi), length = _unroll(update, (jnp.zeros(n), msk0, idx), frames)
    return {"pi_h": pi, "d": d, "msk": msk}, pi[-1], length


def insertion_sort(keys: Float[Array, " n"], nodes: Int[Array, ""], frames: int):
    n = keys.shape[0]
    idx = jnp.arange(n)
    # less[a, b]: a sorts before b (keys, then index: insertion sort is stable)
    less = (keys[:, None] < keys[None, :]) | ((keys[:, None] == keys[None, :]) & (idx[:, None] < idx[None, :]))

    def frame(j):
        prefix = idx <= j
        # predecessor of a prefix node: the largest prefix node sorting before it
        below = less & prefix[:, None]  # [b, a]: b in the prefix and b before a
        rank = jnp.where(prefix[:, None], less, False).sum(0)  # how many prefix nodes sort before each node
        has = below.any(0)
        pred_in = jnp.argmax(jnp.where(below, rank[:, None], -1), axis=0)
        largest = jnp.argmax(jnp.where(prefix, rank, -1))
        pred = jnp.where(prefix, jnp.where(has, pred_in, idx), jnp.where(idx == j + 1, largest, idx - 1))
        above = less[j] & prefix  # prefix nodes that j sorts before
        succ = jnp.where(above.any(), jnp.argmin(jnp.where(above, rank, n + 1)), j)
        return pred, (idx == succ).astype(jnp.float32), (idx == j).astype(jnp.float32)

    js = jnp.minimum(jnp.arange(frames), nodes - 1)  # frames past the last repeat it
    pred, i, jm = jax.vmap(frame)(js)
    return {"pred_h": pred, "i": i, "j": jm}, pred[-1], nodes.astype(jnp.int32)


# name -> (location, type) of every input, hint and output, as CLRS's specs.py
SPECS = {
    "bfs": {"inputs": {"pos": "node_scalar", "s": "node_mask_one", "A": "edge_scalar", "adj": "edge_mask"},
            "hints": {"reach_h": "mask", "pi_h": "pointer"}, "output": "pi"},
    "bellman_ford": {"inputs": {"pos": "node_scalar", "s": "node_mask_one", "A": "edge_scalar", "adj": "edge_mask"},
                     "hints": {"pi_h": "pointer", "d": "scalar", "msk": "mask"}, "output": "pi"},
    "insertion_sort": {"inputs": {"pos": "node_scalar", "key": "node_scalar"},
                       "hints": {"pred_h": "pointer", "i": "mask_one", "j": "mask_one"}, "output": "pred"},
}
