"""`complab bench mixers`: figures for each mixer form land in the results database;
bad input is refused in one sentence."""

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

    from complab import bench
    real = bench._measure

    def measure(fn, args, repeats):
        if args[1].shape[1] == 8:
            raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 114.05GiB")
        return real(fn, args, repeats)

    monkeypatch.setattr(bench, "_measure", measure)
    assert cli.main(["bench", "mixers", "--lengths", "4,8", "--widths", "8", "--batch", "2", "--repeats", "1",
                     "--only", "lstm", "--results", str(tmp_path)]) == 0
    rows = {r["length"]: r for r in Store(tmp_path).bench("mixers")}
    assert rows[4]["error"] == "" and rows[4]["step_ms"] > 0 and rows[8]["error"] == "out of memory"
