"""Neighbourhood attention: permutation-equivariant, blind beyond its layers' reach, and
unable to tell apart the nodes of a vertex-transitive graph that all get the same input."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.models import graph_attention
from complab.tasks import symmetric_graphs as graphs

MODEL = graph_attention.GraphAttention(graph_attention.Config(width=16, heads=2, layers=2), 3, 4,
                                       key=jax.random.key(0))


def test_permuting_the_nodes_permutes_the_outputs():
    a, valid = jnp.asarray(graphs.adjacency("Petersen", 10)), jnp.ones(10, bool)
    x = jax.random.normal(jax.random.key(1), (10, 3))
    p = jax.random.permutation(jax.random.key(2), 10)
    assert np.allclose(MODEL(x[p], a[p][:, p], valid), MODEL(x, a, valid)[p], atol=1e-5)


def test_identical_inputs_on_a_vertex_transitive_graph_give_identical_outputs():
    out = MODEL(jnp.ones((8, 3)), jnp.asarray(graphs.adjacency("Q3", 8)), jnp.ones(8, bool))
    assert np.allclose(out, out[0], atol=1e-5)


def test_a_node_beyond_the_layers_reach_and_padding_change_nothing():
    a = jnp.asarray(graphs.adjacency("C8", 10))  # two padding nodes
    valid = jnp.arange(10) < 8
    x = jax.random.normal(jax.random.key(3), (10, 3))
    far = x.at[4].add(5.0)  # node 4 is 4 hops from node 0; two layers see 2
    assert np.allclose(MODEL(far, a, valid)[0], MODEL(x, a, valid)[0], atol=1e-6)
    assert not np.allclose(MODEL(x.at[1].add(5.0), a, valid)[0], MODEL(x, a, valid)[0])
    padded = x.at[8:].set(100.0)
    assert np.allclose(MODEL(padded, a, valid)[:8], MODEL(x, a, valid)[:8], atol=1e-6)
