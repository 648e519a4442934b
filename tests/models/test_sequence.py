import equinox as eqx
import jax
import numpy as np
import pytest

from complab.models import sequence
from complab.models.mixers import gated_rnn, linear_attention


def test_trace_prefixes_block_names_and_ends_in_the_output():
    cfg = sequence.Config(mixer=linear_attention.Config(heads=2), layers=2, d_model=8, norm="pre")
    model = sequence.SequenceModel(cfg, 5, 3, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (7, 5))
    tr = model.trace(x)
    assert tr["block0.mixer.pattern"].shape == (2, 7, 7) and tr["block1.mixer.out"].shape == (7, 8)
    np.testing.assert_array_equal(tr["out"], model(x))
    assert model(x).shape == (7, 3)


def test_the_mixer_is_chosen_by_its_config_class():
    model = sequence.SequenceModel(sequence.Config(mixer=gated_rnn.Config(neurons=4)), 3, 1, key=jax.random.key(0))
    assert isinstance(model.mixers[0], gated_rnn.GatedLinearRNN) and model.embed is None
    assert "block0.mixer.hidden" in model.trace(jax.numpy.ones((2, 3)))


def _encoder(**kw):
    from complab.models import feedforward
    from complab.models.mixers import softmax_attention
    cfg = sequence.Config(mixer=softmax_attention.Config(heads=2, causal=False, encoding=kw.pop("encoding", "none")),
                          ff=feedforward.MLPConfig(), layers=2, d_model=8, **kw)
    return sequence.SequenceModel(cfg, 5, 3, key=jax.random.key(0))


def test_padding_marked_invalid_changes_nothing_for_a_non_causal_transformer():
    import jax.numpy as jnp
    x = jax.random.normal(jax.random.key(1), (10, 5))
    for kw in (dict(norm="post", positions="sincos"), dict(norm="pre", positions="learned", max_position=16),
               dict(norm="post", encoding="rope")):
        model = _encoder(**kw)
        np.testing.assert_allclose(model(x, valid=jnp.arange(10) < 6)[:6], model(x[:6]), atol=1e-5)
        assert not np.allclose(model(x)[:6], model(x[:6]), atol=1e-3)


def test_a_shared_model_applies_one_block_at_every_layer():
    import equinox as eqx
    shared = _encoder(norm="post", shared=True, encoding="xl")
    assert len(shared.mixers) == len(shared.ffs) == len(shared.norms) == 1
    unshared = _encoder(norm="post", encoding="xl")  # the same model with its one block copied into both layers
    copied = eqx.tree_at(lambda m: (m.mixers, m.ffs, m.norms, m.ff_norms, m.embed, m.readout), unshared,
                         (shared.mixers * 2, shared.ffs * 2, shared.norms * 2, shared.ff_norms * 2, shared.embed,
                          shared.readout))
    x = jax.random.normal(jax.random.key(1), (6, 5))
    np.testing.assert_allclose(shared(x), copied(x), atol=1e-6)
    assert not np.allclose(shared(x), unshared(x), atol=1e-3)


def test_randomized_positions_are_a_sorted_sample_of_the_range_for_the_real_tokens():
    import jax.numpy as jnp
    model = _encoder(positions="sincos", random_positions=True, max_position=64)
    x = jax.random.normal(jax.random.key(1), (10, 5))
    p = np.asarray(model.trace(x, key=jax.random.key(2), valid=jnp.arange(10) < 7)["positions"])
    assert (np.diff(p[:7]) > 0).all() and p.min() >= 0 and (p[7:] == 63).all()
    draws = np.stack([model.trace(x, key=jax.random.key(k))["positions"] for k in range(200)])
    assert draws.max() > 50 and draws[:, 0].min() == 0  # the whole range is used, anew per key
    assert len({tuple(d) for d in draws}) == 200


def test_randomized_positions_need_a_key_and_a_range_that_holds_the_sequence():
    import pytest
    from complab.errors import ComplabError
    x = jax.numpy.ones((10, 5))
    with pytest.raises(ComplabError, match="needs a key"):
        _encoder(random_positions=True, max_position=64)(x)
    with pytest.raises(ComplabError, match="max_position"):
        _encoder(random_positions=True, max_position=8)(x, key=jax.random.key(0))
    with pytest.raises(ComplabError, match="learned position table"):
        _encoder(positions="learned", max_position=8)(x)


