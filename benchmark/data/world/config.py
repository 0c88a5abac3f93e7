"""Scales of the generated world and the constants of its latent model (both recorded in world.json)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from benchmark.data.layout import ALL_DOMAINS

# Generator version: bump when the same (scale, seed) would give different files.
VERSION = 2  # 2: reviews and metadata gzipped at level 1 (same content, other bytes; prepared data unchanged)

# The Amazon 2014 5-core release per domain: (users, items, reviews). Used for the shape of the
# world: each domain's share of users and items, and its mean reviews per user.
DOMAIN_STATS_2014 = {
    "Baby": (19445, 7050, 160792),
    "Beauty": (22363, 12101, 198502),
    "Clothing_Shoes_and_Jewelry": (39387, 23033, 278677),
    "Grocery_and_Gourmet_Food": (14681, 8713, 151254),
    "Sports_and_Outdoors": (35598, 18357, 296337),
    "Toys_and_Games": (19412, 11924, 167597),
    "Office_Products": (4905, 2420, 53258),
}
assert tuple(DOMAIN_STATS_2014) == ALL_DOMAINS


@dataclass(frozen=True)
class Scale:
    name: str
    n_users: int               # distinct reviewer ids over the seven domains
    n_items: int               # items over the seven domains, split by the 2014 item shares ...
    min_items_per_domain: int  # ... with this floor per domain (small scales keep every domain usable)
    office_users: int          # users active in Office_Products (some also elsewhere)
    image_size: int            # rendered PNG side in pixels
    max_leaves: int = 12       # leaf categories used per domain (even: complements come in pairs)
    max_pair_len: int = 120    # cap on one user's reviews in one domain (also <= half its items)


SCALES = {
    # tests: ~1 s, every domain survives 5-core, >= 20 Office users
    "tiny": Scale("tiny", n_users=150, n_items=175, min_items_per_domain=25, office_users=40,
                  image_size=32, max_leaves=4),
    # the demo: ~30 k reviews, a CPU model trains on it in minutes
    "default": Scale("default", n_users=2500, n_items=2200, min_items_per_domain=250, office_users=300,
                     image_size=64),
    # the paper's Table 5 order of magnitude: ~1.6 M reviews, ~130 k users, ~85 k items
    "paper": Scale("paper", n_users=130_000, n_items=85_000, min_items_per_domain=0, office_users=6000,
                   image_size=32),
}


@dataclass(frozen=True)
class Behaviour:
    """The latent model's constants: how users pick items, rate and write."""

    multi_domain_share: float = 0.30    # training-domain users active in 2-3 training domains
    office_overlap: float = 0.30        # Office users who also review in training domains
    # next-item transition kinds: successor of the previous item ("also bought"), same leaf
    # category, complementary leaf, the user's taste over categories, anything in the domain
    transitions: dict = field(default_factory=lambda: {
        "successor": 0.20, "same_leaf": 0.30, "complement": 0.15, "taste": 0.27, "explore": 0.08})
    preferred_subtree_boost: float = 6.0  # weight of the user's preferred level-2 subtree vs others
    candidates: int = 8                 # items scored per pick (half by popularity, half uniform)
    choice_temperature: float = 1.5     # multiplies the match score when picking among candidates
    # latent match = sum of weight * component (components in [-1, 1] or {0, 1})
    match_weights: dict = field(default_factory=lambda: {
        "category": 0.8, "brand": 0.7, "price": 0.6, "colour": 1.2, "shape": 0.6})
    quality_sd: float = 0.35            # item quality (rating bonus, not part of the match)
    user_bias_sd: float = 0.30
    rating_noise_sd: float = 0.60
    rating_shares: tuple = (0.05, 0.06, 0.11, 0.20, 0.58)  # 1..5 stars, Amazon-like skew
    colour_drift: float = 0.45          # users whose favourite colour switches partway
    category_drift: float = 0.35        # (user, domain) pairs whose preferred subtree switches
    colour_hidden: float = 0.35         # items whose colour only the image tells
    shape_in_text: float = 0.50         # items whose description names the shape
    missing: dict = field(default_factory=lambda: {
        "image": 0.05, "title": 0.02, "brand": 0.12, "price": 0.15, "description": 0.12,
        "sales_rank": 0.08, "related": 0.05})
    duplicate_share: float = 0.005      # extra (user, item) reviews, later in time
    same_day_share: float = 0.05        # reviews forced onto the previous review's day
    min_item_users: int = 5             # every item gets at least this many users at generation
    image_noise_sd: float = 6.0


BEHAVIOUR = Behaviour()


def get_scale(scale: str | Scale) -> Scale:
    if isinstance(scale, Scale):
        return scale
    if scale not in SCALES:
        raise ValueError(f"unknown world scale {scale!r}; choose one of {sorted(SCALES)}")
    return SCALES[scale]


def items_per_domain(scale: Scale) -> dict[str, int]:
    """Items per domain: the floor plus the rest split by the 2014 item shares."""
    shares = {d: s[1] for d, s in DOMAIN_STATS_2014.items()}
    total = sum(shares.values())
    rest = max(scale.n_items - scale.min_items_per_domain * len(ALL_DOMAINS), 0)
    return {d: scale.min_items_per_domain + round(rest * shares[d] / total) for d in ALL_DOMAINS}


def mean_reviews_per_user(domain: str) -> float:
    users, _, reviews = DOMAIN_STATS_2014[domain]
    return reviews / users


def describe(scale: Scale, behaviour: Behaviour = BEHAVIOUR) -> dict:
    """JSON-ready parameters (for world.json and for the cache check)."""
    return {"version": VERSION, "scale": asdict(scale), "behaviour": asdict(behaviour)}
