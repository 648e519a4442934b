"""The randomized-positions checks fail when randomizing does not help, when it costs
in-distribution accuracy, and when an unsolvable task is solved or nothing was
learned; the model each encoding builds."""

import jax
import pytest

from complab.experiments.base import Results
from complab.experiments.randomized_positional_encodings import EXPERIMENT, model_config, validate
from complab.models import sequence

CFG = EXPERIMENT.tiers["cpu"]


def _results(test=None, iid=None):
    test = {("bucket_sort", "sincos"): 0.30, ("bucket_sort", "random_sincos"): 0.95,
            ("reverse_string", "sincos"): 0.52, ("reverse_string", "random_sincos"): 0.70,
            ("parity_check", "sincos"): 0.51, ("parity_check", "random_sincos"): 0.52,
            ("modular_arithmetic", "sincos"): 0.22, ("modular_arithmetic", "random_sincos"): 0.21, **(test or {})}
    iid = {("bucket_sort", "sincos"): 1.0, ("bucket_sort", "random_sincos"): 0.99, **(iid or {})}
    default_iid = 0.95
    rows = []
    for seed in (0, 1, 2):
        for (task, enc), v in test.items():
            rows.append({"seed": seed, "task": task, "encoding": enc, "metric": "test_accuracy", "value": v})
            rows.append({"seed": seed, "task": task, "encoding": enc, "metric": "iid_accuracy",
                         "value": iid.get((task, enc), default_iid)})
    return Results(rows)


def test_all_checks_pass_on_results_that_show_the_claim():
    checks = EXPERIMENT.expect(_results(), CFG)
    assert len(checks) == 3 and all(c.passed for c in checks), [c.measured for c in checks]


@pytest.mark.parametrize("test,iid,failing", [
    ({("reverse_string", "random_sincos"): 0.50}, {}, {0}),  # one helped task does not improve
    ({("bucket_sort", "random_sincos"): 0.40, ("reverse_string", "random_sincos"): 0.55}, {}, {0}),  # gain < 12
    ({}, {("bucket_sort", "random_sincos"): 0.93}, {1}),  # randomizing costs in-distribution accuracy
    ({("reverse_string", "random_sincos"): 0.525}, {}, {0}),  # a gain within the noise is no gain
    ({}, {("reverse_string", "sincos"): 0.61, ("reverse_string", "random_sincos"): 0.62}, {0, 1}),  # not learned
    ({("parity_check", "random_sincos"): 0.75}, {}, {2}),  # parity solved: not the paper's finding
    ({}, {("bucket_sort", "sincos"): 0.5, ("bucket_sort", "random_sincos"): 0.5,
          ("reverse_string", "sincos"): 0.5, ("reverse_string", "random_sincos"): 0.5}, {0, 1, 2}),  # nothing learned
])
def test_each_check_fails_when_its_numbers_leave_the_claim(test, iid, failing):
    checks = EXPERIMENT.expect(_results(test, iid), CFG)
    assert {i for i, c in enumerate(checks) if not c.passed} == failing, [c.measured for c in checks]


def test_each_encoding_builds_its_model_and_randomized_ones_draw_positions():
    for enc, (positions, inside, random) in {"sincos": ("sincos", "none", False), "random_rope": ("none", "rope", True),
                                             "learned": ("learned", "none", False),
                                             "random_alibi": ("none", "alibi", True)}.items():
        mc = model_config(CFG, enc)
        assert (mc.positions, mc.mixer.encoding, mc.random_positions) == (positions, inside, random)
        assert mc.norm == "post" and not mc.mixer.causal and mc.embed_scale
    model = sequence.SequenceModel(model_config(CFG, "random_sincos"), 3, 2, key=jax.random.key(0))
    x = jax.numpy.ones((12, 3))
    p0, p1 = (model.trace(x, key=jax.random.key(k))["positions"] for k in (0, 1))
    assert (p0 != p1).any() and int(p0.max()) < CFG.max_position


def test_a_range_too_short_for_the_longest_example_is_refused():
    import dataclasses

    from complab.errors import ConfigError
    with pytest.raises(ConfigError, match="max_position=100 is shorter than the longest example"):
        validate(dataclasses.replace(CFG, max_position=100))


def test_evaluating_many_lengths_compiles_one_program_per_bucket():
    import dataclasses

    import equinox as eqx

    from complab.experiments import randomized_positional_encodings as rpe
    from complab.tasks import chomsky
    smoke = EXPERIMENT.tiers["smoke"]
    task = chomsky.Chomsky(chomsky.Config(task="parity_check", train_lengths=(1, 4), test_lengths=(5, 28),
                                          test_buckets=3, train_size=8, test_per_length=2))
    cfg = dataclasses.replace(smoke, task=task.cfg)
    model = sequence.SequenceModel(model_config(cfg, "random_sincos"), *task.dims, key=jax.random.key(0))
    rpe.TRACES.clear()
    accuracies = eqx.filter_jit(rpe._example_accuracies)
    for split in task.splits[1:]:  # iid and three buckets of 8 lengths each
        for _ in range(2):
            accuracies(model, task.batch(split), jax.random.key(0), 4)
    assert rpe.TRACES["evaluation"] == 4  # 25 lengths, 4 programs, none recompiled
