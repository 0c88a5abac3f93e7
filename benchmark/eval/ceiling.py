"""The ranking ceiling of a dataset prepared from the embedded world: the scores an oracle of the
generating process reaches, so that every model reads as a fraction of what is possible.

The oracle scores each item by its probability of being drawn next by the world's generator
(benchmark/data/world/oracle.py), given what the generator knew before that draw: the user's latent
tastes, their phase (before or after the drift), the (user, domain) pair the next review belongs to and
the pair's previous item. Ranking by the true probability maximises the expected HR@k, so no model can
beat it in expectation (up to the post-draw repairs that module names). It never reads the answer: the
instances it ranks are the public ones (answers sealed), and the review to be drawn is located in the
world as the one of the user's reviews that the dataset keeps (item kept by the 5-core, a domain the
user has visible reviews in) and that is not among the user's visible reviews (train and validation
files, history); only its pair, position and phase are read, never its item. For search the query (the
target's category) is part of the question: the oracle conditions on it, P(item | query) being the
item's probability within the query's category and 0 outside.

Each task's own `predict` applies its candidate rule (the query's category for `search`, the whole
catalogue for `search-catalogue`), removes the history and keeps the top 10; `score_predictions` scores
the lines with the same bootstrap intervals as every run. A real-data dataset has no latent truth:
ValueError.

    unimp-bench ceiling --data data/world-default
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.data.dataset import PreparedDataset
from benchmark.data.labels import find_labels
from benchmark.data.layout import ALL_DOMAINS
from benchmark.data.regimes import regime_of
from benchmark.data.world import World, simulate
from benchmark.data.world.oracle import next_item_probabilities
from benchmark.eval.scoring import score_predictions
from benchmark.prepare import EMBEDDED_SOURCE
from benchmark.tasks import TASKS

NAME = "oracle of the generating process (ceiling)"
FAMILY = "ceiling"
TASKS_SHOWN = ("recommendation", "search", "search-catalogue")
# what the shown task sets ask a model for (search-catalogue asks for search's ranking)
ORACLE_MODEL_TASKS = frozenset(TASKS[t].model_task for t in TASKS_SHOWN)
N_DOMAINS = len(ALL_DOMAINS)


class Oracle:
    """Ranks like a model (`rank(task, requests)`) with the generator's next-item probabilities."""

    name = "oracle"

    def __init__(self, world: World, data: PreparedDataset, split: str):
        it, cat, users = world.interactions, world.catalogue, world.users
        self.world, self.split = world, split
        asin_to_world = pd.Series(np.arange(cat.n_items), index=cat.asin.astype(str))
        raw = data.items["raw_id"].astype(str)
        world_item = asin_to_world.reindex(raw.to_numpy()).to_numpy()
        user_to_world = pd.Series(np.arange(users.n_users), index=users.reviewer_id.astype(str))
        if np.isnan(world_item).any():
            raise ValueError(f"{data.root}: {int(np.isnan(world_item).sum())} items are not in the world "
                             f"{data.manifest.get('scale')!r} seed {data.manifest.get('seed')}: not its dataset")
        self.token_of = np.full(cat.n_items, -1, dtype=np.int64)   # world item -> dataset token
        self.token_of[world_item.astype(np.int64)] = data.items["item"].to_numpy()
        self.user_of = user_to_world
        self.category = data.items["category"].to_numpy(dtype=object)
        # what the dataset shows of each user outside the scored split: (world user, world item) keys
        regime = regime_of(split)
        seen = pd.concat([data.interactions(s)[["user", "item"]] for s in (regime.train, regime.valid)])
        self.seen_keys = self._keys(seen["user"].astype(str).to_numpy(), seen["item"].to_numpy())
        self.seen_pairs = np.unique(self._world_users(seen["user"].astype(str).to_numpy()) * N_DOMAINS
                                    + cat.domain[world_item.astype(np.int64)[seen["item"].to_numpy()]])
        kept = self.token_of[it.item] >= 0
        in_catalogue = data.catalogue_mask(split)[np.maximum(self.token_of[it.item], 0)]
        self.rows = np.flatnonzero(~it.duplicate & kept & in_catalogue)  # reviews the dataset can hold
        self.cache: dict[int, np.ndarray] = {}  # world row -> its probabilities (search and its variant share rows)
        self.unlocated = 0   # instances whose next review could not be located (ranked all-equal)
        self.ambiguous = 0   # instances with several candidate reviews (the latest taken)

    def _world_users(self, reviewer_ids: np.ndarray) -> np.ndarray:
        u = self.user_of.reindex(reviewer_ids).to_numpy()
        if np.isnan(u).any():
            raise ValueError(f"{int(np.isnan(u).sum())} users are not in the world: not its dataset")
        return u.astype(np.int64)

    def _keys(self, reviewer_ids: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        world_item = np.flatnonzero(self.token_of >= 0)
        item_of_token = np.empty(len(world_item), dtype=np.int64)
        item_of_token[self.token_of[world_item]] = world_item
        return np.unique(self._world_users(reviewer_ids) * self.world.catalogue.n_items
                         + item_of_token[np.asarray(tokens, dtype=np.int64)])

    def next_rows(self, requests: pd.DataFrame) -> np.ndarray:
        """The world row of each request's next review (-1 where none is found)."""
        it, n_items = self.world.interactions, self.world.catalogue.n_items
        hist = [list(h) if h is not None else [] for h in requests["history"]]
        users = requests["user"].astype(str).to_numpy()
        known = np.union1d(self.seen_keys, self._keys(np.repeat(users, [len(h) for h in hist]),
                                                      np.concatenate([np.asarray(h, dtype=np.int64) for h in hist]
                                                                     + [np.zeros(0, dtype=np.int64)])))
        wu = self._world_users(users)
        rows = self.rows[np.isin(it.user[self.rows], wu)]
        key = it.user[rows] * n_items + it.item[rows]
        rows = rows[~np.isin(key, known) & np.isin(it.user[rows] * N_DOMAINS + it.domain[rows], self.seen_pairs)]
        out = np.full(len(requests), -1, dtype=np.int64)
        for i, u in enumerate(wu):
            mine = rows[it.user[rows] == u]
            if len(mine) == 0:
                self.unlocated += 1
                continue
            self.ambiguous += len(mine) > 1
            out[i] = mine[np.argmax(it.day[mine])]  # the user's last review: the leave-last-out target
        return out

    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        if task not in ORACLE_MODEL_TASKS:
            raise ValueError(f"the oracle ranks next items ({', '.join(sorted(ORACLE_MODEL_TASKS))}), not {task!r}")
        rows = self.next_rows(requests)
        ok = rows >= 0
        todo = np.unique([r for r in rows[ok] if r not in self.cache])
        if len(todo):
            self.cache.update(zip(todo.tolist(), next_item_probabilities(self.world, todo)))
        prob = np.zeros((len(requests), self.world.catalogue.n_items))
        prob[ok] = [self.cache[r] for r in rows[ok].tolist()]
        scores = np.zeros((len(requests), len(self.category)), dtype=np.float64)
        kept = self.token_of >= 0
        scores[:, self.token_of[kept]] = prob[:, kept]
        if "query" in requests and requests["query"].notna().any():
            # the query is the target's category: P(item | query) is 0 outside it
            outside = self.category[None, :] != np.asarray(requests["query"].tolist(), dtype=object)[:, None]
            scores = np.where(outside, scores - 1.0, scores)
        return scores.astype(np.float32)


def embedded_world(data: PreparedDataset) -> World:
    """The world `data` was prepared from, re-simulated from its manifest's scale and seed."""
    if data.manifest.get("source") != EMBEDDED_SOURCE:
        raise ValueError(f"{data.root}: source {data.manifest.get('source')!r} is not the embedded world; real "
                         "data has no latent truth, so there is no ranking ceiling")
    return simulate(data.manifest["scale"], int(data.manifest["seed"]))


def ranking_ceiling(data_root: str | Path, labels: str | Path | None = None, tasks=TASKS_SHOWN,
                    split: str = "test", n_boot: int = 1000, seed: int = 0) -> dict:
    """{"model": {"name": NAME}, "results": [one results.json-style entry per task]}: the oracle's scores with
    percentile-bootstrap 95% intervals on `split` (needs the dataset's labels); each entry's extra counts the
    instances whose next review was not located (ranked all-equal) or ambiguous (the latest taken)."""
    if split == "new_user":
        raise ValueError("new_user: the held-out users' earlier reviews are sealed; the ceiling covers test and new_domain")
    data = PreparedDataset(data_root)
    world = embedded_world(data)
    found = find_labels(data_root, labels)
    if found is None:
        raise FileNotFoundError(f"{data_root}: no labels folder beside it; give --labels to score the ceiling")
    scoring = PreparedDataset(data_root, labels=found)
    oracle = Oracle(world, data, split)
    results = []
    for name in tasks:
        spec = TASKS[name]
        oracle.unlocated = oracle.ambiguous = 0
        preds = spec.predict(oracle, split, data, spec.load(data, split), run_dir=Path("."))
        res = score_predictions(name, spec.load(scoring, split), preds, scoring, n_boot=n_boot, seed=seed)
        results.append({"task": name, "split": split, "status": "ok", "n": res.n, "scores": res.scores,
                        "intervals": res.intervals, "main_score": spec.main_score,
                        "extra": dict(res.extra, unlocated=oracle.unlocated, ambiguous=oracle.ambiguous)})
    return {"model": {"name": NAME}, "results": results}


def report(data_root: str | Path, labels: str | Path | None = None, split: str = "test") -> str:
    """The ceiling as printed by `unimp-bench ceiling --data`."""
    doc = ranking_ceiling(data_root, labels, split=split)
    lines = [f"{NAME}, {Path(data_root).name} {split} (95% percentile-bootstrap intervals)"]
    for r in doc["results"]:
        cells = [f"{m} {r['scores'][m]:.4f} [{r['intervals'][m][0]:.4f}, {r['intervals'][m][1]:.4f}]"
                 for m in ("hr@5", "ndcg@5", "hr@10")]
        lines.append(f"  {r['task']:<17} n={r['n']:<5} " + "  ".join(cells)
                     + f"  (next review not located: {r['extra']['unlocated']}, ambiguous: {r['extra']['ambiguous']})")
    return "\n".join(lines)
