"""ES estimators: the past-direction estimate is the gradient's projection onto its
span (never worse than its surrogate, exact on the surrogate), plain antithetic ES is
unbiased, and on a linear function the past-direction estimate converges to the
gradient at the predicted rate."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab.learners import evolution, optim
from complab.training import fit

D = 200
A = jax.random.normal(jax.random.key(0), (D,))


def f(x):
    return A @ x


def _cos(g):
    return float(g @ A / (jnp.linalg.norm(g) * jnp.linalg.norm(A)))


def test_the_past_direction_estimate_is_never_worse_than_its_surrogate():
    s = A + 3 * jax.random.normal(jax.random.key(1), (D,))  # a rough surrogate
    for seed in range(5):
        g = evolution.PastDirection(5, 0.01).estimate(jax.random.key(seed), f, jnp.zeros(D), s)
        assert _cos(g) >= _cos(s) - 1e-5
    exact = evolution.PastDirection(5, 0.01).estimate(jax.random.key(0), f, jnp.zeros(D), A)
    assert _cos(exact) > 0.9999


def test_plain_antithetic_es_is_unbiased():
    est = jax.vmap(lambda k: evolution.Antithetic(5, 0.01).estimate(k, f, jnp.zeros(D), jnp.zeros(D)))(
        jax.random.split(jax.random.key(2), 4000))
    assert _cos(est.mean(0)) > 0.98


def test_past_directions_converge_on_a_linear_function_at_the_predicted_rate():
    p, steps = 5, 150
    learner = evolution.ES(evolution.PastDirection(p, 0.01), f, 0.0)  # lr 0: the estimate alone
    cos2 = []
    fit(learner, learner.init(None, jnp.zeros(D)), None, key=jax.random.key(3), steps=steps,
        evaluate=lambda k, s: {"c": learner.cosine(k, s)}, eval_at=(steps,),
        on_eval=lambda t, v: cos2.append(float(v["c"]) ** 2))
    predicted = 1 - (1 - (p - 1) / (D - 1)) ** steps  # 0.95
    assert abs(cos2[0] - predicted) < 0.03
    plain = evolution.ES(evolution.Antithetic(p, 0.01), f, 0.0)
    c = float(plain.cosine(jax.random.key(4), plain.init(None, jnp.zeros(D)))) ** 2
    assert c < 0.2  # no memory: stays near p / (p + d)
    assert np.isfinite(c)


def test_model_es_follows_the_gradient_of_a_batch_loss_with_common_random_numbers():
    model = {"w": jnp.array([1.0, -2.0, 0.5, 3.0, 0.0])}
    batch = jnp.array([0.3, 0.1, -0.2, 0.4, 1.0])

    def loss(m, b, key):  # the key shifts the loss: only common random numbers cancel it
        return jnp.sum((m["w"] - b) ** 2) + 100.0 * jax.random.normal(key)

    sgd = optim.Config(kind="sgd", lr=0.1)
    learner = evolution.ModelES(evolution.Antithetic(400, 1e-3), loss, sgd)
    state = learner.init(jax.random.key(0), model)
    new, metrics = eqx.filter_jit(learner.step)(jax.random.key(1), state, batch)
    true = 2 * (model["w"] - batch)
    g = new.surrogate
    assert g @ true / (jnp.linalg.norm(g) * jnp.linalg.norm(true)) > 0.95
    assert np.allclose(new.model["w"], model["w"] - 0.1 * g, atol=1e-5)
    k_loss = jax.random.split(jax.random.key(1))[1]
    assert np.isclose(metrics["loss"], loss(model, batch, k_loss), rtol=1e-6)
