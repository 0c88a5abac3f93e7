"""Items: category leaves, brands, prices, visual styles and successors, for all seven domains.

Items are stored sorted by (domain, leaf), so each leaf is a contiguous segment; leaves are
numbered globally, domain-major. Latent attributes (brand, price, colour, ...) exist for every
item; `has_*` flags say which ones the metadata file shows, as real metadata is incomplete.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.data.layout import ALL_DOMAINS
from benchmark.data.world import taxonomy as tx
from benchmark.data.world.config import Behaviour, Scale, items_per_domain
from benchmark.data.world.sampling import SegmentSampler, categorical_rows, exact_mask, stream, unique_codes

N_SUCCESSORS = 3
BRAND_PRICE_SD = 0.35   # log-price offset of a brand (cheap vs premium brands)
ITEM_PRICE_SD = 0.25    # log-price noise of one item around its leaf and brand level


@dataclass
class Catalogue:
    # leaves (global ids, domain-major)
    leaf_domain: np.ndarray      # (L,) domain index into ALL_DOMAINS
    leaf_path: list              # (L,) full category path, root first
    leaf_noun: list              # (L,) what a review calls one such item
    leaf_subtree: np.ndarray     # (L,) global id of the level-2 subtree ("Skin Care")
    leaf_complement: np.ndarray  # (L,) the complementary leaf in the same domain
    subtree_domain: np.ndarray   # (S,)
    domain_leaves: np.ndarray    # (7, 2) first leaf, number of leaves
    # brands (global ids)
    brand_name: np.ndarray       # (B,) object str
    brand_domain: np.ndarray
    # items, sorted by (domain, leaf)
    asin: np.ndarray             # (N,) object str
    domain: np.ndarray
    leaf: np.ndarray
    brand: np.ndarray
    colour: np.ndarray
    shape: np.ndarray
    pattern: np.ndarray
    price: np.ndarray            # dollars, latent (shown only where has_price)
    price_z: np.ndarray          # standardised price relative to its leaf's level
    popularity: np.ndarray
    quality: np.ndarray
    style: np.ndarray            # index into STYLE_WORDS
    variant: np.ndarray          # index into VARIANT_WORDS
    model_number: np.ndarray
    successors: np.ndarray       # (N, 3) items often bought next
    colour_shown: np.ndarray     # colour word in title and description
    shape_shown: np.ndarray      # shape word in description
    has: dict                    # field -> (N,) bool: image, title, brand, price, description, ...

    @property
    def n_items(self) -> int:
        return len(self.asin)

    def sampler(self) -> SegmentSampler:
        """Draws items inside a leaf, by popularity or uniformly."""
        return SegmentSampler(self.leaf, self.popularity, len(self.leaf_domain))


def _leaves(scale: Scale):
    """Global leaf tables for the leaves this scale uses (the first max_leaves of each tree)."""
    leaf_domain, paths, nouns, base_price, subtree, complement = [], [], [], [], [], []
    subtree_ids: dict[tuple[int, str], int] = {}
    domain_leaves = np.zeros((len(ALL_DOMAINS), 2), dtype=np.int64)
    for d, name in enumerate(ALL_DOMAINS):
        root, leaves = tx.TREES[name]
        leaves = leaves[: scale.max_leaves - scale.max_leaves % 2]
        first = len(paths)
        domain_leaves[d] = (first, len(leaves))
        for j, (path, noun, price) in enumerate(leaves):
            parts = [root] + path.split(" > ")
            key = (d, parts[1])
            subtree.append(subtree_ids.setdefault(key, len(subtree_ids)))
            leaf_domain.append(d)
            paths.append(parts)
            nouns.append(noun)
            base_price.append(price)
            complement.append(first + (j ^ 1))  # pairs (0,1), (2,3), ...
    subtree_domain = np.array([d for d, _ in subtree_ids], dtype=np.int64)
    return (np.array(leaf_domain), paths, nouns, np.array(base_price), np.array(subtree),
            np.array(complement), subtree_domain, domain_leaves)


def build_catalogue(scale: Scale, behaviour: Behaviour, seed: int) -> Catalogue:
    rng = stream(seed, "catalogue")
    (leaf_domain, paths, nouns, base_price, leaf_subtree, complement,
     subtree_domain, domain_leaves) = _leaves(scale)
    n_per_domain = items_per_domain(scale)

    brand_names, brand_domain, brand_pop, brand_price, brand_subtree = [], [], [], [], []
    item_leaf, item_brand = [], []
    combos = np.array([p + s for p in tx.BRAND_PREFIXES for s in tx.BRAND_SUFFIXES], dtype=object)
    for d, name in enumerate(ALL_DOMAINS):
        lo, nl = domain_leaves[d]
        n = n_per_domain[name]
        # items per leaf: at least one each, the rest by a random share (some leaves are bigger)
        counts = 1 + rng.multinomial(n - nl, rng.dirichlet(np.full(nl, 3.0)))
        leaf = np.repeat(np.arange(lo, lo + nl), counts)
        # brands of this domain: each specialises in one subtree and has a price level
        # (capped so that a user's favourite brands turn up among the items they see)
        nb = int(np.clip(round(n / 8), 4, 120))
        first_brand = len(brand_names)
        brand_names.extend(rng.choice(combos, size=nb, replace=False))
        brand_domain.extend([d] * nb)
        pop = rng.lognormal(0.0, 1.0, nb)
        brand_pop.extend(pop)
        brand_price.extend(rng.normal(0.0, BRAND_PRICE_SD, nb))
        subtrees = np.flatnonzero(subtree_domain == d)
        focus = rng.choice(subtrees, size=nb)
        brand_subtree.extend(focus)
        w = pop[None, :] * np.where(focus[None, :] == leaf_subtree[lo:lo + nl, None], 4.0, 1.0)
        item_brand.append(first_brand + categorical_rows(w, leaf - lo, rng))
        item_leaf.append(leaf)

    leaf = np.concatenate(item_leaf)
    brand = np.concatenate(item_brand)
    brand_price = np.array(brand_price)
    n = len(leaf)
    domain = leaf_domain[leaf]
    nleaf = len(leaf_domain)

    # visual style: each leaf has its own mix of colours, shapes and patterns
    colour = categorical_rows(rng.dirichlet(np.full(len(tx.COLOURS), 2.0), nleaf), leaf, rng)
    shape = categorical_rows(rng.dirichlet(np.full(len(tx.SHAPES), 3.0), nleaf), leaf, rng)
    pattern = categorical_rows(rng.dirichlet(np.full(len(tx.PATTERNS), 3.0), nleaf), leaf, rng)

    eps = rng.normal(0.0, ITEM_PRICE_SD, n)
    price = np.round(np.exp(np.log(base_price[leaf]) + brand_price[brand] + eps), 2)
    price = np.maximum(price, 0.99)
    price_z = (brand_price[brand] + eps) / np.hypot(BRAND_PRICE_SD, ITEM_PRICE_SD)

    quality = rng.normal(0.0, behaviour.quality_sd, n)
    # better-liked brands and better items sell more
    popularity = rng.lognormal(0.0, 0.8, n) * np.array(brand_pop)[brand] ** 0.3 * np.exp(quality)

    asin = unique_codes(n, "B00", 7, rng)
    has = {k: ~exact_mask(n, share, rng) for k, share in behaviour.missing.items()}
    colour_shown = ~exact_mask(n, behaviour.colour_hidden, rng)
    shape_shown = exact_mask(n, behaviour.shape_in_text, rng)

    cat = Catalogue(
        leaf_domain=leaf_domain, leaf_path=paths, leaf_noun=nouns, leaf_subtree=leaf_subtree,
        leaf_complement=complement, subtree_domain=subtree_domain, domain_leaves=domain_leaves,
        brand_name=np.array(brand_names, dtype=object), brand_domain=np.array(brand_domain),
        asin=asin, domain=domain, leaf=leaf, brand=brand, colour=colour, shape=shape, pattern=pattern,
        price=price, price_z=price_z, popularity=popularity, quality=quality,
        style=rng.integers(0, len(tx.STYLE_WORDS), n), variant=rng.integers(0, len(tx.VARIANT_WORDS), n),
        model_number=rng.integers(100, 1000, n), successors=np.zeros((n, N_SUCCESSORS), dtype=np.int64),
        colour_shown=colour_shown, shape_shown=shape_shown, has=has,
    )
    # successors ("also bought"): popular items of the same or the complementary leaf
    target = np.where(rng.random((n, N_SUCCESSORS)) < 0.5, leaf[:, None], complement[leaf][:, None])
    cat.successors = cat.sampler().weighted(target, rng)
    return cat
