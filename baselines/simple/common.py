"""Helpers shared by the simple baselines: regime splits, list columns, the model-selection score."""
from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.api import REGIME_SPLITS


def train_split(regime: str) -> str:
    """The interaction/instance split a regime trains on ("train" or "new_domain_train")."""
    return REGIME_SPLITS[regime][0]


def valid_split(regime: str) -> str:
    """The split a regime selects hyper-parameters on ("valid" or "new_domain_valid")."""
    return REGIME_SPLITS[regime][1]


def stack_lists(column: pd.Series) -> np.ndarray:
    """A list<int64> column of equal-length lists as an int64 array (B, L)."""
    if len(column) == 0:
        return np.zeros((0, 0), dtype=np.int64)
    return np.stack([np.asarray(v, dtype=np.int64) for v in column])


def history_lists(requests: pd.DataFrame, last: int = 0) -> list[np.ndarray]:
    """Each request's history as an int64 array, oldest first; only the `last` items when last > 0."""
    out = []
    for h in requests["history"]:
        h = np.asarray(h if h is not None else [], dtype=np.int64)
        out.append(h[-last:] if last > 0 else h)
    return out


def hit_and_mrr(ranks: np.ndarray, k: int = 5) -> tuple[float, float]:
    """(HR@k, mean reciprocal rank over the full ranking) of 1-based ranks, as
    `benchmark.metrics.ranking.target_ranks` returns them (ties pessimistic)."""
    if len(ranks) == 0:
        return 0.0, 0.0
    r = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(r <= k)), float(np.mean(1.0 / r))
