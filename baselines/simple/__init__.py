"""Honest simple baselines: one small module per model, all behind `benchmark.api.Model`.

`MODELS` maps each model's name to "module:Class" so that a registry can list them without importing.
"""
from __future__ import annotations

MODELS: dict[str, str] = {
    "random": "baselines.simple.random_model:RandomModel",
    "pop": "baselines.simple.pop:PopModel",
    "bm25": "baselines.simple.bm25:BM25Model",
    "bm25-personal": "baselines.simple.bm25:BM25PersonalModel",
    "mean-rating": "baselines.simple.mean_rating:MeanRatingModel",
    "mean-rating-star": "baselines.simple.mean_rating:MeanRatingStarModel",
    "nearest-review": "baselines.simple.nearest_review:NearestReviewModel",
}
