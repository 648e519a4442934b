"""The fast weight programmers and LSTMs by name, as experiments that compare them list
them: `config("srwm", heads=4, width=64)`."""

from complab.errors import ComplabError
from complab.models.mixers import delta_net, elstm, linear_transformer, lstm, recurrent_delta, srwm

NAMES = ("linear_transformer", "delta_net", "recurrent_delta", "srwm", "lstm", "elstm")
RECURRENT_CELLS = ("lstm", "elstm")  # plain stacked layers, no feedforward block


def config(name: str, heads: int, width: int):
    """The mixer config called `name`: fast weight models with `heads` heads, LSTMs with `width` units."""
    if name not in NAMES:
        raise ComplabError(f"unknown mixer {name!r}; known: {', '.join(NAMES)}")
    return {"linear_transformer": lambda: linear_transformer.Config(heads=heads),
            "delta_net": lambda: delta_net.Config(heads=heads),
            "recurrent_delta": lambda: recurrent_delta.Config(heads=heads), "srwm": lambda: srwm.Config(heads=heads),
            "lstm": lambda: lstm.Config(hidden=width), "elstm": lambda: elstm.Config(hidden=width)}[name]()
