"""What every task's `build` reads: one group of sequences, its items' attributes, and table helpers.

Task instance sets are frozen per split (protocol section 2) and built from leave-last-out events.
Training instances come only from train rows (events of part "train"), so no validation or test
interaction of a user appears in any of that user's training instances, as target or history.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmark.data.item_text import explanation_target
from benchmark.data.layout import INSTANCE_COLUMNS
from benchmark.data.sequences import Events, Sequences, gather_lists

_ARROW_TYPES = {
    "string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "list<int64>": pa.list_(pa.int64()),
}
TASK_COLUMNS = ("item", "rating")  # the interaction columns a task's `build` reads (`seqs.frame`)
SCHEMA = pa.schema([(name, _ARROW_TYPES[t]) for name, t in INSTANCE_COLUMNS.items()])


def _table(task: str, split: str, n: int, **columns) -> pa.Table:
    arrays = []
    for field in SCHEMA:
        if field.name == "id":
            numbers = pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string())  # str(i), in C
            arrays.append(pc.binary_join_element_wise(f"{task}/{split}/", numbers, ""))
        elif field.name in columns:
            arrays.append(pa.array(columns[field.name], field.type) if not isinstance(columns[field.name], pa.Array)
                          else columns[field.name].cast(field.type))
        else:
            arrays.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def subset(ev: Events, keep: np.ndarray) -> Events:
    return Events(ev.user[keep], ev.target[keep], ev.hist_start[keep], ev.hist_end[keep])


class TaskBuilder:
    """The shared state of every task's `build` for one group of sequences."""

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

    @cached_property
    def explanations(self) -> pa.Array:
        """(n_rows,) string: each interaction's explanation target ("" when none). Arrow, not Python strings:
        it is held while every task set is built (memory). Computed here, or set beforehand from
        `explanation_rows` over consecutive row ranges (prepare does that in worker processes)."""
        return self.explanation_rows(0, len(self.seqs.frame))

    def explanation_rows(self, lo: int, hi: int) -> pa.Array:
        """The explanation targets of rows [lo, hi)."""
        frame = self.seqs.frame.iloc[lo:hi]
        # to_numpy: Arrow-backed texts become Python strings in C (tolist iterates them in Python, 6x slower)
        reviews, summaries = (frame[c].to_numpy(dtype=object).tolist() for c in ("review", "summary"))
        return pa.array([explanation_target(r, s) for r, s in zip(reviews, summaries)], pa.string())

    def release_unread(self) -> None:
        """Make the explanation targets now and keep only the interaction columns the tasks read (memory: the
        review texts and the user ids, one Python string per row, are the largest)."""
        _ = self.explanations
        self.seqs.frame = self.seqs.frame[list(TASK_COLUMNS)]

    def rng(self, split: str, task: str) -> np.random.Generator:
        tag = sum(ord(c) * 31**i for i, c in enumerate(f"{split}/{task}")) % (2**32)
        return np.random.default_rng([self.seed, tag])

    def table(self, spec, split: str, n: int, **columns) -> pa.Table:
        return _table(spec.name, split, n, **columns)

    def history(self, ev: Events) -> pa.Array:
        return gather_lists(self.items, ev.hist_start, ev.hist_end)

    @cached_property
    def queries(self) -> np.ndarray:
        """(n_items,) object: each item's search query, its category path as str (None: no category)."""
        return np.array([str(c) if c is not None and c == c and c != "" else None for c in self.category], dtype=object)

    def with_query(self, spec, split: str, ev: Events, need_image: bool = False) -> pa.Table:
        """Instances whose target has a category path (the query); with `need_image`, also an image. Queries
        and instructions are made once per item, then taken per instance."""
        users, target_item = self.seqs.users[ev.user], self.items[ev.target]
        has_query = np.array([q is not None for q in self.queries], dtype=bool)
        keep = has_query[target_item]
        if need_image:
            keep &= self.has_image[target_item]
        ev = subset(ev, keep)
        instruction = np.array([None] * len(self.queries), dtype=object)
        instruction[has_query] = spec.instruction_for(self.queries[has_query].tolist())
        kept = target_item[keep]
        return self.table(spec, split, int(keep.sum()), user=users[keep], history=self.history(ev),
                          instruction=instruction[kept], query=self.queries[kept], target_item=kept)

    def about_item(self, spec, split: str, ev: Events, keep: np.ndarray, **targets) -> pa.Table:
        """Instances asking about the target item (rating, explanation), rows `keep` only."""
        users, target_item = self.seqs.users[ev.user], self.items[ev.target]
        n = int(keep.sum())
        return self.table(spec, split, n, user=users[keep], history=self.history(subset(ev, keep)),
                          instruction=[spec.instruction] * n, item=target_item[keep], **targets)
