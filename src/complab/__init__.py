"""complab: a laboratory for the science of how neural networks learn, compose and generalize.

The Python API mirrors the CLI (`complab run | results | report`)::

    import complab
    complab.run("gated_rnn_discovers_attention", tier="smoke", seeds=[0])
    rows = complab.results("gated_rnn_discovers_attention")
    complab.report()
"""

__version__ = "0.1.0"

from complab.api import list_experiments, report, results, run  # noqa: E402

__all__ = ["run", "results", "report", "list_experiments", "__version__"]
