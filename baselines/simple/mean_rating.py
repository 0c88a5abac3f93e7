"""`mean-rating`: global mean + user bias + item bias (the classic baseline predictor), and
`mean-rating-star`: the same biases read out as a whole star for MAE."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from baselines.simple.settings import MeanRatingSettings
from benchmark.api import REGIMES, Model


def fit_biases(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_users: int, n_items: int,
               lam: float, iterations: int = 100, tol: float = 1e-10) -> tuple[float, np.ndarray, np.ndarray]:
    """Minimise sum (r - mu - b_u - b_i)^2 + lam * (|b_u|^2 + |b_i|^2) with mu the global mean, by
    alternating exact updates. users/items: int codes per rating. Returns (mu, b_user, b_item)."""
    mu = float(ratings.mean())
    n_u = np.bincount(users, minlength=n_users).astype(np.float64)
    n_i = np.bincount(items, minlength=n_items).astype(np.float64)
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    resid = ratings - mu
    for _ in range(iterations):
        new_bi = np.bincount(items, resid - bu[users], minlength=n_items) / np.maximum(lam + n_i, 1e-12)
        new_bu = np.bincount(users, resid - new_bi[items], minlength=n_users) / np.maximum(lam + n_u, 1e-12)
        change = max(np.abs(new_bi - bi).max(initial=0.0), np.abs(new_bu - bu).max(initial=0.0))
        bu, bi = new_bu, new_bi
        if change < tol:
            break
    return mu, bu, bi


class MeanRatingModel(Model):
    """rating = mu + b_user + b_item, clipped to [1, 5], fit on the regime's training interactions;
    an unknown user or item has bias 0. The L2 weight lambda is chosen by MAE on the regime's
    validation rating instances."""

    name = "mean-rating"
    deterministic = True
    offsets: tuple[float, ...] = (0.0,)  # read-out offsets tried on valid (see MeanRatingStarModel)
    Settings = MeanRatingSettings

    def __init__(self, config: dict[str, Any] | None = None, seed: int = 0, run_dir=None):
        super().__init__(config, seed, run_dir)
        self.lambdas = list(self.settings.lambdas)
        self.selection: dict[str, Any] = {}
        self.offset = 0.0

    def _set(self, mu: float, bu: np.ndarray, bi: np.ndarray) -> None:
        self.mu, self.b_user, self.b_item = mu, bu, bi

    @staticmethod
    def _readout(score: np.ndarray) -> np.ndarray:
        return np.clip(score, 1.0, 5.0)

    def fit(self, data, regime: str) -> None:
        train = data.interactions(REGIMES[regime].train)
        self.user_index = pd.Index(pd.unique(train["user"].astype(str)))
        users = self.user_index.get_indexer(train["user"].astype(str))
        items = train["item"].to_numpy(dtype=np.int64)
        ratings = train["rating"].to_numpy(dtype=np.float64)
        split = REGIMES[regime].valid
        valid = data.instances("rating", split)
        fits = {lam: fit_biases(users, items, ratings, len(self.user_index), data.n_items, lam)
                for lam in (self.lambdas if len(valid) else self.lambdas[:1])}
        maes: dict[tuple[float, float], float] = {}  # (lambda, offset) -> valid MAE
        truth = valid["target_rating"].to_numpy(dtype=np.float64)
        for lam, params in fits.items():
            if len(valid):
                self._set(*params)
                score = self._score(valid)
                for off in self.offsets:
                    maes[(lam, off)] = float(np.mean(np.abs(self._readout(score + off) - truth)))
        best_lam, self.offset = min(maes, key=lambda k: (maes[k], abs(k[1]), k[0])) if maes else (self.lambdas[0], 0.0)
        self._set(*fits[best_lam])
        per_lambda: dict[str, float] = {}  # each lambda's MAE at its best offset
        for (lam, _), v in maes.items():
            per_lambda[str(lam)] = min(v, per_lambda.get(str(lam), v))
        self.selection[regime] = {"lambda": best_lam, "valid_split": split, "valid_mae": per_lambda}
        if len(self.offsets) > 1:
            self.selection[regime]["offset"] = self.offset

    def _score(self, requests: pd.DataFrame) -> np.ndarray:
        """mu + b_user + b_item, unclipped."""
        u = self.user_index.get_indexer(requests["user"].astype(str))
        items = requests["item"].to_numpy(dtype=np.int64)
        bu = np.where(u >= 0, self.b_user[np.maximum(u, 0)] if len(self.b_user) else 0.0, 0.0)
        known = (items >= 0) & (items < len(self.b_item))
        bi = np.where(known, self.b_item[np.clip(items, 0, len(self.b_item) - 1)], 0.0)
        return self.mu + bu + bi

    def _predict(self, requests: pd.DataFrame) -> np.ndarray:
        return self._readout(self._score(requests) + self.offset)

    def predict_rating(self, requests: pd.DataFrame) -> list[float]:
        return [float(x) for x in self._predict(requests)]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "selected": self.selection}


class MeanRatingStarModel(MeanRatingModel):
    """The same biases, read out for MAE: the whole star round(mu + b_user + b_item + offset), clipped
    to 1-5, with lambda and the offset chosen together by MAE on the regime's validation rating
    instances. A mean is the wrong point prediction under MAE when ratings are skewed towards 5 (the
    median is right); the offset moves the rounding cut-offs to where validation puts the median."""

    name = "mean-rating-star"
    offsets = tuple(np.round(np.arange(-1.0, 2.0001, 0.05), 2).tolist())

    @staticmethod
    def _readout(score: np.ndarray) -> np.ndarray:
        return np.clip(np.round(score), 1.0, 5.0)
