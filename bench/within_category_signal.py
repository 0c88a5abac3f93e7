"""Category search: how much of the user's within-category taste can a model read from the history?

Within the query's category the embedded world picks an item by popularity and by its match with the user's
latent tastes (colour, brand, shape, price: `benchmark.data.world.sequences`). The ranking oracle knows those
tastes and reaches far above popularity; a model knows only the history. This script measures what the history
gives away, on the embedded world only (it reads the latent truth):

1. generator: how often a drawn item carries the user's favourite colour / one of the pair's brands / the
   favourite shape, against how often a random item of the domain does (the world's own draws, every review);
2. visible agreement: how often a history item's colour (named in its title or description), shape word or
   brand equals the search target's, against the rate for a random item of known attribute;
3. a read-out: popularity plus weighted agreement of each candidate with the history (the share of history items
   of its colour, of its shape, whether its brand is in the history, minus its log-price distance to the
   history's mean), the weights picked on validation from a grid, test printed beside; weights 0 = popularity;
4. the one sequential signal of the generator (an item's successors, "also bought"): popularity plus w * log(1 +
   the training transitions from the history's items to the candidate), w chosen on validation.

A diagnostic, not a model: nothing is submitted.

    python bench/within_category_signal.py [--data data/world-default]
"""
from __future__ import annotations

import argparse
import itertools
import json
import re

import numpy as np

GRID = (0.0, 0.5, 1.0, 2.0, 4.0)
FEATURES = ("colour", "shape", "brand", "price")


def word_index(text, words) -> np.ndarray:
    """(n_items,) index of the word of `words` each item's text names, -1 for none."""
    out = np.full(len(text), -1)
    for k, w in enumerate(words):
        out[text.str.contains(rf"\b{re.escape(w)}\b").to_numpy()] = k
    return out


