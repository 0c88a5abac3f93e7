"""The two training regimes and their splits: the one place that says which split trains, which
selects and which are evaluated (protocol section 2).

    main:       train on `train`, select on `valid`; evaluated on `test` and `new_user`.
    new_domain: train (or adapt) on `new_domain_train`, select on `new_domain_valid`; evaluated on
                `new_domain` (Office_Products' test split).
"""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.data.layout import NEW_DOMAIN


@dataclass(frozen=True)
class Regime:
    name: str
    train: str                       # the interaction / instance split a model trains on
    valid: str                       # the split a model selects on (never test)
    eval_splits: tuple[str, ...]     # the instance splits evaluated after fitting on this regime
    test_interactions: str           # the interaction file of its leave-last-out test part

    @property
    def splits(self) -> tuple[str, ...]:
        return (self.train, self.valid, *self.eval_splits)


MAIN_REGIME = Regime("main", "train", "valid", ("test", "new_user"), "test")
NEW_DOMAIN_REGIME = Regime("new_domain", "new_domain_train", "new_domain_valid", ("new_domain",), "new_domain_test")
REGIMES: dict[str, Regime] = {r.name: r for r in (MAIN_REGIME, NEW_DOMAIN_REGIME)}
EVAL_SPLITS = tuple(s for r in REGIMES.values() for s in r.eval_splits)
# The scored splits' answers are sealed in the labels folder (benchmark.data.labels): the answer columns of
# their task instances, and these interaction files, which hold the scored interactions themselves
# (`new_user` holds every interaction of the held-out users, their last one being what is scored).
SEALED_INTERACTIONS = (*(r.test_interactions for r in REGIMES.values()), "new_user")
_BY_SPLIT = {s: r for r in REGIMES.values() for s in r.splits}


# `prepare --protocol`: named (new-user fraction, new domain) holdout combinations. `paper` holds out 10% of
# the users and Office_Products; `single-domain` keeps every user in train/valid/test and has no new domain,
# as the published single-domain tables (SASRec, S3-Rec, P5, RecBole) do.
PROTOCOLS: dict[str, tuple[float, str | None]] = {
    "paper": (0.1, NEW_DOMAIN),
    "single-domain": (0.0, None),
}


def protocol_name(new_user_fraction: float, new_domain: str | None) -> str:
    """The preset these holdouts match, else "custom" (recorded in the manifest)."""
    return next((n for n, p in PROTOCOLS.items() if p == (new_user_fraction, new_domain)), "custom")


def regime_of(split: str) -> Regime:
    """The regime an instance split belongs to (its train, valid and evaluated splits)."""
    if split not in _BY_SPLIT:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(_BY_SPLIT)}")
    return _BY_SPLIT[split]
