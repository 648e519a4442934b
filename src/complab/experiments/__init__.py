"""One module per published claim; the module name is the experiment id.

Nothing is registered: `ids()` lists this package's modules, `load(id)` imports one
and returns its `EXPERIMENT`.
"""

import importlib
import pkgutil

from complab.errors import ComplabError

_NOT_EXPERIMENTS = {"base"}  # and every `_`-prefixed helper module


def ids() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if m.name not in _NOT_EXPERIMENTS and not m.name.startswith("_"))


def load(experiment_id: str):
    known = ids()
    if experiment_id not in known:
        raise ComplabError(f"unknown experiment {experiment_id!r}; known experiments are: {', '.join(known)}")
    return importlib.import_module(f"{__name__}.{experiment_id}").EXPERIMENT
