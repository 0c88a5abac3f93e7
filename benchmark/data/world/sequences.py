"""Review sequences: who reviews what, when, and how many stars.

Per (user, domain) pair the items are drawn position by position, all pairs at once:
the next item is a successor of the previous one, or comes from the previous item's leaf, its
complementary leaf, the user's (drifting) category taste, or anywhere in the domain; inside the
chosen leaf, candidates are scored by the latent match (brand, price, colour, shape) and one is
picked. So sequence order carries signal, and so do image-only attributes (colour for the items
whose text hides it). Ratings are the match plus user bias, item quality and noise, cut into
1-5 stars at quantiles that give Amazon's skew towards 4-5.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.data.world.catalogue import Catalogue
from benchmark.data.world.config import Behaviour
from benchmark.data.world.sampling import contains, first_occurrence, stream
from benchmark.data.world.users import LAST_DAY, Users

TRANSITIONS = ("successor", "same_leaf", "complement", "taste", "explore")
SUCCESSOR, SAME_LEAF, COMPLEMENT, TASTE, EXPLORE = range(len(TRANSITIONS))
FIRST = -1  # transition kind of a pair's first review
COMPONENTS = ("category", "brand", "price", "colour", "shape")


@dataclass
class Interactions:
    """One row per review, sorted by (pair, position); injected duplicates are appended last."""

    pair: np.ndarray
    user: np.ndarray
    domain: np.ndarray
    item: np.ndarray
    position: np.ndarray
    day: np.ndarray              # days since 1970-01-01 (unixReviewTime = day * 86400)
    phase: np.ndarray            # 0 before the user's drift time, 1 after
    transition: np.ndarray       # index into TRANSITIONS, FIRST for a pair's first review
    components: dict             # COMPONENTS -> (N,) float
    match: np.ndarray
    rating: np.ndarray           # int 1..5
    duplicate: np.ndarray        # bool: a repeated (user, item) review

    def __len__(self) -> int:
        return len(self.item)


def components(cat: Catalogue, users: Users, pair, phase, item) -> dict[str, np.ndarray]:
    """Match components of items for pairs (broadcasting: pair/phase (n,1) with item (n,k) works)."""
    user = users.pair_user[pair]
    return {
        "category": (cat.leaf_subtree[cat.leaf[item]] == users.pair_subtree[pair, phase]).astype(float),
        # pair_brands[pair] is (..., 3): compare every item with the pair's three favourites
        "brand": (cat.brand[item][..., None] == users.pair_brands[pair]).any(-1).astype(float),
        "price": 1.0 - np.minimum(np.abs(cat.price_z[item] - users.price_pref[user]), 2.0),
        "colour": (cat.colour[item] == users.fav_colour[user, phase]).astype(float),
        "shape": (cat.shape[item] == users.fav_shape[user]).astype(float),
    }


def match_score(comp: dict[str, np.ndarray], behaviour: Behaviour) -> np.ndarray:
    return sum(behaviour.match_weights[k] * comp[k] for k in COMPONENTS)


class _Picker:
    """Scores candidate items for pairs and picks one (Gumbel-max over match * temperature)."""

    def __init__(self, cat: Catalogue, users: Users, behaviour: Behaviour, rng: np.random.Generator):
        self.cat, self.users, self.b, self.rng = cat, users, behaviour, rng
        self.sampler = cat.sampler()
        self.domain_first_leaf, self.domain_n_leaves = cat.domain_leaves[:, 0], cat.domain_leaves[:, 1]

    def candidates(self, leaf: np.ndarray) -> np.ndarray:
        k = self.b.candidates
        seg = np.repeat(leaf[:, None], k, axis=1)
        half = k // 2  # half by popularity, half uniform: popular items sell more, all items sell
        return np.concatenate([self.sampler.weighted(seg[:, :half], self.rng),
                               self.sampler.uniform(seg[:, half:], self.rng)], axis=1)

    def pick(self, pair, phase, cand, forbid=None) -> tuple[np.ndarray, np.ndarray]:
        """The picked item per row and its column in `cand`."""
        comp = components(self.cat, self.users, pair[:, None], phase[:, None], cand)
        score = self.b.choice_temperature * match_score(comp, self.b) + self.rng.gumbel(size=cand.shape)
        if forbid is not None:
            score = np.where(forbid, -np.inf, score)
        col = np.argmax(score, axis=1)
        return cand[np.arange(len(cand)), col], col

    def random_leaf(self, domain: np.ndarray) -> np.ndarray:
        return self.domain_first_leaf[domain] + (
            self.rng.random(len(domain)) * self.domain_n_leaves[domain]).astype(np.int64)


def _taste_cdf(cat: Catalogue, users: Users, behaviour: Behaviour) -> np.ndarray:
    """(P, 2, Lmax) cumulative leaf distribution of each pair before/after its drift."""
    lmax = int(cat.domain_leaves[:, 1].max())
    first = cat.domain_leaves[users.pair_domain, 0]
    n_leaves = cat.domain_leaves[users.pair_domain, 1]
    j = np.arange(lmax)[None, :]
    leaf = np.minimum(first[:, None] + j, len(cat.leaf_domain) - 1)          # (P, Lmax)
    valid = j < n_leaves[:, None]
    size = np.bincount(cat.leaf, minlength=len(cat.leaf_domain)).astype(float)
    w = np.where(valid, size[leaf], 0.0)[:, None, :]                          # (P, 1, Lmax)
    boost = cat.leaf_subtree[leaf][:, None, :] == users.pair_subtree[:, :, None]  # (P, 2, Lmax)
    w = w * np.where(boost, behaviour.preferred_subtree_boost, 1.0)
    cum = np.cumsum(w, axis=-1)
    return cum / cum[..., -1:]


def _draw_sequences(cat, users, behaviour, rng):
    """Items, phases and transition kinds for every (pair, position)."""
    lens = users.pair_len
    n = int(lens.sum())
    start = np.concatenate([[0], np.cumsum(lens)[:-1]])
    pair = np.repeat(np.arange(len(lens)), lens)
    position = np.arange(n) - start[pair]
    # relative time in the user's active period, increasing along each pair's sequence
    rel = np.sort(pair + rng.random(n)) - pair
    phase = (rel > users.drift_time[users.pair_user[pair]]).astype(np.int64)

    taste = _taste_cdf(cat, users, behaviour)
    picker = _Picker(cat, users, behaviour, rng)
    probs = np.array([behaviour.transitions[k] for k in TRANSITIONS])
    item = np.full(n, -1, dtype=np.int64)
    kind = np.full(n, FIRST, dtype=np.int64)
    by_len = np.argsort(-lens, kind="stable")
    sorted_lens = lens[by_len]
    for t in range(int(lens.max())):
        alive = by_len[: np.searchsorted(-sorted_lens, -t, side="left")]  # pairs with len > t
        idx = start[alive] + t
        ph = phase[idx]
        k = (np.full(len(alive), TASTE) if t == 0
             else rng.choice(len(probs), size=len(alive), p=probs))
        kind[idx] = k if t > 0 else FIRST
        prev = item[idx - 1] if t > 0 else np.zeros(len(alive), dtype=np.int64)
        prev_leaf = cat.leaf[prev]
        u = rng.random(len(alive))
        taste_leaf = cat.domain_leaves[users.pair_domain[alive], 0] + (
            taste[alive, ph] <= u[:, None]).sum(1).clip(max=taste.shape[-1] - 1)
        leaf = np.select(
            [k == SAME_LEAF, k == COMPLEMENT, k == EXPLORE],
            [prev_leaf, cat.leaf_complement[prev_leaf], picker.random_leaf(users.pair_domain[alive])],
            taste_leaf)
        cand = picker.candidates(leaf)
        chosen, _ = picker.pick(alive, ph, cand, forbid=(cand == prev[:, None]) if t > 0 else None)
        succ = cat.successors[prev, rng.integers(0, cat.successors.shape[1], len(alive))]
        item[idx] = np.where(k == SUCCESSOR, succ, chosen)
    return pair, position, rel, phase, item, kind, picker


def _repair_duplicates(pair, phase, item, picker, n_items, rounds: int = 60) -> None:
    """Replace repeated (pair, item) picks, in place: first inside the same leaf, then anywhere in
    the domain. Pairs never hold more than half their domain's items, so this ends quickly."""
    cat = picker.cat
    key = pair * n_items + item
    taken_keys = np.sort(key)  # sorted once; a repeat's old key stays held by its first row
    rows = np.flatnonzero(~first_occurrence(key))  # later repeats of a (pair, item)
    added = np.empty(0, dtype=np.int64)
    for r in range(rounds):
        if not len(rows):
            return
        leaf = cat.leaf[item[rows]] if r < 3 else picker.random_leaf(cat.domain[item[rows]])
        cand_key = pair[rows, None] * n_items + picker.candidates(leaf)
        taken = contains(taken_keys, cand_key) | contains(added, cand_key)
        new, col = picker.pick(pair[rows], phase[rows], cand_key % n_items, forbid=taken)
        new_key = pair[rows] * n_items + new
        ok = ~taken[np.arange(len(rows)), col]
        ok &= first_occurrence(np.where(ok, new_key, -1 - np.arange(len(rows))))  # one per pair
        item[rows[ok]] = new[ok]
        added = np.sort(np.concatenate([added, new_key[ok]]))
        rows = rows[~ok]
    raise RuntimeError("could not remove repeated (user, item) picks")


