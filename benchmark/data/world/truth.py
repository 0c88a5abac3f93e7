"""The latent truth summary recorded in world.json (for the data card): sizes, shares and how
strongly ratings, order and images carry signal."""
from __future__ import annotations

import numpy as np

from benchmark.data.layout import ALL_DOMAINS, NEW_DOMAIN
from benchmark.data.world.build import World
from benchmark.data.world.sequences import COMPONENTS, TRANSITIONS


def _r(x: float) -> float:
    return round(float(x), 4)


def truth_summary(world: World) -> dict:
    cat, users, it = world.catalogue, world.users, world.interactions
    office = ALL_DOMAINS.index(NEW_DOMAIN)
    domains = {}
    for d, name in enumerate(ALL_DOMAINS):
        items = cat.domain == d
        rows = it.domain == d
        domains[name] = {
            "users": int((users.pair_domain == d).sum()),
            "items": int(items.sum()),
            "reviews": int(rows.sum()),
            "duplicate_reviews": int((rows & it.duplicate).sum()),
            "rating_counts": np.bincount(it.rating[rows], minlength=6)[1:].tolist(),
            "items_without": {k: int((items & ~v).sum()) for k, v in sorted(cat.has.items())},
            "items_colour_only_in_image": int((items & ~cat.colour_shown).sum()),
            "leaves": int(cat.domain_leaves[d, 1]),
        }
    train_domains = np.bincount(users.pair_user[users.pair_domain != office], minlength=users.n_users)
    in_office = np.zeros(users.n_users, dtype=bool)
    in_office[users.pair_user[users.pair_domain == office]] = True
    first = it.transition >= 0
    colour_match = it.components["colour"] == 1
    return {
        "users": {
            "total": users.n_users,
            "multi_training_domain": int((train_domains >= 2).sum()),
            "office": int(in_office.sum()),
            "office_and_training": int((in_office & (train_domains > 0)).sum()),
            "colour_drift": int(users.colour_drift.sum()),
            "category_drift_pairs": int(users.category_drift.sum()),
        },
        "domains": domains,
        "reviews": len(it),
        "match_weights": dict(world.behaviour.match_weights),
        "match_baseline": {k: _r(v) for k, v in world.baseline.items()},
        "corr_rating_match": _r(np.corrcoef(it.match, it.rating)[0, 1]),
        "corr_rating_component": {k: _r(np.corrcoef(it.components[k], it.rating)[0, 1]) for k in COMPONENTS},
        "mean_rating_colour_match": [_r(it.rating[~colour_match].mean()), _r(it.rating[colour_match].mean())],
        "transition_shares": {k: _r((it.transition[first] == i).mean()) for i, k in enumerate(TRANSITIONS)},
        "rating_shares": _r_list(np.bincount(it.rating, minlength=6)[1:] / len(it)),
    }


def _r_list(values) -> list:
    return [_r(v) for v in values]
