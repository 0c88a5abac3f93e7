"""The whole latent world in memory: catalogue, users and reviews (no files)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.data.world.catalogue import Catalogue, build_catalogue
from benchmark.data.world.config import BEHAVIOUR, Behaviour, Scale, get_scale
from benchmark.data.world.sequences import COMPONENTS, Interactions, build_interactions
from benchmark.data.world.users import Users, build_users


@dataclass
class World:
    scale: Scale
    behaviour: Behaviour
    seed: int
    catalogue: Catalogue
    users: Users
    interactions: Interactions
    baseline: dict  # mean of each match component over all reviews

    def signals(self, rows: np.ndarray) -> np.ndarray:
        """(n, 6) how much each attribute (COMPONENTS, then item quality) pushed these reviews'
        ratings up or down, relative to an average review; drives the review text."""
        it, w = self.interactions, self.behaviour.match_weights
        cols = [w[k] * (it.components[k][rows] - self.baseline[k]) for k in COMPONENTS]
        cols.append(self.catalogue.quality[it.item[rows]])
        return np.stack(cols, axis=1)

    def price_high(self, rows: np.ndarray) -> np.ndarray:
        """Whether the item is dearer than the reviewer likes (vs cheaper)."""
        it = self.interactions
        return self.catalogue.price_z[it.item[rows]] > self.users.price_pref[it.user[rows]]


def simulate(scale: str | Scale = "tiny", seed: int = 0, behaviour: Behaviour = BEHAVIOUR,
             catalogue: Catalogue | None = None) -> World:
    """Draw the world for `scale` and `seed`; deterministic. `catalogue`: this scale and seed's, when drawn
    already (`build_catalogue`)."""
    scale = get_scale(scale)
    cat = catalogue if catalogue is not None else build_catalogue(scale, behaviour, seed)
    users = build_users(scale, behaviour, cat, seed)
    inter = build_interactions(cat, users, behaviour, seed)
    baseline = {k: float(inter.components[k].mean()) for k in COMPONENTS}
    return World(scale, behaviour, seed, cat, users, inter, baseline)
