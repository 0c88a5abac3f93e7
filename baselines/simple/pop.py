"""`pop`: item popularity on the regime's training interactions."""
from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.api import Model
from benchmark.config_schema import NoSettings
from baselines.simple.common import stack_lists, train_split


class PopModel(Model):
    """Scores every item by its number of training interactions (main: `train`; new_domain:
    `new_domain_train`). Search keeps only items whose category equals the query (others -inf);
    selection scores each candidate by its popularity. History items are not removed here: the
    evaluator does that."""

    name = "pop"
    description = "Most popular items on the regime's training interactions (category-filtered for search)."
    Settings = NoSettings

    def fit(self, data, regime: str) -> None:
        items = data.items
        train = data.interactions(train_split(regime))
        counts = np.bincount(train["item"].to_numpy(dtype=np.int64), minlength=data.n_items)
        self.counts = counts.astype(np.float32)  # (n_items,)
        categories = items["category"].astype("object").where(items["category"].notna(), None)
        codes, uniques = pd.factorize(categories, use_na_sentinel=True)
        self.category_codes = codes.astype(np.int64)  # (n_items,), -1 = no category
        self.category_index = {c: i for i, c in enumerate(uniques)}

    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        b = len(requests)
        if task == "recommendation":
            return np.broadcast_to(self.counts, (b, len(self.counts))).copy()
        if task == "search":
            q = np.array([self.category_index.get(x, -2) if isinstance(x, str) else -2
                          for x in requests["query"]], dtype=np.int64)
            match = self.category_codes[None, :] == q[:, None]  # (B, n_items)
            return np.where(match, self.counts[None, :], np.float32(-np.inf)).astype(np.float32)
        if task == "selection":
            return self.counts[stack_lists(requests["candidates"])].reshape(b, -1)
        raise ValueError(f"pop: rank does not answer task {task!r}")