def _cover_items(pair, item, cat: Catalogue, min_users: int, rng, rounds: int = 30) -> None:
    """Give every item at least `min_users` reviews, in place, by moving reviews from items that
    have more than enough, preferring the same leaf (then the same domain). Never creates a
    repeated (pair, item) and never takes an item below `min_users`."""
    n_items = cat.n_items
    held = np.sort(pair * n_items + item)  # keys moved away stay listed: conservative, still safe
    added = np.empty(0, dtype=np.int64)
    for r in range(rounds):
        count = np.bincount(item, minlength=n_items)
        need = np.maximum(min_users - count, 0)
        if not need.any():
            return
        slots = np.repeat(np.arange(n_items), need)
        # donors: a random sample of reviews of items above the minimum; per item at most
        # count - min_users of them, so no donor item falls below the minimum
        eligible = np.flatnonzero(count[item] > min_users)
        donor = rng.choice(eligible, size=min(len(eligible), 8 * len(slots) + 1000), replace=False)
        donor = donor[np.lexsort((rng.random(len(donor)), item[donor]))]
        d_item = item[donor]
        rank = np.arange(len(donor)) - np.searchsorted(d_item, d_item, side="left")
        donor = donor[rank < count[d_item] - min_users]
        # match slots to donors of the same group (leaf, later domain), in random order
        group = cat.leaf if r < rounds // 2 else cat.domain
        donor = donor[np.lexsort((rng.random(len(donor)), group[item[donor]]))]
        donor_group = group[item[donor]]
        slots = slots[np.argsort(group[slots], kind="stable")]
        slot_group = group[slots]
        slot_rank = np.arange(len(slots)) - np.searchsorted(slot_group, slot_group, side="left")
        first = np.searchsorted(donor_group, slot_group, side="left")
        ok = slot_rank < np.searchsorted(donor_group, slot_group, side="right") - first
        rows, new = donor[first[ok] + slot_rank[ok]], slots[ok]
        new_key = pair[rows] * n_items + new
        # not already held by the pair, and not two slots of one item given to one pair
        fine = ~contains(held, new_key) & ~contains(added, new_key) & first_occurrence(new_key)
        item[rows[fine]] = new[fine]
        added = np.sort(np.concatenate([added, new_key[fine]]))
    # leftover deficits (tiny catalogues): the pipeline's own 5-core filter handles them


