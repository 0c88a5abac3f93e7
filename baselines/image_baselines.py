"""Comparison baselines for the image task (generation without history is UniMP's own ablation).

`retrieved-image`: no generation at all. Retrieve with the query alone: items whose category path
equals the query, ranked by popularity in the regime's training interactions (ties: lower item token),
the user's history excluded; answer with the top item's image. Falls back to the most popular item
with an image when no item of the query's category has one. The retrieved item tokens (top 2, the
paper's number of retrieved images) are attached to each returned image as `image.info["retrieved"]`.
"""
from __future__ import annotations

import pandas as pd

from benchmark.api import N_RETRIEVED, CategoryPopularity, Model
from benchmark.api.config_schema import NoSettings


class RetrievedImageModel(Model):
    """The image of the most popular item of the query's category that the user has not seen."""

    name = "retrieved-image"
    deterministic = True
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
