"""Settings of the simple baselines (stdlib only, so `unimp-bench models NAME` imports no model).

One dataclass per model with settings, a help comment per field (see benchmark.api.config_schema);
random, pop and bm25 have none (benchmark.api.config_schema.NoSettings).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BM25PersonalSettings:
    history_length: int = 5         # the user's last items whose text forms the history query (0 = all)
    weights: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # history weights
                                    # w tried on valid: score = (1 - w) * query + w * history
    max_valid: int = 2000           # seeded subsample of the valid search instances used for the choice
    weight: float | None = None     # a fixed history weight (no choice on valid); null = choose from weights


@dataclass
class MeanRatingSettings:
    lambdas: tuple[float, ...] = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)  # L2 weights of the biases tried;
                                    # the one with the lowest valid MAE is kept


@dataclass
class NearestReviewSettings:
    max_words: int = 30             # the retrieved review is cut to its first sentence of at most this many words
    batch_size: int = 128           # requests per similarity product (memory, not results)
