"""`random`: seeded uniform random scores and ratings, the floor every model must beat."""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from benchmark.api import Model, stack_lists
from benchmark.api.config_schema import NoSettings


class RandomModel(Model):
    """Uniform scores in [0, 1) for rank and uniform integer ratings 1-5. Each instance's draw depends
    only on (seed, instance id), so answers do not change with batching or order."""

    name = "random"
    deterministic = True  # no training randomness; `random` is seeded per instance
    Settings = NoSettings

    def fit(self, data, regime: str) -> None:
        self.n_items = int(data.n_items)

    def _rng(self, instance_id: str, salt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, salt, zlib.crc32(str(instance_id).encode("utf-8"))])

    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        if task == "selection":
            width = stack_lists(requests["candidates"]).shape[1] if len(requests) else 0
        elif task in ("recommendation", "search"):
            width = self.n_items
        else:
            raise ValueError(f"random: rank does not answer task {task!r}")
        out = np.empty((len(requests), width), dtype=np.float32)
        for i, iid in enumerate(requests["id"]):
            out[i] = self._rng(iid, 0).random(width, dtype=np.float32)
        return out

    def predict_rating(self, requests: pd.DataFrame) -> list[float]:
        return [float(self._rng(iid, 1).integers(1, 6)) for iid in requests["id"]]
