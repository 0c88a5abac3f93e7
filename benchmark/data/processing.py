"""Per-domain cleaning (dedupe, iterative k-core) and the merge of domains (protocol 1, steps 1-2)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def _renumbered(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame.reset_index(drop=True)` without copying the columns (the text columns are large)."""
    frame.index = pd.RangeIndex(len(frame))
    return frame


def dedupe_earliest(reviews: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one review per (user, item): the earliest (ties: the first line). Returns (frame, n_removed).
    The order is found on the key columns alone and the rows taken once."""
    cols = ["user", "item", "timestamp", "line"]
    keys = pd.DataFrame({c: reviews[c].to_numpy() for c in cols}).sort_values(cols, kind="stable")  # labels = positions
    first = ~keys.duplicated(["user", "item"], keep="first")
    kept = keys.index[first.to_numpy()]
    rows = kept[np.argsort(reviews["line"].to_numpy()[kept], kind="stable")]
    return _renumbered(reviews.take(rows)), len(reviews) - len(kept)


def k_core(reviews: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Iteratively drop users and items with fewer than k interactions until none remain. The rounds count
    integer codes; the surviving rows are taken once, in their order."""
    user = pd.factorize(reviews["user"])[0]
    item = pd.factorize(reviews["item"])[0]
    alive = np.ones(len(reviews), dtype=bool)
    while True:
        keep = (alive & (np.bincount(user[alive], minlength=user.max(initial=-1) + 1)[user] >= k)
                & (np.bincount(item[alive], minlength=item.max(initial=-1) + 1)[item] >= k))
        if (keep == alive).all():
            return _renumbered(reviews.take(np.flatnonzero(alive)))
        alive = keep


def sequence_order(user_rank: np.ndarray, timestamp: np.ndarray, item_rank: np.ndarray) -> np.ndarray:
    """The rows in chronological order per user, ties in time broken by domain name then raw item id
    (decision), from integer keys: each row's user's rank among the sorted user ids, and its item's rank in
    (domain, raw id) order. A permutation of the rows: `np.lexsort((item_rank, timestamp, user_rank))`."""
    time_rank = np.unique(timestamp, return_inverse=True)[1]  # sort-based (with an inverse): the same order, fewer bits
    return lexsort_ints((item_rank, time_rank, user_rank))


def lexsort_ints(keys) -> np.ndarray:
    """`np.lexsort(keys)` (the last key sorts first) for integer keys, by one stable sort of a single int64
    key when they are non-negative and fit in 63 bits together (several times faster), else `np.lexsort`."""
    keys = [np.asarray(k) for k in keys]
    if not len(keys[0]) or min(int(k.min()) for k in keys) < 0:
        return np.lexsort(keys)
    bits = [int(k.max()).bit_length() for k in keys]
    if sum(bits) > 63:
        return np.lexsort(keys)
    packed, shift = np.zeros(len(keys[0]), dtype=np.int64), 0
    for k, b in zip(keys, bits):
        packed |= k.astype(np.int64) << shift
        shift += b
    return np.argsort(packed, kind="stable")


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """`np.unique(keys)` for integer keys by a sort: numpy 2.4's hash-based `np.unique` takes seconds on
    millions of spread-out int64 keys, a sort a few hundredths."""
    keys = np.sort(keys)
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys


def domain_stats(interactions: pd.DataFrame) -> dict:
    """Table-5-style counts for one frame of interactions."""
    n_users = int(interactions["user"].nunique())
    n_items = int(interactions["item"].nunique())
    n = int(len(interactions))
    sparsity = 1.0 - n / (n_users * n_items) if n_users and n_items else 0.0
    return {"users": n_users, "items": n_items, "interactions": n, "sparsity": round(sparsity, 6)}


def seeded_permutation(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)
