"""Helpers shared by the simple baselines: regime splits, list columns, ranks for model selection."""
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


def target_ranks(scores: np.ndarray, targets: np.ndarray, catalogue: np.ndarray,
                 histories: list[np.ndarray]) -> np.ndarray:
    """0-based rank of each target among the catalogue items, history items (other than the target)
    removed, ties counted half (the expected rank under random tie-breaking). scores: (B, n_items)."""
    s = np.where(catalogue[None, :], scores.astype(np.float64), -np.inf)
    rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    cols = np.concatenate(histories) if histories else np.zeros(0, dtype=np.int64)
    keep = cols != targets[rows]
    s[rows[keep], cols[keep]] = -np.inf
    t = s[np.arange(len(targets)), targets][:, None]
    greater = (s > t).sum(axis=1)
    ties = (s == t).sum(axis=1) - 1
    return greater + ties / 2.0


def hit_and_mrr(ranks: np.ndarray, k: int = 5) -> tuple[float, float]:
    """(HR@k, mean reciprocal rank over the full ranking) of 0-based ranks."""
    if len(ranks) == 0:
        return 0.0, 0.0
    return float(np.mean(ranks < k)), float(np.mean(1.0 / (1.0 + ranks)))
