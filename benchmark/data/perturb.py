"""The paper's robustness variants (Table 6), applied at test time to the catalogue a model reads.

NT: 20% of the items' attribute values dropped from their text; NV: 20% of the items' images replaced
by another item's image. Seeded; training data is never perturbed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.data.dataset import PreparedDataset
from benchmark.data.item_text import attribute_dict, flatten

PERTURBATIONS = ("NT", "NV")
RATE = 0.2


class PerturbedDataset(PreparedDataset):
    """A view of a prepared dataset whose items table (text, image paths) is perturbed."""

    def __init__(self, base: PreparedDataset, kind: str, seed: int = 0, rate: float = RATE):
        if kind not in PERTURBATIONS:
            raise ValueError(f"unknown perturbation {kind!r}; known: {PERTURBATIONS}")
        super().__init__(base.root)
        self.for_model = base.for_model  # a perturbed model view is still a model view
        self.kind, self.rate, self._seed = kind, rate, seed
        self.__dict__["items"] = self._perturb(base.items.copy())

    def _perturb(self, items: pd.DataFrame) -> pd.DataFrame:
        rng = np.random.default_rng([self._seed, 7 if self.kind == "NT" else 8])
        if self.kind == "NT":
            texts = []
            for row in items.itertuples():
                attrs = attribute_dict(row.title, row.brand, row.price, row.category, row.description)
                kept = {k: v for k, v in attrs.items() if rng.random() >= self.rate}
                texts.append(flatten(kept))
            items["text"] = texts
        else:
            with_image = np.flatnonzero(items["image"].notna().to_numpy())
            chosen = rng.permutation(with_image)[: int(round(self.rate * len(with_image)))]
            donors = np.roll(chosen, 1)  # a cycle through the chosen: each gets another item's image
            images = items["image"].to_numpy(dtype=object).copy()
            images[chosen] = items["image"].to_numpy(dtype=object)[donors]
            items["image"] = images
        return items
