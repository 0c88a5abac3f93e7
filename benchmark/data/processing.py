"""Per-domain cleaning (dedupe, iterative k-core) and the merge of domains (protocol 1, steps 1-2)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def dedupe_earliest(reviews: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one review per (user, item): the earliest (ties: the first line). Returns (frame, n_removed)."""
    ordered = reviews.sort_values(["user", "item", "timestamp", "line"], kind="stable")
    kept = ordered.drop_duplicates(["user", "item"], keep="first")
    return kept.sort_values("line", kind="stable").reset_index(drop=True), len(reviews) - len(kept)


def k_core(reviews: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Iteratively drop users and items with fewer than k interactions until none remain."""
    df = reviews
    while True:
        user_n = df["user"].map(df["user"].value_counts())
        item_n = df["item"].map(df["item"].value_counts())
        keep = (user_n >= k) & (item_n >= k)
        if keep.all():
            return df.reset_index(drop=True)
        df = df[keep]


def order_sequences(interactions: pd.DataFrame) -> pd.DataFrame:
    """Chronological order per user; ties in time broken by domain name then raw item id (decision)."""
    return interactions.sort_values(["user", "timestamp", "domain", "raw_id"], kind="stable").reset_index(drop=True)


def domain_stats(interactions: pd.DataFrame) -> dict:
    """Table-5-style counts for one frame of interactions."""
    n_users = int(interactions["user"].nunique())
    n_items = int(interactions["item"].nunique())
    n = int(len(interactions))
    sparsity = 1.0 - n / (n_users * n_items) if n_users and n_items else 0.0
    return {"users": n_users, "items": n_items, "interactions": n, "sparsity": round(sparsity, 6)}


def seeded_permutation(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)
