"""Helpers that models and baselines share (they may import benchmark.api, never each other)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.data.regimes import REGIMES


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


N_RETRIEVED = 2  # the paper's number of retrieved images


class CategoryPopularity:
    """Items with an image, by popularity in the regime's training interactions (ties: lower token),
    grouped by category path: retrieval with the query alone (the image baselines' and UniMP's)."""

    def __init__(self, data, regime: str):
        counts = data.interactions(REGIMES[regime].train)["item"].value_counts()
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


CURVES_FILE = "curves.csv"  # in a model's run folder; the evaluator moves it to RUN/curves.csv (`unimp-bench plot`)


def append_curve(run_dir, regime: str, phase: str, step: int, name: str, value: float) -> None:
    """Log one training value (phase "train": per-step loss; "valid": a validation metric) to
    <run_dir>/curves.csv, appended as training goes so that a killed run keeps its curve so far."""
    if run_dir is None:
        return
    path = Path(run_dir) / CURVES_FILE
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as f:
        if new:
            f.write("regime,phase,step,name,value\n")
        f.write(f"{regime},{phase},{int(step)},{name},{float(value)!r}\n")
