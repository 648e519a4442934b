import jax
import numpy as np

from complab.models import sequence
from complab.models.mixers import gated_rnn, linear_attention


def test_trace_prefixes_block_names_and_ends_in_the_output():
    cfg = sequence.Config(mixer=linear_attention.Config(heads=2), layers=2, d_model=8, norm=True)
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
