"""The symmetric graph family: the right graphs (vertex-transitive, 3-colourable), permuted
nodes, and a conflict loss / properness test that agree on hard colourings."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks import symmetric_graphs as graphs


@pytest.mark.parametrize("name, nodes, edges, degree", [
    ("C5", 5, 5, 2), ("C6", 6, 6, 2), ("C8", 8, 8, 2), ("K33", 6, 9, 3), ("Q3", 8, 12, 3), ("Petersen", 10, 15, 3),
])
def test_each_graph_is_regular_with_its_chromatic_number(name, nodes, edges, degree):
    a = graphs.adjacency(name, nodes)
    assert np.array_equal(a, a.T) and a.sum() == 2 * edges and np.all(a.sum(1) == degree) and np.all(np.diag(a) == 0)
    k = graphs.CHROMATIC[name]
    colourable = [bool(graphs.proper(np.array(list(itertools.product(range(j), repeat=nodes))), a).any())
                  for j in (k - 1, k)]
    assert colourable == [False, True]  # its chromatic number is k
    assert not graphs.proper(jnp.zeros(nodes, jnp.int32), jnp.asarray(a))


def test_samples_are_the_family_with_permuted_nodes_and_padding():
    family = graphs.SymmetricGraphs(graphs.Config())
    b = family.sample(jax.random.key(0), 12)
    assert b["adjacency"].shape == (12, 10, 10) and np.array_equal(b["graph"], np.arange(12) % 6)
    for i in range(12):
        a, v = np.asarray(b["adjacency"][i]), np.asarray(b["valid"][i])
        name = graphs.Config().graphs[int(b["graph"][i])]
        n = graphs.GRAPHS[name][0]
        assert v.sum() == n and a[~v].sum() == 0 and a.sum() == 2 * len(graphs.GRAPHS[name][1])
        assert sorted(a.sum(1)[v].tolist()) == sorted(graphs.adjacency(name, n).sum(1).tolist())
    assert not np.array_equal(b["adjacency"][0], family.sample(jax.random.key(1), 12)["adjacency"][0])


def test_the_conflict_of_a_hard_colouring_is_its_share_of_monochromatic_edges():
    a = jnp.asarray(graphs.adjacency("C6", 6))
    colours = jnp.array([0, 1, 0, 1, 2, 2])  # edge (4, 5) is monochromatic, 1 of 6 edges
    probs = jax.nn.one_hot(colours, 3)
    assert np.isclose(graphs.conflict(probs, a), 1 / 6) and not graphs.proper(colours, a)
    assert float(graphs.conflict(jnp.full((6, 3), 1 / 3), a)) == pytest.approx(1 / 3)


def test_impossible_settings_are_refused():
    with pytest.raises(ConfigError, match="need 3 colours"):
        graphs.Config(colours=2)
    assert graphs.Config(graphs=("C6", "K33"), colours=2).colours == 2
    with pytest.raises(ConfigError, match="among"):
        graphs.Config(graphs=("K4",))
