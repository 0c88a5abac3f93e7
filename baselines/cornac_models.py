"""Cornac's visually-aware recommenders (VBPR, CausalRec, AMR) as benchmark models.

Each is Cornac 3.0.1's own model class, trained by its own `fit` (BPR triples from a `cornac.data.Dataset`
of the regime's training interactions, the frozen image features of `benchmark.api.image_features` as its
`item_image` modality); `rank` answers with Cornac's own `score(user)` mapped to our item tokens (items
Cornac never saw get -inf). They need a trained user embedding: `new_user` is unsupported.
Tasks: recommendation and search (full ranking; the search task's candidate rule keeps the query's
category), selection (the candidates' scores, thresholded by the evaluator on validation).

Early stopping: Cornac trains a fixed `n_epochs`; we call its `fit` `eval_step` epochs at a time (its
`_init` keeps the parameters it already has, so training continues; Adam's moments restart at each call),
measure MRR@10 on the regime's validation interactions after each call and keep the best parameters,
stopping after `stopping_step` calls without a gain or at `epochs`.
Two Cornac 3.0.1 defects are worked around here, see `_score` and `CausalRecModel._continue`.
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
import time
import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from baselines import cornac_settings as cs
from benchmark.api import REGIMES, Model, regime_of
from benchmark.api.image_features import item_image_features
from benchmark.metrics.ranking import ranking_metrics_from_ranks, target_ranks

log = logging.getLogger(__name__)

RANK_TASKS = ("recommendation", "search", "selection")
# CausalRec.score (item_idx None) adds into these arrays in place (`m_score = self.beta_item`, then
# `fast_dot(..., m_score)`): each call would corrupt the model, so `_score` restores them.
ALIASED = ("beta_item", "visual_bias", "beta_item_mean")


def _split_of(request_id: str) -> str:
    return str(request_id).split("/")[1]


class _Run:
    """One trained regime: the Cornac model and the maps between its indices and ours."""

    def __init__(self, model, uid_map: dict, iid_map: dict, n_items: int):
        self.model = model
        self.uid_map = uid_map                                   # our user id -> cornac index
        self.toks = np.array([int(t) for t in iid_map], dtype=np.int64)
        self.idx = np.array(list(iid_map.values()), dtype=np.int64)
        self.n_items = n_items
        self.best_valid = 0.0
        self.epochs = 0
        self.train_time_s = 0.0


def _score(model, uidx: int) -> np.ndarray:
    saved = {a: getattr(model, a).copy() for a in ALIASED if isinstance(getattr(model, a, None), np.ndarray)}
    try:
        return np.asarray(model.score(uidx), dtype=np.float64).copy()
    finally:
        for a, v in saved.items():
            setattr(model, a, v)


class CornacModel(Model):
    """Base class: subclasses set `cornac_class` and `Settings`."""

    cornac_class: ClassVar[str] = ""
    model_keys: ClassVar[tuple[str, ...]] = ("k", "k2", "batch_size", "learning_rate", "lambda_w", "lambda_b",
                                             "lambda_e")

    def __init__(self, config: dict[str, Any] | None = None, seed: int = 0, run_dir=None):
        super().__init__(config, seed, run_dir)
        self._runs: dict[str, _Run] = {}

    def supports(self, task: str, split: str) -> bool:
        return task in RANK_TASKS and split != "new_user"

    def _cornac_kwargs(self) -> dict[str, Any]:
        return {k: getattr(self.settings, k) for k in self.model_keys}

    def _continue(self, model, train_set) -> None:
        """Train `eval_step` more epochs from the current parameters."""
        model.fit(train_set)

    def _fit_quietly(self, model, train_set) -> None:
        # Cornac prints "Optimization finished!" on stdout, which is the CLI's output
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Model is already fitted")  # we continue on purpose
            self._continue(model, train_set)

    def fit(self, data, regime: str) -> None:
        import cornac  # heavy: cornac (torch)
        import torch  # heavy: torch
        from cornac.data import ImageModality  # heavy: cornac

        s = self.settings
        torch.set_num_threads(s.threads or torch.get_num_threads())
        t0 = time.perf_counter()
        feats, _ = item_image_features(data, s)
        train = data.interactions(REGIMES[regime].train)
        triples = [(str(u), str(int(i)), 1.0) for u, i in zip(train["user"], train["item"])]
        train_set = cornac.data.Dataset.build(triples, fmt="UIR", seed=self.seed)
        tokens = np.array([int(t) for t in train_set.iid_map], dtype=np.int64)
        order = np.array(list(train_set.iid_map.values()), dtype=np.int64)
        f = np.zeros((len(tokens), feats.shape[1]), dtype=np.float32)
        f[order] = feats[tokens]
        train_set.item_image = ImageModality(features=f)
        run = _Run(None, dict(train_set.uid_map), train_set.iid_map, data.n_items)
        model = getattr(cornac.models, self.cornac_class)(n_epochs=s.eval_step, verbose=False, seed=self.seed,
                                                          **self._cornac_kwargs())
        valid = data.interactions(REGIMES[regime].valid)
        seen = train.groupby("user")["item"].apply(lambda x: x.to_numpy(dtype=np.int64)).to_dict()
        torch.manual_seed(self.seed)
        best, best_model, waited, epochs = -1.0, None, 0, 0
        while epochs < s.epochs and waited < s.stopping_step:
            self._fit_quietly(model, train_set)
            epochs += s.eval_step
            run.model = model
            mrr = self._valid_mrr(run, valid, seen)
            log.info("%s/%s: epoch %d valid MRR@10 %.4f", self.name, regime, epochs, mrr)
            if mrr > best:
                best, best_model, waited, run.epochs = mrr, copy.deepcopy(model), 0, epochs
            else:
                waited += 1
        run.model, run.best_valid = best_model, best
        run.train_time_s = time.perf_counter() - t0
        self._runs[regime] = run

    def _valid_mrr(self, run: _Run, valid: pd.DataFrame, seen: dict) -> float:
        """MRR@10 of the validation item among Cornac's items, the user's training items removed, ties
        counted against the target as the evaluator does (saturated scores would otherwise look perfect)."""
        rows = [(u, int(t)) for u, t in zip(valid["user"], valid["item"]) if u in run.uid_map]
        if not rows:
            return 0.0
        scores = np.stack([self._user_scores(run, u) for u, _ in rows]).astype(np.float32)
        ranks = target_ranks(scores, [t for _, t in rows], [seen.get(u, []) for u, _ in rows])
        return float(ranking_metrics_from_ranks(ranks)["mrr@10"].mean())

    def _user_scores(self, run: _Run, user) -> np.ndarray:
        out = np.full(run.n_items, -np.inf, dtype=np.float64)
        out[run.toks] = _score(run.model, run.uid_map[user])[run.idx]
        return out

    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        if task not in RANK_TASKS:
            raise NotImplementedError(task)
        if len(requests) == 0:
            return np.zeros((0, 0), dtype=np.float32)
        regime = regime_of(_split_of(requests["id"].iloc[0])).name
        if regime not in self._runs:
            raise RuntimeError(f"{self.name}: fit(data, {regime!r}) was not called")
        run = self._runs[regime]
        unknown = [u for u in requests["user"] if u not in run.uid_map]
        if unknown:
            raise ValueError(f"{self.name}: no trained embedding for user(s) {unknown[:3]} (new users?)")
        scores = np.stack([self._user_scores(run, u) for u in requests["user"]]).astype(np.float32)
        if task == "selection":
            return np.stack([scores[b, np.asarray(c, dtype=np.int64)]
                             for b, c in enumerate(requests["candidates"])]).astype(np.float32)
        return scores

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["cornac"] = {r: {"model": self.cornac_class, "epochs_at_best": run.epochs, "best_valid_mrr10": run.best_valid,
                             "train_time_s": round(run.train_time_s, 2)} for r, run in self._runs.items()}
        out["image_encoder"] = self.settings.image_encoder
        return out


class VBPRModel(CornacModel):
    name = "vbpr"
    cornac_class = "VBPR"
    Settings = cs.VBPRSettings


class CausalRecModel(CornacModel):
    name = "causalrec"
    cornac_class = "CausalRec"
    Settings = cs.CausalRecSettings
    model_keys = CornacModel.model_keys + ("tanh", "lambda_2")

    def _continue(self, model, train_set) -> None:
        # CausalRec 3.0.1 stores its trained direct-effect projection as `emb_dir_matrix` but starts from
        # `emb_ind_matrix`: without this, each further `fit` would restart that projection from its init.
        if getattr(model, "emb_dir_matrix", None) is not None:
            model.emb_ind_matrix = model.emb_dir_matrix
        # `mean_feat` (the no-treatment image feature, required) is replaced by its projection after a fit
        model.mean_feat = train_set.item_image.features.mean(axis=0).astype(np.float32)
        model.fit(train_set)


class AMRModel(CornacModel):
    name = "amr"
    cornac_class = "AMR"
    Settings = cs.AMRSettings
    model_keys = ("k", "k2", "batch_size", "learning_rate", "lambda_w", "lambda_b", "lambda_e", "lambda_adv")
