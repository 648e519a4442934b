"""`complab bench`: figures land in the results database as they come (a figure per
mixer form and length; per fit of every cell of an experiment; per way of running
seeds), `--compare` sets each beside the last stored; bad input is one sentence."""

from complab import cli
from complab.store import Store


def test_bench_stores_a_figure_per_mixer_form_and_length(tmp_path):
    assert cli.main(["bench", "mixers", "--lengths", "4,8", "--widths", "8", "--batch", "2", "--repeats", "1",
                     "--only", "lstm,linear_transformer", "--results", str(tmp_path)]) == 0
    rows = Store(tmp_path).bench("mixers")
    got = {(r["name"], r["form"], r["length"]) for r in rows}
    assert got == {("lstm", "recurrent", 4), ("lstm", "recurrent", 8), ("linear_transformer", "parallel", 4),
                   ("linear_transformer", "parallel", 8), ("linear_transformer", "recurrent", 4),
                   ("linear_transformer", "recurrent", 8)}
    assert all(r["step_ms"] > 0 and r["compile_s"] > 0 and r["device"] for r in rows)


def test_bench_refuses_unknown_mixers(tmp_path, capsys):
    assert cli.main(["bench", "mixers", "--only", "transformerxl", "--results", str(tmp_path)]) == 2
    assert "unknown mixers ['transformerxl']; known: softmax_attention" in capsys.readouterr().err


def test_a_point_out_of_memory_is_recorded_and_the_others_go_on(tmp_path, monkeypatch):
    import jax

    from complab.bench import mixer_forms
    real = mixer_forms.compiled

    def measure(fn, args, **kwargs):
        if args[1].shape[1] == 8:
            raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 114.05GiB")
        return real(fn, args, **kwargs)

    monkeypatch.setattr(mixer_forms, "compiled", measure)
    assert cli.main(["bench", "mixers", "--lengths", "4,8", "--widths", "8", "--batch", "2", "--repeats", "1",
                     "--only", "lstm", "--results", str(tmp_path)]) == 0
    rows = {r["length"]: r for r in Store(tmp_path).bench("mixers")}
    assert rows[4]["error"] == "" and rows[4]["step_ms"] > 0 and rows[8]["error"] == "out of memory"


def test_bench_experiments_measures_every_fit_of_every_cell(tmp_path, capsys):
    """On sigma_moe: three fits whose smoke-tier programs compile in seconds, twice (the bench does not use
    the compilation cache)."""
    from complab import experiments, runner

    assert cli.main(["bench", "experiments", "--experiments", "sigma_moe", "--tier", "smoke",
                     "--results", str(tmp_path)]) == 0
    rows = Store(tmp_path).bench("experiments")
    exp = experiments.load("sigma_moe")
    cells = exp.cell_list(runner.resolve_config(exp, "smoke", {}))
    assert len({r["cell"] for r in rows}) == len(cells) and all(r["experiment"] == "sigma_moe" for r in rows)
    for r in rows:
        assert r["step_ms"] > 0 and r["loop_step_ms"] > 0 and r["compile_s"] > 0 and r["flops"] > 0
        assert 0 < r["peak_fraction"] < 1.5 and r["steps_per_s"] == 1000 / r["step_ms"]
    (peak,) = Store(tmp_path).bench("peak")
    assert peak["gflops"] > 0
    capsys.readouterr()
    assert cli.main(["bench", "experiments", "--experiments", "sigma_moe", "--tier", "smoke", "--compare",
                     "--results", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("% vs ") == len(rows) + 1  # every figure and the peak
    assert cli.main(["report", "--results", str(tmp_path)]) == 0  # the report shows the last of each figure
    report = (tmp_path / "report.md").read_text()
    assert "## Bench: experiments" in report and "## Bench: peak" in report
    assert report.count("| sigma_moe |") == len(rows)


def test_bench_seeds_runs_three_ways(tmp_path):
    assert cli.main(["bench", "seeds", "--experiments", "guided_es", "--tier", "smoke", "--num-seeds", "2",
                     "--steps", "3", "--results", str(tmp_path)]) == 0
    rows = Store(tmp_path).bench("seeds")
    assert [r["way"] for r in rows] == ["loop", "vmap", "processes"] and all(r["seeds_per_s"] > 0 for r in rows)


def test_bench_refuses_unknown_suites_and_experiments(tmp_path, capsys):
    assert cli.main(["bench", "everything", "--results", str(tmp_path)]) == 2
    assert "unknown bench suites ['everything']; suites are: experiments, reference, seeds, mixers, meta" in \
        capsys.readouterr().err
    assert cli.main(["bench", "experiments", "--experiments", "nope", "--results", str(tmp_path)]) == 2
    assert "unknown experiment 'nope'" in capsys.readouterr().err


def test_bench_meta_memory_grows_with_inner_steps_only_where_gradients_go_through_them():
    from complab.bench.meta import meta_memory

    figures = []
    meta_memory(figures.append, steps=(4, 32), learners=("maml", "maml (first order)", "contrastive", "comln"))
    mib = {(f.learner, f.inner_steps): f.temp_mib for f in figures}
    assert mib[("maml", 32)] > 3 * mib[("maml", 4)]  # second order stores every inner step
    for flat in ("maml (first order)", "contrastive", "comln"):
        assert mib[(flat, 32)] <= 1.1 * mib[(flat, 4)], (flat, mib)
    assert all(f.step_ms > 0 for f in figures)