def _days(users: Users, pair, rel, behaviour, rng) -> np.ndarray:
    user = users.pair_user[pair]
    day = users.start_day[user] + np.floor(rel * users.span_days[user]).astype(np.int64)
    # some reviews share the previous review's day (same pair): ties real data has too
    tie = np.flatnonzero((rng.random(len(day)) < behaviour.same_day_share)[1:] & (pair[1:] == pair[:-1])) + 1
    for _ in range(3):  # a run of ties copies along the run
        day[tie] = day[tie - 1]
    return np.minimum(day, LAST_DAY)


def _ratings(cat, users, behaviour, user, item, match, rng) -> np.ndarray:
    latent = (match + users.bias[user] + cat.quality[item]
              + rng.normal(0.0, behaviour.rating_noise_sd, len(item)))
    cuts = np.quantile(latent, np.cumsum(behaviour.rating_shares)[:-1])
    return 1 + np.searchsorted(cuts, latent, side="right")


def build_interactions(cat: Catalogue, users: Users, behaviour: Behaviour, seed: int) -> Interactions:
    rng = stream(seed, "sequences")
    pair, position, rel, phase, item, kind, picker = _draw_sequences(cat, users, behaviour, rng)
    _repair_duplicates(pair, phase, item, picker, cat.n_items)
    _cover_items(pair, item, cat, behaviour.min_item_users, rng)
    day = _days(users, pair, rel, behaviour, rng)

    # a few repeated (user, item) reviews, later in time, as the real files have
    n_dup = int(round(behaviour.duplicate_share * len(item)))
    extra = np.sort(rng.choice(len(item), size=n_dup, replace=False))
    dup_day = np.minimum(day[extra] + rng.integers(1, 120, n_dup), LAST_DAY)
    rows = np.concatenate([np.arange(len(item)), extra])
    day = np.concatenate([day, dup_day])
    duplicate = np.concatenate([np.zeros(len(item), dtype=bool), np.ones(n_dup, dtype=bool)])
    pair, position, phase, item, kind = (a[rows] for a in (pair, position, phase, item, kind))

    comp = components(cat, users, pair, phase, item)
    match = match_score(comp, behaviour)
    user = users.pair_user[pair]
    rating = _ratings(cat, users, behaviour, user, item, match, stream(seed, "ratings"))
    return Interactions(pair=pair, user=user, domain=users.pair_domain[pair], item=item,
                        position=position, day=day, phase=phase, transition=kind, components=comp,
                        match=match, rating=rating, duplicate=duplicate)
