"""Export a regime's frozen splits as RecBole atomic benchmark files, and map ids both ways.

For a regime ("main" or "new_domain", `benchmark.api.REGIMES`) and a file kind, writes::

    <root>/<name>/<name>.train.inter   <name>.valid.inter   <name>.test.inter   <name>.item

with `name = f"{regime}_{kind}"`, read by RecBole with `benchmark_filename: [train, valid, test]`.

kind "pair" (general recommenders: BPR, LightGCN): one row per interaction, `user_id item_id`.
kind "seq" (sequential recommenders): RecBole's pre-augmented form `user_id item_id_list item_id`:
    train: every train interaction but each user's first, history = the train items before it;
    valid: the valid interaction, history = all train items; test: the test interaction, history = train
    + valid items. Histories are cut to the last `max_len` items: exactly what RecBole's own
    augmentation of a leave-one-out split produces.
When the test interactions are sealed (the model's view of the data), the valid rows stand in for them.
`.item`: `item_id categories` (the category path's levels as a token sequence, for S3-Rec's attribute
pre-training), for the items that occur in the regime's three files.

Users are written as `u<k>` (k = index in the sorted list of the regime's users), items as their
decimal token, so no raw id can break the tab-separated format.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.api import REGIMES, io

PARTS = ("train", "valid", "test")
KINDS = ("pair", "seq")
CATEGORY_FIELD = "categories"


def regime_interaction_splits(regime: str) -> tuple[str, str, str]:
    """(train, valid, test) interaction split names of a regime."""
    r = REGIMES[regime]
    return r.train, r.valid, r.test_interactions


def category_tokens(path: str | None) -> list[str]:
    """'Baby > Diapering > Wipes & Holders' -> ['Baby', 'Diapering', 'Wipes_&_Holders']."""
    if path is None or (isinstance(path, float) and np.isnan(path)):
        return []
    return [re.sub(r"\s+", "_", p.strip()) for p in str(path).split(">") if p.strip()]


@dataclass
class Export:
    """What `export_regime` wrote: RecBole's `data_path` is `root`, its `dataset` is `name`."""

    root: Path
    name: str
    kind: str
    users: dict[str, str]   # our user id -> exported token
    rows: dict[str, int]    # part -> rows written
    max_hist: int = 0       # longest history written (kind "seq")


def _sequences(data, regime: str) -> pd.DataFrame:
    """The regime's interactions with a `part` column, per user in the order train, valid, test."""
    frames = []
    train, valid, test = regime_interaction_splits(regime)
    # RecBole wants a test file, but a model never sees the sealed test interactions: the valid rows stand in
    # (RecBole's own test evaluation is never what we report; our evaluator scores `full_sort_predict`).
    test = test if data.has_interactions(test) else valid
    for part, split in zip(PARTS, (train, valid, test)):
        df = data.interactions(split)[["user", "item"]].copy()
        df["part"] = PARTS.index(part)
        df["order"] = np.arange(len(df))
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    # files are sorted by (user, position); a stable sort keeps each user's train rows in order
    return df.sort_values(["user", "part", "order"], kind="mergesort").reset_index(drop=True)


def _write_atomic(path: Path, header: list[str], rows: pd.DataFrame) -> None:
    lines = ["\t".join(header)]
    lines += ["\t".join(map(str, r)) for r in rows.itertuples(index=False, name=None)]
    io.write_text(path, "\n".join(lines) + "\n")


def export_regime(data, regime: str, root: Path, kind: str, max_len: int = 50) -> Export:
    """Write the regime's three benchmark files and the item file under `root/<name>/`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    name = f"{regime}_{kind}"
    folder = Path(root) / name
    df = _sequences(data, regime)
    users = {u: f"u{k}" for k, u in enumerate(sorted(df["user"].unique()))}
    df["user_id"] = df["user"].map(users)

    counts: dict[str, int] = {}
    max_hist = 0
    if kind == "pair":
        for p, part in enumerate(PARTS):
            rows = df.loc[df["part"] == p, ["user_id", "item"]]
            _write_atomic(folder / f"{name}.{part}.inter", ["user_id:token", "item_id:token"], rows)
            counts[part] = len(rows)
    else:
        out: dict[int, list[tuple[str, str, int]]] = {p: [] for p in range(3)}
        items, parts, uids = df["item"].to_numpy(), df["part"].to_numpy(), df["user_id"].to_numpy()
        bounds = np.flatnonzero(uids[1:] != uids[:-1]) + 1
        for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(df)]):
            for i in range(start + 1, end):  # the user's first interaction has no history
                hist = items[max(start, i - max_len):i]
                max_hist = max(max_hist, len(hist))
                out[int(parts[i])].append((uids[i], " ".join(map(str, hist)), int(items[i])))
        header = ["user_id:token", "item_id_list:token_seq", "item_id:token"]
        for p, part in enumerate(PARTS):
            rows = pd.DataFrame(out[p], columns=["u", "h", "i"])
            _write_atomic(folder / f"{name}.{part}.inter", header, rows)
            counts[part] = len(rows)

    item_ids = np.unique(df["item"].to_numpy())
    cats = data.items["category"].reindex(item_ids).to_numpy()
    item_rows = pd.DataFrame({"i": item_ids, "c": [" ".join(category_tokens(c)) for c in cats]})
    _write_atomic(folder / f"{name}.item", ["item_id:token", f"{CATEGORY_FIELD}:token_seq"], item_rows)
    return Export(root=Path(root), name=name, kind=kind, users=users, rows=counts, max_hist=max_hist)


class IdMap:
    """RecBole's internal ids <-> our item tokens and users, read from a built RecBole dataset."""

    def __init__(self, dataset, export: Export, n_items: int):
        self.n_items = n_items
        item_tokens = dataset.field2id_token[dataset.iid_field]  # index = RecBole id; 0 is [PAD]
        self.rid_known = np.array([t != "[PAD]" for t in item_tokens])
        self.rids = np.flatnonzero(self.rid_known)                    # RecBole ids of real items
        self.toks = np.array([int(item_tokens[r]) for r in self.rids], dtype=np.int64)
        self.tok2rid = np.zeros(n_items, dtype=np.int64)             # 0 = unknown to RecBole
        self.tok2rid[self.toks] = self.rids
        user_token_id = dataset.field2token_id[dataset.uid_field]
        self.user2rid = {u: user_token_id[t] for u, t in export.users.items() if t in user_token_id}

    def scores_to_tokens(self, scores: np.ndarray) -> np.ndarray:
        """(B, RecBole item_num) -> (B, n_items) float32 in item-token order; unknown items -inf."""
        out = np.full((scores.shape[0], self.n_items), -np.inf, dtype=np.float32)
        out[:, self.toks] = scores[:, self.rids]
        return out

    def history_rids(self, history) -> list[int]:
        """Our item tokens -> RecBole ids, dropping items RecBole never saw (it has no embedding)."""
        h = np.asarray(history if history is not None else [], dtype=np.int64)
        h = h[(h >= 0) & (h < self.n_items)]
        r = self.tok2rid[h]
        return r[r > 0].tolist()
