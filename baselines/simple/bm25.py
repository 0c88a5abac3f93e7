"""`bm25` and `bm25-personal`: lexical search over item text (search task only)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from baselines.simple.settings import BM25PersonalSettings
from baselines.simple.text import BM25Index, tokenize
from benchmark.api import REGIMES, Model, history_lists
from benchmark.api.config_schema import NoSettings
from benchmark.metrics.ranking import ranking_metrics_from_ranks, target_ranks


def _row_max_normalise(scores: np.ndarray) -> np.ndarray:
    """Divide each row by its maximum (BM25 scores are >= 0), so rows are in [0, 1]; all-zero rows stay 0."""
    if scores.size == 0:
        return scores
    top = scores.max(axis=1, keepdims=True)
    return scores / np.where(top > 0, top, 1.0)


class BM25Model(Model):
    """BM25Okapi (rank_bm25, k1=1.5, b=0.75) over each item's flattened text `items.text`; the query is
    the instance's `query` (the target's category path). Non-personalised."""

    name = "bm25"
    deterministic = True
    Settings = NoSettings

    def _index_items(self, data) -> None:
        """(Re)build the index over `data.items.text` unless it was built from this very dataset view."""
        if getattr(self, "_indexed", None) is not data:
            self.item_tokens = [tokenize(t) for t in data.items["text"]]
            self.index = BM25Index(self.item_tokens)
            self._indexed = data

    def fit(self, data, regime: str) -> None:
        self._index_items(data)

    def set_inference_data(self, data) -> None:
        """Index the item text the evaluator hands over (perturbed under --perturb NT)."""
        super().set_inference_data(data)
        self._index_items(data)

    def supports(self, task: str, split: str) -> bool:
        return task == "search"

    def _query_scores(self, requests: pd.DataFrame) -> np.ndarray:
        """(B, n_items) float64 BM25 scores of each request's query."""
        return self.index.scores([tokenize(q) for q in requests["query"]])

    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        if task != "search":
            raise ValueError(f"{self.name}: rank answers only the search task, not {task!r}")
        return self._query_scores(requests).astype(np.float32)


class BM25PersonalModel(BM25Model):
    """score = (1 - w) * q + w * h, where q is the BM25 score of the query and h the BM25 score of the
    concatenated text of the user's last `history_length` items (each row divided by its maximum).
    w is chosen on the regime's validation search instances: best HR@5 (the task's main score, ranks
    as the evaluator computes them), then best MRR@10, then the smaller w."""

    name = "bm25-personal"
    Settings = BM25PersonalSettings

    def __init__(self, config: dict[str, Any] | None = None, seed: int = 0, run_dir=None):
        super().__init__(config, seed, run_dir)
        s = self.settings
        self.history_length, self.weights, self.max_valid = s.history_length, list(s.weights), s.max_valid
        self.weight = s.weight if s.weight is not None else 0.0  # given: no selection
        self.selection: dict[str, Any] = {}

    def _components(self, requests: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Row-normalised (query, history) score matrices, each (B, n_items)."""
        q = _row_max_normalise(self._query_scores(requests))
        hist = history_lists(requests, self.history_length)
        h_queries = [[tok for item in h for tok in self.item_tokens[item]] for h in hist]
        h = _row_max_normalise(self.index.scores(h_queries))
        return q, h

    def fit(self, data, regime: str) -> None:
        super().fit(data, regime)
        split = REGIMES[regime].valid
        if self.settings.weight is not None:
            self.selection[regime] = {"weight": self.weight, "given": True}
            return
        valid = data.instances("search", split)
        if len(valid) > self.max_valid:
            pick = np.sort(np.random.default_rng(self.seed).choice(len(valid), self.max_valid, replace=False))
            valid = valid.iloc[pick].reset_index(drop=True)
        if len(valid) == 0:
            self.weight = 0.0
            self.selection[regime] = {"weight": 0.0, "valid_split": split, "n": 0}
            return
        q, h = self._components(valid)
        targets = valid["target_item"].to_numpy(dtype=np.int64)
        catalogue = data.catalogue_mask(split)
        exclude = history_lists(valid)
        table = []
        for w in self.weights:
            ranks = target_ranks((1 - w) * q + w * h, targets, exclude, catalogue)
            m = ranking_metrics_from_ranks(ranks, ks=(5, 10))  # the task's main score, then MRR@10 on ties
            table.append((float(m["hr@5"].mean()), float(m["mrr@10"].mean()), -w))
        hr, mrr, neg_w = max(table)
        self.weight = -neg_w
        self.selection[regime] = {
            "weight": self.weight, "valid_split": split, "n": len(valid), "valid_hr@5": hr, "valid_mrr@10": mrr,
        }

    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        if task != "search":
            raise ValueError(f"{self.name}: rank answers only the search task, not {task!r}")
        q, h = self._components(requests)
        return ((1 - self.weight) * q + self.weight * h).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "selected": self.selection}
