"""Helpers shared by the simple baselines: the model-selection score."""
from __future__ import annotations

import numpy as np


def hit_and_mrr(ranks: np.ndarray, k: int = 5) -> tuple[float, float]:
    """(HR@k, mean reciprocal rank over the full ranking) of 1-based ranks, as
    `benchmark.metrics.ranking.target_ranks` returns them (ties pessimistic)."""
    if len(ranks) == 0:
        return 0.0, 0.0
    r = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(r <= k)), float(np.mean(1.0 / r))
