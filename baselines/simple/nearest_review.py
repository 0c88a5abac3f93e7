"""`nearest-review`: explanation by retrieval of a training review of the most similar item."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from baselines.simple.settings import NearestReviewSettings
from baselines.simple.text import tfidf_matrix, tokenize
from benchmark.api import REGIMES, Model, explanation_target


class NearestReviewModel(Model):
    """For an instance about item i, find the training item t most similar to i (TF-IDF cosine over
    `items.text`; t may be i itself) and answer with one of t's training reviews, in the explanation
    target's form (first sentence, at most 30 words, else the summary). The review is the earliest one
    by a user other than the instance's user; items whose only reviewer is that user are skipped
    unless no other item is left."""

    name = "nearest-review"
    deterministic = True
    Settings = NearestReviewSettings

    def __init__(self, config: dict[str, Any] | None = None, seed: int = 0, run_dir=None):
        super().__init__(config, seed, run_dir)
        self.max_words, self.batch_size = self.settings.max_words, self.settings.batch_size

    def _vectorise_items(self, data) -> None:
        """(Re)build the TF-IDF rows of `data.items.text` unless built from this very dataset view."""
        if getattr(self, "_vectorised", None) is not data:
            self.tfidf = tfidf_matrix([tokenize(t) for t in data.items["text"]])  # (n_items, V)
            self._vectorised = data
        self.train_tfidf_t = self.tfidf[self.train_items].T.tocsc()  # (V, T)

    def set_inference_data(self, data) -> None:
        """Compare the item text the evaluator hands over (perturbed under --perturb NT)."""
        super().set_inference_data(data)
        if hasattr(self, "train_items"):
            self._vectorise_items(data)

    def fit(self, data, regime: str) -> None:
        train = data.interactions(REGIMES[regime].train)
        texts = [explanation_target(r, s, self.max_words) for r, s in zip(train["review"], train["summary"])]
        reviews = pd.DataFrame({"item": train["item"].to_numpy(dtype=np.int64), "user": train["user"].astype(str),
                                "timestamp": train["timestamp"].to_numpy(dtype=np.int64), "text": texts})
        reviews = reviews[reviews["text"] != ""].sort_values(["item", "timestamp", "user"], kind="mergesort")
        self.user_index = pd.Index(pd.unique(reviews["user"]))
        reviews["u"] = self.user_index.get_indexer(reviews["user"])
        first = reviews.groupby("item", sort=True).head(1).set_index("item")
        others = reviews[reviews["u"].to_numpy() != first.loc[reviews["item"], "u"].to_numpy()]
        second = others.groupby("item", sort=True).head(1).set_index("item")
        self.train_items = first.index.to_numpy(dtype=np.int64)  # (T,) sorted
        self.first_text = first["text"].to_numpy(dtype=object)
        self.first_user = first["u"].to_numpy(dtype=np.int64)
        self.second_text = second["text"].reindex(first.index).to_numpy(dtype=object)
        has_second = second["u"].reindex(first.index).notna().to_numpy()
        self.only_reviewer = np.where(has_second, -1, self.first_user)  # (T,) -1: several reviewers
        self._vectorise_items(data)

    def _choose(self, sims: np.ndarray, users: np.ndarray) -> list[str]:
        """sims: (b, T) similarities; users: (b,) user codes (-2 unknown). One review text per row."""
        own_only = self.only_reviewer[None, :] == users[:, None]  # (b, T)
        masked = np.where(own_only, -np.inf, sims)
        fallback = np.isneginf(masked).all(axis=1)
        best = np.where(fallback, sims.argmax(axis=1), masked.argmax(axis=1))
        out = []
        for t, u in zip(best, users):
            use_second = self.first_user[t] == u and isinstance(self.second_text[t], str)
            out.append(self.second_text[t] if use_second else self.first_text[t])
        return out

    def generate_text(self, requests: pd.DataFrame) -> list[str]:
        if len(self.train_items) == 0:
            return [""] * len(requests)
        items = requests["item"].to_numpy(dtype=np.int64)
        users = self.user_index.get_indexer(requests["user"].astype(str)).astype(np.int64)
        users[users < 0] = -2  # unknown user: never equal to a code nor to only_reviewer's -1
        out: list[str] = []
        for start in range(0, len(requests), self.batch_size):
            sl = slice(start, start + self.batch_size)
            sims = (self.tfidf[items[sl]] @ self.train_tfidf_t).toarray().astype(np.float32)  # (b, T)
            out.extend(self._choose(sims, users[sl]))
        return out
