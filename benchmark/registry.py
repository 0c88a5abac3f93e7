"""Models by name, imported lazily: listing them imports nothing heavy (no torch, no recbole)."""
from __future__ import annotations

import importlib

# name -> ("module:Class", one-line description shown by `unimp-bench models`)
MODELS: dict[str, tuple[str, str]] = {}
# name -> "module:Class" of the model's settings dataclass (a light module; see benchmark.config_schema)
SETTINGS: dict[str, str] = {}


def register(name: str, target: str, description: str, settings: str | None = None) -> None:
    MODELS[name] = (target, description)
    if settings is not None:
        SETTINGS[name] = settings


def _known(name: str) -> None:
    import benchmark.models_index  # noqa: F401  (fills MODELS; imports no model)

    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))} (see `unimp-bench models`)")


def _import(target: str):
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def load(name: str):
    """The model class registered under `name`."""
    _known(name)
    return _import(MODELS[name][0])


def settings(name: str):
    """The settings dataclass of the model `name`, without importing the model."""
    _known(name)
    if name not in SETTINGS:
        raise KeyError(f"model {name!r} declares no settings (register it with settings='module:Class')")
    return _import(SETTINGS[name])
