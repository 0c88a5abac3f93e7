"""Models by name, imported lazily: listing them imports nothing heavy (no torch, no recbole)."""
from __future__ import annotations

import importlib

# name -> ("module:Class", one-line description shown by `unimp-bench models`)
MODELS: dict[str, tuple[str, str]] = {}


def register(name: str, target: str, description: str) -> None:
    MODELS[name] = (target, description)


def load(name: str):
    """The model class registered under `name`."""
    import benchmark.api.models_index  # noqa: F401  (fills MODELS; imports no model)

    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))} (see `unimp-bench models`)")
    module, cls = MODELS[name][0].split(":")
    return getattr(importlib.import_module(module), cls)
