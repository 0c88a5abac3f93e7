"""Users: reviewer ids, which domains they review in, and their latent tastes.

Tastes that hold across domains (favourite colour and shape, price band) make merging a user's
domains by reviewer id worth it; tastes per (user, domain) pair (preferred category subtree,
favourite brands) are local. Drift: a share of users switch favourite colour at `drift_time`
(a fraction of their active period), a share of pairs switch preferred subtree then.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from benchmark.data.layout import ALL_DOMAINS, NEW_DOMAIN
from benchmark.data.world import taxonomy as tx
from benchmark.data.world.catalogue import Catalogue
from benchmark.data.world.config import DOMAIN_STATS_2014, Behaviour, Scale, mean_reviews_per_user
from benchmark.data.world.sampling import categorical, stream, unique_codes

EPOCH = dt.date(1970, 1, 1)
FIRST_DAY = (dt.date(2003, 1, 1) - EPOCH).days
LAST_DAY = (dt.date(2014, 7, 23) - EPOCH).days  # the 2014 release's last review day
N_FAV_BRANDS = 3
OFFICE = ALL_DOMAINS.index(NEW_DOMAIN)


@dataclass
class Users:
    reviewer_id: np.ndarray      # (U,) object str
    name: np.ndarray             # (U,) object str or None (no reviewerName key)
    fav_colour: np.ndarray       # (U, 2) before / after the drift time
    fav_shape: np.ndarray        # (U,)
    price_pref: np.ndarray       # (U,) preferred price_z
    bias: np.ndarray             # (U,) rating generosity
    drift_time: np.ndarray       # (U,) in (0, 1): where in the active period tastes switch
    colour_drift: np.ndarray     # (U,) bool
    start_day: np.ndarray        # (U,) days since 1970-01-01
    span_days: np.ndarray        # (U,)
    # (user, domain) pairs, sorted by user then domain
    pair_user: np.ndarray
    pair_domain: np.ndarray
    pair_len: np.ndarray         # reviews of the user in the domain (>= 5)
    pair_subtree: np.ndarray     # (P, 2) preferred level-2 subtree before / after the drift time
    pair_brands: np.ndarray      # (P, 3) favourite brands
    category_drift: np.ndarray   # (P,) bool

    @property
    def n_users(self) -> int:
        return len(self.reviewer_id)


def _memberships(scale: Scale, behaviour: Behaviour, rng: np.random.Generator):
    """(pair_user, pair_domain) for every active pair."""
    n_train_domains = len(ALL_DOMAINS) - 1
    office_only = int(round(scale.office_users * (1 - behaviour.office_overlap)))
    n_train = scale.n_users - office_only
    if n_train <= 0:
        raise ValueError(f"scale {scale.name}: office_users too large for n_users")
    weights = np.array([DOMAIN_STATS_2014[d][0] for d in ALL_DOMAINS if d != NEW_DOMAIN], float)
    # Gumbel top-k: a weighted sample without replacement of 1 domain, or 2-3 for multi-domain users
    keys = np.log(weights)[None, :] + rng.gumbel(size=(n_train, n_train_domains))
    order = np.argsort(-keys, axis=1)
    k = np.ones(n_train, dtype=np.int64)
    multi = rng.random(n_train) < behaviour.multi_domain_share
    k[multi] = 2 + (rng.random(int(multi.sum())) < 0.5)
    take = np.arange(n_train_domains)[None, :] < k[:, None]
    train_user = np.repeat(np.arange(n_train), k)
    train_dom = order[take]
    train_dom = np.where(train_dom >= OFFICE, train_dom + 1, train_dom)  # skip Office's index
    # Office: its own users, plus some training-domain users (same reviewer id)
    overlap = rng.choice(n_train, size=scale.office_users - office_only, replace=False)
    office_user = np.concatenate([overlap, np.arange(n_train, scale.n_users)])
    user = np.concatenate([train_user, office_user])
    dom = np.concatenate([train_dom, np.full(len(office_user), OFFICE)])
    order = np.lexsort((dom, user))
    return user[order], dom[order]


def build_users(scale: Scale, behaviour: Behaviour, cat: Catalogue, seed: int) -> Users:
    rng = stream(seed, "users")
    n = scale.n_users
    pair_user, pair_domain = _memberships(scale, behaviour, rng)
    n_pairs = len(pair_user)

    # reviews per pair: 5 + geometric, with each domain's 2014 mean, capped by its catalogue size
    mean_extra = np.array([mean_reviews_per_user(d) - 5 for d in ALL_DOMAINS])[pair_domain]
    extra = rng.geometric(1.0 / (1.0 + mean_extra)) - 1
    domain_items = np.bincount(cat.domain, minlength=len(ALL_DOMAINS))[pair_domain]
    cap = np.minimum(scale.max_pair_len, domain_items // 2) - 5
    pair_len = 5 + np.minimum(extra, np.maximum(cap, 0))

    n_colours = len(tx.COLOURS)
    colour_pop = np.array([1.3, 0.8, 0.7, 1.0, 1.4, 0.9, 1.1, 1.2])
    first = rng.choice(n_colours, size=n, p=colour_pop / colour_pop.sum())
    colour_drift = rng.random(n) < behaviour.colour_drift
    second = (first + rng.integers(1, n_colours, n)) % n_colours  # a different colour
    fav_colour = np.stack([first, np.where(colour_drift, second, first)], axis=1)

    # preferred subtree per pair, among the subtrees of its domain (weighted by their leaf count)
    # (subtree ids are contiguous per domain, so each pair picks a local index among its domain's)
    subtree_leaves = np.bincount(cat.leaf_subtree, minlength=len(cat.subtree_domain)).astype(float)
    first_sub = np.searchsorted(cat.subtree_domain, np.arange(len(ALL_DOMAINS)))
    n_sub = np.bincount(cat.subtree_domain, minlength=len(ALL_DOMAINS))
    j = np.arange(n_sub.max())[None, :]
    local = np.minimum(first_sub[pair_domain][:, None] + j, len(subtree_leaves) - 1)
    w = np.where(j < n_sub[pair_domain][:, None], subtree_leaves[local], 0.0)
    before = categorical(w, rng)
    w_after = w.copy()
    w_after[np.arange(n_pairs), before] = 0.0
    w_after += (w_after.sum(1, keepdims=True) == 0) * w  # a one-subtree domain keeps its subtree
    after = categorical(w_after, rng)
    before, after = local[np.arange(n_pairs), before], local[np.arange(n_pairs), after]
    category_drift = rng.random(n_pairs) < behaviour.category_drift
    pair_subtree = np.stack([before, np.where(category_drift, after, before)], axis=1)

    # favourite brands per pair, drawn by brand size within the domain
    brand_items = np.bincount(cat.brand, minlength=len(cat.brand_name)).astype(float)
    pair_brands = np.empty((n_pairs, N_FAV_BRANDS), dtype=np.int64)
    for d in range(len(ALL_DOMAINS)):
        rows = np.flatnonzero(pair_domain == d)
        ids = np.flatnonzero(cat.brand_domain == d)
        p = brand_items[ids] + 0.5
        pair_brands[rows] = rng.choice(ids, size=(len(rows), N_FAV_BRANDS), p=p / p.sum())

    # active period: later starts are more likely (the site grew); spans of months to years
    span = np.clip(rng.lognormal(np.log(420), 0.8, n), 30, 3000).astype(np.int64)
    span = np.minimum(span, LAST_DAY - FIRST_DAY - 1)
    start = FIRST_DAY + (np.cbrt(rng.random(n)) * (LAST_DAY - FIRST_DAY - span)).astype(np.int64)

    names = _names(n, rng)
    return Users(
        reviewer_id=unique_codes(n, "A", 12, rng), name=names,
        fav_colour=fav_colour, fav_shape=rng.integers(0, len(tx.SHAPES), n),
        price_pref=rng.normal(0.0, 0.8, n), bias=rng.normal(0.0, behaviour.user_bias_sd, n),
        drift_time=rng.uniform(0.35, 0.7, n), colour_drift=colour_drift,
        start_day=start, span_days=span,
        pair_user=pair_user, pair_domain=pair_domain, pair_len=pair_len,
        pair_subtree=pair_subtree, pair_brands=pair_brands, category_drift=category_drift,
    )


def _names(n: int, rng: np.random.Generator) -> np.ndarray:
    """reviewerName: first name, first + last, first + initial, 'Amazon Customer' or absent."""
    first = np.array(tx.FIRST_NAMES, dtype=object)[rng.integers(0, len(tx.FIRST_NAMES), n)]
    last = np.array(tx.LAST_NAMES, dtype=object)[rng.integers(0, len(tx.LAST_NAMES), n)]
    kind = rng.choice(5, size=n, p=[0.35, 0.3, 0.2, 0.1, 0.05])
    names = np.where(kind == 0, first, first + " " + last)
    names = np.where(kind == 2, first + " " + np.array([s[0] + "." for s in last], dtype=object), names)
    names = np.where(kind == 3, "Amazon Customer", names)
    names[kind == 4] = None
    return names
