"""Vectorised sampling helpers shared by the world's generators."""
from __future__ import annotations

import numpy as np

# Independent random streams per generation stage: adding draws to one stage never shifts another.
STAGES = {"catalogue": 1, "users": 2, "sequences": 3, "ratings": 4, "text": 5, "images": 6, "items_text": 7}


def stream(seed: int, stage: str, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, STAGES[stage], *key]))


def categorical(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of `weights` (n, k), non-negative rows with a positive sum."""
    cum = np.cumsum(weights, axis=-1)
    u = rng.random(cum.shape[:-1]) * cum[..., -1]
    idx = (cum <= u[..., None]).sum(axis=-1)
    return np.minimum(idx, weights.shape[-1] - 1)


def categorical_rows(table: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column per entry of `rows`, drawn from the weights `table[row]` (R, C), without
    materialising a (len(rows), C) matrix: one searchsorted over row-offset cumulative shares."""
    n_rows, n_cols = table.shape
    cum = np.cumsum(table, axis=1)
    keys = (np.arange(n_rows)[:, None] + np.minimum(cum / cum[:, -1:], 1.0)).ravel()
    idx = np.searchsorted(keys, rows + rng.random(np.shape(rows)), side="right")
    return np.clip(idx - rows * n_cols, 0, n_cols - 1)


def exact_mask(n: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask with exactly round(share * n) True entries at random places."""
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[: int(round(share * n))]] = True
    return mask


class SegmentSampler:
    """Draw items inside contiguous segments (leaf categories) by weight or uniformly.

    Items are sorted by segment; `keys[i] = segment + cumulative share within the segment`, so one
    `searchsorted` draws from many segments at once.
    """

    def __init__(self, segment: np.ndarray, weight: np.ndarray, n_segments: int):
        self.count = np.bincount(segment, minlength=n_segments)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])
        if np.any(np.diff(segment) < 0):
            raise ValueError("items must be sorted by segment")
        totals = np.bincount(segment, weights=weight, minlength=n_segments)
        within = np.cumsum(weight) - np.repeat(np.cumsum(totals) - totals, self.count)
        share = within / np.repeat(np.where(totals > 0, totals, 1.0), self.count)
        self.keys = segment + np.minimum(share, 1.0)

    def weighted(self, seg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        u = rng.random(seg.shape)
        idx = np.searchsorted(self.keys, seg + u, side="right")
        # guard against float round-off at a segment's end
        return np.clip(idx, self.start[seg], self.start[seg] + self.count[seg] - 1)

    def uniform(self, seg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.start[seg] + (rng.random(seg.shape) * self.count[seg]).astype(np.int64)


_ALPHABET = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


def unique_codes(n: int, prefix: str, length: int, rng: np.random.Generator) -> np.ndarray:
    """`n` distinct ids: `prefix` + `length` random base-36 characters (object array of str)."""
    space = 36 ** length
    values = rng.integers(0, space, size=n, dtype=np.int64)
    while True:  # redraw collisions (vanishingly rare at these sizes) until all distinct
        dup = ~first_occurrence(values)
        if not dup.any():
            break
        values[dup] = rng.integers(0, space, size=int(dup.sum()), dtype=np.int64)
    digits = (values[:, None] // (36 ** np.arange(length - 1, -1, -1, dtype=np.int64))) % 36
    chars = _ALPHABET[digits].view(f"S{length}").ravel()
    return np.array([prefix + c.decode() for c in chars], dtype=object)


# Sort-based set operations: numpy 2.4's hash-based np.unique / np.isin take seconds on millions
# of spread-out int64 keys, a sort takes ~0.1 s.
def contains(sorted_keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """`query in sorted_keys`, elementwise."""
    if not len(sorted_keys):
        return np.zeros(np.shape(query), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, query), len(sorted_keys) - 1)
    return sorted_keys[pos] == query


def first_occurrence(keys: np.ndarray) -> np.ndarray:
    """True where a key appears for the first time (in row order)."""
    order = np.argsort(keys, kind="stable")
    first = np.ones(len(keys), dtype=bool)
    first[order[1:]] = keys[order[1:]] != keys[order[:-1]]
    return first
