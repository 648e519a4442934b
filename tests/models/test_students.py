"""Meta-learning students: shapes, and the linear hypernetwork has the teacher's form."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.models import students
from complab.tasks import hyperteacher


@pytest.mark.parametrize("kind", ["mlp", "linear_hnet", "mlp_hnet"])
def test_students_map_a_set_of_inputs(kind):
    model = students.Config(kind=kind, hidden=8, layers=2, modules=3).build(5, 2, key=jax.random.key(0))
    out = model(jnp.ones((7, 5)))
    assert out.shape == (7, 2) and np.isfinite(out).all()


def test_the_linear_hypernetwork_with_the_teachers_templates_is_the_teacher():
    cfg = hyperteacher.Config(modules=4, input_dim=6, hidden=5, output_dim=2, generated_layers=2, support="random")
    teacher = hyperteacher.Hyperteacher(cfg).teacher
    student = students.Config(hidden=5, layers=2, modules=4).build(6, 2, key=jax.random.key(0))
    e = jnp.asarray(hyperteacher.layer_combinations(4, 2)[[1, 5]], jnp.float32)  # one module, then a pair
    student = eqx.tree_at(lambda s: (s.templates, s.embedding, s.readout), student,
                          ([t / teacher.scale for t in teacher.thetas], e, teacher.readout))  # readout_bias stays 0
    x = jax.random.normal(jax.random.key(1), (9, 6))
    np.testing.assert_allclose(student(x), teacher(e, x), rtol=1e-5, atol=1e-6)


def test_a_bad_student_is_refused_in_one_sentence():
    with pytest.raises(ConfigError, match="mlp, linear_hnet or mlp_hnet"):
        students.Config(kind="rnn")


@pytest.mark.parametrize("kind", ["mlp", "linear_hnet", "mlp_hnet"])
def test_students_are_pytrees_of_arrays_that_jit_and_differentiate(kind):
    """The training loop jits whole states: a student may hold no callables among its leaves."""
    model = students.Config(kind=kind, hidden=8, modules=3).build(5, 2, key=jax.random.key(0))
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(model))
    g = jax.jit(jax.grad(lambda m: jnp.sum(m(jnp.ones((4, 5))) ** 2)))(model)
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(g))