def generator_rates(world) -> dict:
    """Share of drawn items matching the user's latent taste, against a random item of the same domain (items
    are numbered domain by domain)."""
    from benchmark.data.world.sequences import components

    it, cat = world.interactions, world.catalogue
    domain = cat.domain[it.item]
    start, size = np.searchsorted(cat.domain, domain), np.bincount(cat.domain)[domain]
    other = start + (np.random.default_rng(0).random(len(it)) * size).astype(np.int64)
    chance = components(cat, world.users, it.pair, it.phase, other)
    return {name: {"drawn": round(float(it.components[name].mean()), 4), "random item": round(float(chance[name].mean()), 4)}
            for name in ("colour", "brand", "shape")}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/world-default")
    args = ap.parse_args(argv)

    from benchmark.data.dataset import PreparedDataset
    from benchmark.data.labels import default_labels_dir
    from benchmark.data.world.taxonomy import COLOURS
    from benchmark.data.world.text import SHAPE_WORDS
    from benchmark.eval.ceiling import embedded_world
    from benchmark.metrics import ranking
    from benchmark.metrics.bootstrap import paired_bootstrap
    from benchmark.tasks.base import histories
    from benchmark.tasks.search import TASK

    data = PreparedDataset(args.data, labels=default_labels_dir(args.data))  # valid/test answers: to score here
    world = embedded_world(data)  # refuses real data: it has no latent truth
    items = data.items
    text = (items["title"].fillna("") + " " + items["description"].fillna("")).str.lower()
    attr = {"colour": word_index(text, COLOURS), "shape": word_index(text, SHAPE_WORDS)}
    brand = items["brand"].fillna("").to_numpy()
    attr["brand"] = np.where(brand == "", -1, np.unique(brand, return_inverse=True)[1])
    log_price = np.log(items["price"].to_numpy(float))
    counts = np.bincount(data.interactions("train")["item"].to_numpy(np.int64), minlength=data.n_items)
    log_pop = np.log1p(counts)
    report = {"generator": generator_rates(world),
              "items with the attribute in their text": {k: round(float((v >= 0).mean()), 4) for k, v in attr.items()}}

    def features(hist: list) -> np.ndarray:
        """(4, n, n_items) agreement of every item with each history (FEATURES order)."""
        out = np.zeros((len(FEATURES), len(hist), data.n_items))
        for r, h in enumerate(hist):
            h = np.asarray(h, dtype=np.int64)
            for f, name in enumerate(("colour", "shape")):
                a = attr[name][h]
                a = a[a >= 0]
                if len(a):
                    share = np.bincount(a, minlength=attr[name].max() + 1) / len(a)
                    out[f, r] = np.where(attr[name] >= 0, share[np.maximum(attr[name], 0)], 0.0)
            b = attr["brand"][h]
            out[2, r] = np.isin(attr["brand"], b[b >= 0]) & (attr["brand"] >= 0)
            p = log_price[h][np.isfinite(log_price[h])]
            if len(p):
                out[3, r] = np.where(np.isfinite(log_price), -np.minimum(np.abs(log_price - p.mean()), 2.0), 0.0)
        return out

    train = data.interactions("train").sort_values(["user", "timestamp"], kind="stable")
    same_user = train["user"].to_numpy()[1:] == train["user"].to_numpy()[:-1]
    item = train["item"].to_numpy(np.int64)
    transitions = np.zeros((data.n_items, data.n_items))
    np.add.at(transitions, (item[:-1][same_user], item[1:][same_user]), 1.0)

    hr, hr_seq = {}, {}
    for split in ("valid", "test"):
        inst = data.instances("search", split)
        hist, target = histories(inst), inst["target_item"].to_numpy(np.int64)
        if split == "valid":
            agree = {}
            for name, a in attr.items():
                known = a[a >= 0]
                shared, chance = [], []
                for h, t in zip(hist, target):
                    seen = a[np.asarray(h, dtype=np.int64)]
                    seen = seen[seen >= 0]
                    if a[t] >= 0 and len(seen):
                        shared.append(np.mean(seen == a[t]))
                        chance.append(np.mean(known == a[t]))
                agree[name] = {"history items sharing the target's": round(float(np.mean(shared)), 4),
                               "random item sharing it": round(float(np.mean(chance)), 4), "instances": len(shared)}
            report["visible agreement (valid)"] = agree
        allowed = TASK.candidates.mask(data, split, inst)
        feats = features(hist)
        hr[split] = {}
        for w in itertools.product(GRID, repeat=len(FEATURES)):
            top = ranking.topk_after_masking(log_pop[None] + np.tensordot(np.array(w), feats, 1), 5, hist, allowed)
            hr[split][w] = (top == target[:, None]).any(1)
        follows = np.log1p(np.stack([transitions[np.asarray(h, dtype=np.int64)].sum(0) for h in hist]))
        hr_seq[split] = {}
        for w in GRID:
            top = ranking.topk_after_masking(log_pop[None] + w * follows, 5, hist, allowed)
            hr_seq[split][w] = (top == target[:, None]).any(1)
    pop = (0.0,) * len(FEATURES)
    best = max(hr["valid"], key=lambda w: (hr["valid"][w].mean(), -sum(w)))  # ties: the smaller weights
    w_seq = max(GRID, key=lambda w: (hr_seq["valid"][w].mean(), -w))

    def row(hits: dict, **chosen) -> dict:
        """Valid and test HR@5 of a chosen read-out, and its paired bootstrap against popularity on test."""
        test = paired_bootstrap(hits["test"].astype(float), hr["test"][pop].astype(float))
        return {**chosen, "valid": round(float(hits["valid"].mean()), 4), "test": round(float(hits["test"].mean()), 4),
                "test minus popularity": {k: round(v, 4) for k, v in test.items()}}

    report["read-out, search HR@5 within the category"] = {
        "popularity": {split: round(float(hr[split][pop].mean()), 4) for split in ("valid", "test")},
        "popularity + history agreement, weights chosen on valid": row(
            {split: hr[split][best] for split in hr}, weights=dict(zip(FEATURES, best))),
        "popularity + transitions from the history, weight chosen on valid": row(
            {split: hr_seq[split][w_seq] for split in hr_seq}, weight=w_seq),
    }
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
