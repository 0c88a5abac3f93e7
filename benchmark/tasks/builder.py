"""The six task sets, frozen per split (protocol section 2), built from leave-last-out events.

Training instances come only from train rows (events of part "train"), so no validation or test
interaction of a user appears in any of that user's training instances, as target or history.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from benchmark.data.layout import INSTANCE_COLUMNS
from benchmark.data.sequences import Events, Sequences, gather_lists
from benchmark.tasks import TASK_SPECS

N_CANDIDATES = 5      # decision: selection offers 5 shuffled candidates
SELECTION_K = (1, 2, 3)

_ARROW_TYPES = {
    "string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "list<int64>": pa.list_(pa.int64()),
}
SCHEMA = pa.schema([(name, _ARROW_TYPES[t]) for name, t in INSTANCE_COLUMNS.items()])


def _table(task: str, split: str, n: int, **columns) -> pa.Table:
    arrays = []
    for field in SCHEMA:
        if field.name == "id":
            arrays.append(pa.array([f"{task}/{split}/{i}" for i in range(n)], pa.string()))
        elif field.name in columns:
            arrays.append(pa.array(columns[field.name], field.type) if not isinstance(columns[field.name], pa.Array)
                          else columns[field.name].cast(field.type))
        else:
            arrays.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _subset(ev: Events, keep: np.ndarray) -> Events:
    return Events(ev.user[keep], ev.target[keep], ev.hist_start[keep], ev.hist_end[keep])


class TaskBuilder:
    """Builds every task's instances for one group of sequences and one leave-last-out part."""

    def __init__(self, seqs: Sequences, item_category: np.ndarray, item_has_image: np.ndarray,
                 item_domain_code: np.ndarray, domain_pools: list[np.ndarray], seed: int):
        self.seqs = seqs
        self.items = seqs.items
        self.category = item_category          # (n_items,) object: category path or None
        self.has_image = item_has_image        # (n_items,) bool
        self.domain_code = item_domain_code    # (n_items,) int
        self.pools = domain_pools              # per domain code: item tokens of that domain's catalogue
        self.seed = seed
        user_rows = seqs.user_index()
        n_items = len(item_category)
        # sorted (user, item) keys: "has this user touched this item?" by binary search
        self.touched = np.unique(user_rows.astype(np.int64) * n_items + self.items)
        self.n_items = n_items
        frame = seqs.frame
        from benchmark.data.item_text import explanation_target

        self.explanations = np.array(
            [explanation_target(r, s) for r, s in zip(frame["review"].tolist(), frame["summary"].tolist())],
            dtype=object)

    def _rng(self, split: str, task: str) -> np.random.Generator:
        tag = sum(ord(c) * 31**i for i, c in enumerate(f"{split}/{task}")) % (2**32)
        return np.random.default_rng([self.seed, tag])

    def _history(self, ev: Events) -> pa.Array:
        return gather_lists(self.items, ev.hist_start, ev.hist_end)

    def _instr(self, task: str, queries=None) -> list[str] | str:
        text = TASK_SPECS[task].instruction
        if queries is None:
            return text
        return [text.replace("[Query]", q) for q in queries]

    def build(self, task: str, split: str, ev: Events) -> pa.Table:
        users = self.seqs.users[ev.user]
        target_item = self.items[ev.target]
        if task == "recommendation":
            return _table(task, split, len(ev.target), user=users, history=self._history(ev),
                          instruction=[self._instr(task)] * len(users), target_item=target_item)
        if task in ("search", "image"):
            cat = self.category[target_item]
            keep = np.array([c is not None and c == c and c != "" for c in cat], dtype=bool)
            if task == "image":
                keep &= self.has_image[target_item]
            ev = _subset(ev, keep)
            queries = [str(c) for c in cat[keep]]
            return _table(task, split, int(keep.sum()), user=users[keep], history=self._history(ev),
                          instruction=self._instr(task, queries), query=queries, target_item=target_item[keep])
        if task == "rating":
            ratings = self.seqs.frame["rating"].to_numpy(np.float64)[ev.target]
            keep = ~np.isnan(ratings)
            ev = _subset(ev, keep)
            return _table(task, split, int(keep.sum()), user=users[keep], history=self._history(ev),
                          instruction=[self._instr(task)] * int(keep.sum()), item=target_item[keep],
                          target_rating=ratings[keep])
        if task == "explanation":
            text = self.explanations[ev.target]
            keep = np.array([bool(t) for t in text], dtype=bool)
            ev = _subset(ev, keep)
            return _table(task, split, int(keep.sum()), user=users[keep], history=self._history(ev),
                          instruction=[self._instr(task)] * int(keep.sum()), item=target_item[keep],
                          target_text=list(text[keep]))
        if task == "selection":
            return self._selection(split, ev)
        raise ValueError(f"unknown task {task!r}")

    def _selection(self, split: str, ev: Events) -> pa.Table:
        """k positives = the last k interactions ending at the target; 5-k negatives from the target's
        domain that the user never touched; candidates shuffled (all seeded)."""
        rng = self._rng(split, "selection")
        n = len(ev.target)
        k = rng.choice(SELECTION_K, size=n)
        k = np.minimum(k, ev.target - self.seqs.starts[ev.user])  # keep at least one history item
        first_pos = ev.target - k + 1
        hist_end = first_pos
        hist_start = np.maximum(self.seqs.starts[ev.user], hist_end - (ev.hist_end - ev.hist_start))
        positives = [self.items[first_pos[i]: ev.target[i] + 1] for i in range(n)]
        negatives = self._negatives(rng, ev, N_CANDIDATES - k)
        cands = np.zeros((n, N_CANDIDATES), dtype=np.int64)
        is_pos = np.arange(N_CANDIDATES)[None, :] < k[:, None]
        for i in range(n):  # rows have ragged positives; a short loop of slices, no per-item work
            cands[i, : k[i]] = positives[i]
            cands[i, k[i]:] = negatives[i][: N_CANDIDATES - k[i]]
        order = np.argsort(rng.random((n, N_CANDIDATES)), axis=1)
        cands = np.take_along_axis(cands, order, axis=1)
        del is_pos
        hist = gather_lists(self.items, hist_start, hist_end)
        return _table("selection", split, n, user=self.seqs.users[ev.user], history=hist,
                      instruction=[self._instr("selection")] * n, candidates=list(cands),
                      target_items=positives)

    def _negatives(self, rng: np.random.Generator, ev: Events, m: np.ndarray) -> list[np.ndarray]:
        """Up to 4 distinct untouched same-domain items per row, by vectorised rejection sampling
        (rows that run short are completed by an exact per-row draw)."""
        n, draws = len(ev.target), 16
        dom = self.domain_code[self.items[ev.target]]
        sizes = np.array([len(self.pools[d]) for d in dom])
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in self.pools])])
        flat_pool = np.concatenate(self.pools) if self.pools else np.zeros(0, np.int64)
        pick = (rng.random((n, draws)) * sizes[:, None]).astype(np.int64) + offsets[dom][:, None]
        cand = flat_pool[pick]
        keys = ev.user[:, None].astype(np.int64) * self.n_items + cand
        pos = np.searchsorted(self.touched, keys)
        touched = (pos < len(self.touched)) & (self.touched[np.minimum(pos, len(self.touched) - 1)] == keys)
        # mark repeats within a row (keep the first draw of each value)
        order = np.argsort(cand, axis=1, kind="stable")
        sorted_c = np.take_along_axis(cand, order, axis=1)
        dup_sorted = np.zeros_like(sorted_c, dtype=bool)
        dup_sorted[:, 1:] = sorted_c[:, 1:] == sorted_c[:, :-1]
        dup = np.zeros_like(dup_sorted)
        np.put_along_axis(dup, order, dup_sorted, axis=1)
        ok = ~touched & ~dup
        out = []
        for i in range(n):
            got = cand[i][ok[i]][: m[i]]
            if len(got) < m[i]:  # rare: small pool or a very active user
                pool = self.pools[dom[i]]
                user_items = set(self.items[self.seqs.starts[ev.user[i]]: self.seqs.ends[ev.user[i]]].tolist())
                free = np.array([x for x in pool.tolist() if x not in user_items], dtype=np.int64)
                if len(free) < m[i]:
                    raise ValueError(f"domain pool too small for {m[i]} negatives for user {self.seqs.users[ev.user[i]]}")
                got = rng.choice(free, size=m[i], replace=False)
            out.append(got)
        return out
