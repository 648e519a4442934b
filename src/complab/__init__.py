"""complab: a laboratory for the science of how neural networks learn, compose and generalize.

The Python API mirrors the CLI (`complab run | results | report`)::

    import complab
    complab.run("gated_rnn_discovers_attention", tier="smoke", seeds=[0])
    rows = complab.results("gated_rnn_discovers_attention")
    complab.report()
"""

__version__ = "0.1.0"

__all__ = ["run", "sweep", "results", "report", "list_experiments", "__version__"]


def __getattr__(name: str):
    """The API on first use: `import complab` alone does not import JAX (the CLI starts
    fast and handles Ctrl-C during start-up)."""
    if name in __all__:
        from complab import api

        return getattr(api, name)
    raise AttributeError(f"module 'complab' has no attribute {name!r}")
