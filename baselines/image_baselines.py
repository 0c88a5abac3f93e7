"""Comparison baselines for the image task (generation without history is UniMP's own ablation).

`retrieved-image`: no generation at all. Retrieve with the query alone: items whose category path
equals the query, ranked by popularity in the regime's training interactions (ties: lower item token),
the user's history excluded; answer with the top item's image. Falls back to the most popular item
with an image when no item of the query's category has one. The retrieved item tokens (top 2, the
paper's number of retrieved images) are attached to each returned image as `image.info["retrieved"]`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.api import Model
from benchmark.config_schema import NoSettings

N_RETRIEVED = 2
_TRAIN_SPLIT = {"main": "train", "new_domain": "new_domain_train"}


class CategoryPopularity:
    """Items with an image, by popularity in the regime's training interactions (ties: lower token),
    grouped by category path."""

    def __init__(self, data, regime: str):
        counts = data.interactions(_TRAIN_SPLIT[regime])["item"].value_counts()
        self.popularity = np.zeros(data.n_items, dtype=np.int64)
        self.popularity[counts.index.to_numpy(dtype=np.int64)] = counts.to_numpy()
        self.index(data)

    def index(self, data) -> None:
        """(Re)build the ranking over `data`'s items (their images may differ under --perturb NV)."""
        items = data.items
        has_image = items["image"].notna().to_numpy()
        tokens = items["item"].to_numpy(dtype=np.int64)
        order = np.lexsort((tokens, -self.popularity[tokens]))
        self.ranked = tokens[order][has_image[order]]
        category = items["category"].to_numpy(dtype=object)
        self.by_category: dict[str, np.ndarray] = {}
        for c in pd.unique(category[self.ranked]):
            self.by_category[c] = self.ranked[category[self.ranked] == c]

    def retrieve(self, query: str, exclude, k: int = N_RETRIEVED, fallback: bool = True) -> list[int]:
        """Top-k item tokens of the query's category outside `exclude`; when the category has none and
        `fallback`, the most popular items with an image."""
        seen = set(int(h) for h in (exclude if exclude is not None else []))
        out = [int(i) for i in self.by_category.get(query, ()) if int(i) not in seen][:k]
        if not out and fallback:
            out = [int(i) for i in self.ranked if int(i) not in seen][:k]
        return out


class RetrievedImageModel(Model):
    """The image of the most popular item of the query's category that the user has not seen."""

    name = "retrieved-image"
    description = "Image task: the image of the most popular non-history item whose category equals the query."
    Settings = NoSettings

    def fit(self, data, regime: str) -> None:
        self.retriever = CategoryPopularity(data, regime)
        self.set_inference_data(data)

    def set_inference_data(self, data) -> None:
        super().set_inference_data(data)
        self.retriever.index(data)

    def supports(self, task: str, split: str) -> bool:
        return task == "image"

    def retrieve(self, query: str, history, k: int = N_RETRIEVED) -> list[int]:
        """Top-k item tokens for `query` outside `history`; popular items when the category has none."""
        return self.retriever.retrieve(query, history, k)

    def generate_images(self, requests: pd.DataFrame) -> list:
        data = self.inference_data
        images = []
        for query, history in zip(requests["query"], requests["history"]):
            top = self.retrieve(query, history)
            if not top:
                raise ValueError("retrieved-image: the catalogue has no item with an image")
            im = data.load_image(top[0])
            im.info["retrieved"] = top
            images.append(im)
        return images
