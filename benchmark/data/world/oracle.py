"""The next-item distribution the world's generator draws from (sequences._draw_sequences): the
ranking oracle behind `unimp-bench ceiling --data` (benchmark/eval/ceiling.py).

At a pair's position t > 0 the generator draws a transition kind, then either the previous item's
successor (one of its N_SUCCESSORS, uniformly) or a leaf (the previous item's, its complement, one of
the pair's taste distribution in its current phase, or any leaf of the domain), and in that leaf picks
the best of `candidates` sampled items (half by popularity, half uniformly, the previous item
forbidden) by match * temperature + Gumbel noise. The pick's probability has no closed form over the
sampled candidate multiset, but one integral gives it exactly: with e_j = exp(temperature * match_j),
candidate slots k drawn independently from q_k, and 1/x = integral of exp(-s x) ds,

    P(i) = e_i * integral_0^inf exp(-s e_i) sum_k q_k(i) prod_{m != k} phi_m(s) ds,
    phi_m(s) = sum_j q_m(j) exp(-s e_j),

computed here on a log-spaced grid of s (each leaf's probabilities sum to 1 within 1e-6; tested against the generator itself).
Not modelled: what happens after the draw (a repeated (pair, item) is redrawn, items below
`min_item_users` reviews take reviews from others); on the default world these change 6.9% of the rows.
"""
from __future__ import annotations

import numpy as np

from benchmark.data.world.build import World
from benchmark.data.world.sequences import (
    COMPLEMENT,
    EXPLORE,
    SAME_LEAF,
    SUCCESSOR,
    TASTE,
    TRANSITIONS,
    _taste_cdf,
    components,
    match_score,
)

GRID = np.exp(np.linspace(np.log(1e-7), np.log(1e8), 400))  # s; e_j lies in (1e-5, 1]: both tails covered
CHUNK = 16  # rows at a time (memory: a few arrays of CHUNK * len(GRID) * items of a domain floats)


def _trapezoid_weights(grid: np.ndarray) -> np.ndarray:
    """Weights w with sum(w * f(grid)) ~ integral f(s) ds, trapezoid in x = log s (ds = s dx)."""
    dx = np.diff(np.log(grid))
    w = np.zeros(len(grid))
    w[:-1] += dx / 2
    w[1:] += dx / 2
    return w * grid


def pick_probabilities(world: World, pair: np.ndarray, phase: np.ndarray, forbid: np.ndarray,
                       domain: int) -> np.ndarray:
    """(n, items of `domain`) probability that the in-leaf pick returns each item of the domain, given
    that the leaf is that item's leaf: each row sums to 1 over every leaf's items. `forbid`: (n,) the
    item (global id) the pick may not return, -1 for none."""
    cat, b = world.catalogue, world.behaviour
    items = np.flatnonzero(cat.domain == domain)  # contiguous, sorted by leaf
    leaf = cat.leaf[items]
    starts = np.flatnonzero(np.r_[True, leaf[1:] != leaf[:-1]])
    local_leaf = np.cumsum(np.r_[False, leaf[1:] != leaf[:-1]])
    size = np.diff(np.r_[starts, len(items)])
    pop = cat.popularity[items]
    q_pop = pop / np.add.reduceat(pop, starts)[local_leaf]
    q_uni = 1.0 / size[local_leaf]
    n_pop = b.candidates // 2  # as _Picker.candidates: half by popularity, the rest uniform
    n_uni = b.candidates - n_pop
    weights = _trapezoid_weights(GRID)
    out = np.zeros((len(pair), len(items)))
    for lo in range(0, len(pair), CHUNK):
        sl = slice(lo, lo + CHUNK)
        comp = components(cat, world.users, pair[sl, None], phase[sl, None], items[None, :])
        s = b.choice_temperature * match_score(comp, b)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        e = np.where(items[None, :] == forbid[sl, None], 0.0, e)
        ex = np.exp(-GRID[None, :, None] * e[:, None, :])                      # (n, S, items)
        phi_pop = np.add.reduceat(ex * q_pop, starts, axis=2)[:, :, local_leaf]
        phi_uni = np.add.reduceat(ex * q_uni, starts, axis=2)[:, :, local_leaf]
        # sum over slots k of q_k(i) * prod_{m != k} phi_m: n_pop slots of one law, n_uni of the other
        rest = (n_pop * q_pop * phi_pop ** (n_pop - 1) * phi_uni ** n_uni
                + n_uni * q_uni * phi_pop ** n_pop * phi_uni ** (n_uni - 1))
        out[sl] = e * np.einsum("nsi,s->ni", ex * rest, weights)
    return out


def next_item_probabilities(world: World, rows: np.ndarray) -> np.ndarray:
    """(len(rows), n_items) probability of each item being drawn at the world's review rows `rows`
    (non-duplicate rows), given what the generator knew before that draw: the pair (user and domain
    tastes), its phase at that time and the pair's previous item. The rows' own items are never read."""
    it, cat, users, b = world.interactions, world.catalogue, world.users, world.behaviour
    rows = np.asarray(rows, dtype=np.int64)
    if np.any(it.duplicate[rows]):
        raise ValueError("duplicate rows are copies of earlier reviews, not draws")
    pair, phase, pos = it.pair[rows], it.phase[rows], it.position[rows]
    first = pos == 0
    prev = np.where(first, -1, it.item[np.maximum(rows - 1, 0)])  # rows are sorted by (pair, position)
    if np.any(~first & ((it.pair[rows - 1] != pair) | (it.position[rows - 1] != pos - 1))):
        raise ValueError("interaction rows are not sorted by (pair, position)")
    kind = np.array([b.transitions[k] for k in TRANSITIONS])
    taste = np.diff(_taste_cdf(cat, users, b), prepend=0.0, axis=-1)  # (P, 2, Lmax) leaf shares
    out = np.zeros((len(rows), cat.n_items))
    for d in np.unique(users.pair_domain[pair]):
        sel = np.flatnonzero(users.pair_domain[pair] == d)
        items = np.flatnonzero(cat.domain == d)
        first_leaf, n_leaves = cat.domain_leaves[d]
        local_leaf = cat.leaf[items] - first_leaf
        pick = pick_probabilities(world, pair[sel], phase[sel], prev[sel], d)
        # leaf shares of each kind; a pair's first review is always a taste draw
        leaf_w = kind[TASTE] * taste[pair[sel], phase[sel], :n_leaves] + kind[EXPLORE] / n_leaves
        has_prev = ~first[sel]
        prev_leaf = cat.leaf[prev[sel][has_prev]] - first_leaf
        comp_leaf = cat.leaf_complement[cat.leaf[prev[sel][has_prev]]] - first_leaf
        leaf_w[~has_prev] = taste[pair[sel][~has_prev], phase[sel][~has_prev], :n_leaves]
        idx = np.flatnonzero(has_prev)
        np.add.at(leaf_w, (idx, prev_leaf), kind[SAME_LEAF])
        np.add.at(leaf_w, (idx, comp_leaf), kind[COMPLEMENT])
        out[np.ix_(sel, items)] = leaf_w[:, local_leaf] * pick
        succ = cat.successors[prev[sel][has_prev]]  # (m, N_SUCCESSORS), drawn uniformly
        for k in range(succ.shape[1]):
            np.add.at(out, (sel[idx], succ[:, k]), kind[SUCCESSOR] / succ.shape[1])
    return out