def test_sincos_is_the_vaswani_encoding():
    from complab.models import positions
    pe = np.asarray(positions.sincos(jax.numpy.arange(5), 6))
    np.testing.assert_allclose(pe[3, 0], np.sin(3.0), rtol=1e-6)
    np.testing.assert_allclose(pe[3, 1], np.cos(3.0), rtol=1e-6)
    np.testing.assert_allclose(pe[3, 4], np.sin(3.0 / 10000 ** (4 / 6)), rtol=1e-5)


def test_dropout_acts_only_in_training_and_follows_the_key():
    model = _encoder(dropout=0.5)
    x = jax.random.normal(jax.random.key(1), (6, 5))
    np.testing.assert_array_equal(model(x, key=jax.random.key(0)), model(x))
    a, b = (model(x, key=jax.random.key(k), train=True) for k in (0, 1))
    assert not np.allclose(a, b) and not np.allclose(a, model(x))
    np.testing.assert_array_equal(a, model(x, key=jax.random.key(0), train=True))
    assert "block1.ff.out" in model.trace(x)


def test_the_recurrent_form_computes_the_same_model():
    from complab.models.mixers import delta_net
    cfg = sequence.Config(mixer=delta_net.Config(heads=2), layers=2, d_model=8, norm="pre")
    par = sequence.SequenceModel(cfg, 5, 3, key=jax.random.key(0))
    import dataclasses
    rec = sequence.SequenceModel(dataclasses.replace(cfg, form="recurrent"), 5, 3, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (21, 5))
    np.testing.assert_allclose(par(x), rec(x), atol=1e-5)


def _last_cases():
    from complab.models import feedforward
    from complab.models.mixers import softmax_attention

    mixers = {"gated_rnn": gated_rnn.Config(neurons=12), "linear_attention": linear_attention.Config(heads=2),
              "softmax_rope": softmax_attention.Config(heads=2, encoding="rope")}
    for name, mixer in mixers.items():
        for layers, norm, ff, form in [(1, "none", None, "parallel"), (2, "pre", feedforward.MLPConfig(), "parallel"),
                                       (2, "post", feedforward.MLPConfig(), "parallel"),
                                       (2, "none", None, "recurrent")]:
            if form == "recurrent" and name == "softmax_rope":
                continue
            yield name, sequence.Config(mixer=mixer, layers=layers, d_model=8 if layers > 1 else 0, norm=norm, ff=ff,
                                        form=form)


@pytest.mark.parametrize("name, cfg", list(_last_cases()), ids=lambda v: v if isinstance(v, str) else
                         f"{v.layers}-{v.norm}-{v.form}")
def test_the_last_position_alone_is_the_last_row_of_the_whole_output(name, cfg):
    x = jax.random.normal(jax.random.key(1), (4, 9, 5))
    model = sequence.SequenceModel(cfg, 5, 3, key=jax.random.key(0))

    @eqx.filter_jit  # one program each instead of eager scans: the same values, seconds less
    def outputs(m):
        full, last = jax.vmap(m)(x)[:, -1], jax.vmap(m.last)(x)
        g_full = jax.grad(lambda m: (jax.vmap(m)(x)[:, -1] ** 2).sum())(m)
        g_last = jax.grad(lambda m: (jax.vmap(m.last)(x) ** 2).sum())(m)
        return full, last, g_full, g_last

    full, last, g_full, g_last = outputs(model)
    np.testing.assert_allclose(last, full, rtol=2e-5, atol=2e-6, err_msg=f"{name} {cfg}")
    for a, b in zip(jax.tree.leaves(g_last), jax.tree.leaves(g_full)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"gradient, {name} {cfg}")


def test_a_loss_at_the_last_position_equals_the_tasks_loss():
    from complab.learners import supervised
    from complab.tasks import linear_regression

    task = linear_regression.LinearRegression(linear_regression.Config(dim=4, context=6))
    batch = task.sample(jax.random.key(2), "train", 16)
    model = sequence.SequenceModel(sequence.Config(mixer=gated_rnn.Config(neurons=10)), *task.dims,
                                   key=jax.random.key(3))
    full = supervised.per_example(task.loss)(model, batch, None)
    last = supervised.at_last(task.loss)(model, batch, None)
    np.testing.assert_allclose(last, full, rtol=1e-6)
