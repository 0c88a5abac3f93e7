"""`pop`: item popularity on the regime's training interactions."""
from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.api import REGIMES, Model, stack_lists
from benchmark.api.config_schema import NoSettings


class PopModel(Model):
    """Scores every item by its number of training interactions (main: `train`; new_domain:
    `new_domain_train`), for search too (the search task's candidate rule, applied by the evaluator,
    keeps the query's category); selection scores each candidate by its popularity. History items are not removed here: the
    evaluator does that."""

    name = "pop"
    deterministic = True
    Settings = NoSettings

    def fit(self, data, regime: str) -> None:
        train = data.interactions(REGIMES[regime].train)
        counts = np.bincount(train["item"].to_numpy(dtype=np.int64), minlength=data.n_items)
        self.counts = counts.astype(np.float32)  # (n_items,)

    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        b = len(requests)
        if task in ("recommendation", "search"):
            return np.broadcast_to(self.counts, (b, len(self.counts))).copy()
        if task == "selection":
            return self.counts[stack_lists(requests["candidates"])].reshape(b, -1)
        raise ValueError(f"pop: rank does not answer task {task!r}")
