"""How much of a rating can any model predict from what the rating prompt shows? Ceilings from the
world's latent truth, to read the rating results against.

A rating is the latent match (user taste vs item) + user bias + item quality + noise, cut into stars
(sequences._ratings). The paper's rating prompt (A.2) shows the history items and the target item, but
not the user's past ratings. So a model can at best (a) perceive the items' attributes perfectly and
infer the user's taste from the history items, (b) know each item's quality, which it must learn from
that item's training ratings. Each ceiling below predicts the median star of the held-out reviews
whose score falls in the same score bin (the MAE-optimal read-out of a 1-d score), the score being a
least-squares fit on the training pairs' reviews:

  perceived match    colour/shape/brand/leaf agreement of the target with the previous <= 5 items of
                     the same user and domain, and its price vs theirs (perfect perception of the prompt)
  + item mean        the same plus the item's (shrunk) mean star on the fit reviews: item quality as
                     well as it can be learned from the training ratings
  + quality          the same plus the item's true quality (the limit of that learning)
  latent match + quality, + user bias: the true latent parts (bias needs the user's past ratings)

    unimp-bench ceiling [--scale default] [--seed 0]
"""
from __future__ import annotations

import numpy as np

from benchmark.data.world.build import World, simulate

N_BINS = 50


def prompt_features(world: World, history: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(rows, features) for every review with at least one earlier review of the same user-domain pair:
    counts of the previous `history` items sharing the target's colour, shape, brand and leaf, the
    target's price_z minus theirs (signed and absolute), its own price_z and the history length."""
    it, cat = world.interactions, world.catalogue
    pair, item = it.pair, it.item
    n = len(item)
    same = [np.zeros(n) for _ in range(4)]
    price_sum, count = np.zeros(n), np.zeros(n)
    for lag in range(1, history + 1):  # rows are sorted by (pair, position): lag = positions back
        i = np.arange(lag, n)
        ok = (pair[i] == pair[i - lag]) & ~it.duplicate[i] & ~it.duplicate[i - lag]  # duplicates come last
        i, j = i[ok], i[ok] - lag
        t, h = item[i], item[j]
        for k, attr in enumerate((cat.colour, cat.shape, cat.brand, cat.leaf)):
            same[k][i] += attr[t] == attr[h]
        price_sum[i] += cat.price_z[h]
        count[i] += 1
    rows = np.flatnonzero((count > 0) & ~it.duplicate)
    diff = cat.price_z[item[rows]] - price_sum[rows] / count[rows]
    feats = np.column_stack([s[rows] for s in same] + [diff, np.abs(diff), cat.price_z[item[rows]], count[rows]])
    return rows, feats


def binned_median_mae(score_fit, y_fit, score_eval, y_eval, n_bins: int = N_BINS) -> float:
    """MAE on the eval rows of predicting, for each, the median star of the fit rows in its score bin
    (bins = quantiles of the fit scores)."""
    edges = np.quantile(score_fit, np.linspace(0, 1, n_bins + 1)[1:-1])
    b_fit, b_eval = np.searchsorted(edges, score_fit), np.searchsorted(edges, score_eval)
    medians = np.array([np.median(y_fit[b_fit == b]) if (b_fit == b).any() else 5.0 for b in range(n_bins)])
    return float(np.abs(medians[b_eval] - y_eval).mean())


def linear_score(x_fit, y_fit, x_eval) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of the stars on the features (with an intercept)."""
    a_fit = np.column_stack([x_fit, np.ones(len(x_fit))])
    coef, *_ = np.linalg.lstsq(a_fit, y_fit, rcond=None)
    return a_fit @ coef, np.column_stack([x_eval, np.ones(len(x_eval))]) @ coef


def item_means(item: np.ndarray, y: np.ndarray, fit: np.ndarray, n_items: int, shrink: float = 5.0) -> np.ndarray:
    """Per row, its item's mean star over the fit rows (leaving the row itself out), shrunk towards
    the global mean by `shrink` pseudo-reviews: item quality as a model can learn it from the reviews
    it trains on."""
    total = np.bincount(item[fit], y[fit], n_items)[item] - np.where(fit, y, 0.0)
    count = np.bincount(item[fit], minlength=n_items)[item] - fit
    return (total + shrink * y[fit].mean()) / (count + shrink)


def ceilings(world: World, seed: int = 0, holdout: float = 0.2) -> dict:
    """MAE on held-out user-domain pairs of: always 5, and the ceilings of the module docstring."""
    it, cat, users = world.interactions, world.catalogue, world.users
    rows, x = prompt_features(world)
    y = it.rating[rows].astype(np.float64)
    held_pairs = np.random.default_rng(seed).random(int(it.pair.max()) + 1) < holdout
    ev = held_pairs[it.pair[rows]]
    quality = cat.quality[it.item[rows]][:, None]
    learned = item_means(it.item[rows], y, ~ev, cat.n_items)[:, None]
    latent = it.match[rows] + cat.quality[it.item[rows]]
    out = {"n_fit": int((~ev).sum()), "n_eval": int(ev.sum()), "always_5": float(np.abs(5 - y[ev]).mean())}
    for name, feats in (("perceived_match", x), ("perceived_match+item_mean", np.hstack([x, learned])),
                        ("perceived_match+quality", np.hstack([x, quality])),
                        ("latent_match+quality", latent[:, None]),
                        ("latent_match+quality+bias", (latent + users.bias[it.user[rows]])[:, None])):
        s_fit, s_eval = linear_score(feats[~ev], y[~ev], feats[ev])
        out[name] = binned_median_mae(s_fit, y[~ev], s_eval, y[ev])
    return out


def report(scale: str = "default", seed: int = 0) -> str:
    """The ceilings of the world (`scale`, `seed`) as printed by `unimp-bench ceiling`."""
    res = ceilings(simulate(scale, seed), seed)
    lines = [f"rating MAE on {res['n_eval']:,} held-out reviews ({res['n_fit']:,} to fit), world {scale} seed {seed}"]
    lines += [f"  {k:<28} {v:.4f}  ({v - res['always_5']:+.4f} vs always 5)" for k, v in res.items() if not k.startswith("n_")]
    return "\n".join(lines)
