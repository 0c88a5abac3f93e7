"""What every task's `build` reads: one group of sequences, its items' attributes, and table helpers.

Task instance sets are frozen per split (protocol section 2) and built from leave-last-out events.
Training instances come only from train rows (events of part "train"), so no validation or test
interaction of a user appears in any of that user's training instances, as target or history.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmark.data.layout import INSTANCE_COLUMNS
from benchmark.data.processing import sorted_unique
from benchmark.data.sequences import Events, Sequences, gather_lists
from benchmark.data.spill import DOMAIN_CODE, EXPLANATION, HAS_EXPLANATION, ROW, gather

_ARROW_TYPES = {
    "string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "list<int64>": pa.list_(pa.int64()),
}
# the interaction columns a task's `build` reads (`seqs.frame`): the spilled texts' place among them
TASK_COLUMNS = ("item", "rating", DOMAIN_CODE, ROW, HAS_EXPLANATION)
BUILD_EVENTS = 1 << 18  # events a task set is built from at a time (`TaskSpec.build_parts`; memory)
SCHEMA = pa.schema([(name, _ARROW_TYPES[t]) for name, t in INSTANCE_COLUMNS.items()])


def instance_ids(task: str, split: str, start: int, n: int) -> pa.Array:
    """"<task>/<split>/<i>" for i in [start, start + n)."""
    numbers = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())  # str(i), in C
    return pc.binary_join_element_wise(f"{task}/{split}/", numbers, "")


def _table(task: str, split: str, n: int, **columns) -> pa.Table:
    """The instance table; a column given as one string has that value in every row."""
    arrays = []
    for field in SCHEMA:
        value = columns.get(field.name)
        if field.name == "id":
            arrays.append(instance_ids(task, split, 0, n))
        elif isinstance(value, str):
            arrays.append(pa.repeat(value, n).cast(field.type))
        elif field.name in columns:
            arrays.append(pa.array(value, field.type) if not isinstance(value, pa.Array) else value.cast(field.type))
        else:
            arrays.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def item_queries(category: np.ndarray) -> pa.Array:
    """(n_items,) each item's search query: its category path (null: none, or empty)."""
    return pa.array([str(c) if c is not None and c == c and c != "" else None for c in category], pa.string())


def subset(ev: Events, keep) -> Events:
    """The events `keep` (a mask, indices or a slice)."""
    return Events(ev.user[keep], ev.target[keep], ev.hist_start[keep], ev.hist_end[keep])


def numbered_from(table: pa.Table, task: str, split: str, start: int) -> pa.Table:
    """`table` (instances numbered from 0) numbered from `start`: a later part of a task set."""
    return table if start == 0 else table.set_column(0, "id", instance_ids(task, split, start, table.num_rows))


class TaskBuilder:
    """The shared state of every task's `build` for one group of sequences."""

    def __init__(self, seqs: Sequences, item_query: pa.Array, item_has_image: np.ndarray,
                 item_domain_code: np.ndarray, domain_pools: list[np.ndarray], seed: int,
                 texts: tuple[Path, list[str]]):
        self.seqs = seqs
        self.items = seqs.items
        # (n_items,) each item's search query (`item_queries`): Arrow strings, so forked task workers read them
        # without touching Python objects (whose reference counts would copy their pages into each worker)
        self.query_array = item_query
        self.has_query = item_query.is_valid().to_numpy(zero_copy_only=False)  # (n_items,) bool
        self.has_image = item_has_image        # (n_items,) bool
        self.domain_code = item_domain_code    # (n_items,) int
        self.pools = domain_pools              # per domain code: item tokens of that domain's catalogue
        self.seed = seed
        self.texts = texts                     # (spill folder, its domains by DOMAIN_CODE): benchmark.data.spill
        # the user ids as Arrow strings: a forked task worker reads them without touching Python objects, whose
        # reference counts would copy the pages that hold them into each worker (memory)
        self.user_ids = pa.array(seqs.users, pa.string())
        user_rows = seqs.user_index()
        n_items = len(item_query)
        # sorted (user, item) keys: "has this user touched this item?" by binary search
        self.touched = sorted_unique(user_rows.astype(np.int64) * n_items + self.items)
        self.n_items = n_items

    @property
    def has_explanation(self) -> np.ndarray:
        """(n_rows,) bool: the interaction's explanation target is not empty."""
        return self.seqs.frame[HAS_EXPLANATION].to_numpy(bool)

    def explanations(self, rows: np.ndarray) -> pa.Array:
        """The explanation targets of `rows` (made by the reader from the review and summary, read from the
        spill: the texts are never all in memory)."""
        frame = self.seqs.frame
        folder, domains = self.texts
        return gather(folder, domains, frame[DOMAIN_CODE].to_numpy()[rows], frame[ROW].to_numpy()[rows], EXPLANATION)

    def release_unread(self) -> None:
        """Keep only the interaction columns the tasks read (memory: the user ids, one Python string per row),
        and the user ids as `user_ids` only (not as Python strings)."""
        self.seqs.frame = self.seqs.frame[list(TASK_COLUMNS)]
        self.seqs.users = None

    def users(self, user: np.ndarray) -> pa.Array:
        """The ids of the users `user` (indices into the group's users, `seqs.users` before `release_unread`)."""
        return self.user_ids.take(pa.array(user))

    def rng(self, split: str, task: str) -> np.random.Generator:
        tag = sum(ord(c) * 31**i for i, c in enumerate(f"{split}/{task}")) % (2**32)
        return np.random.default_rng([self.seed, tag])

    def table(self, spec, split: str, n: int, **columns) -> pa.Table:
        return _table(spec.name, split, n, **columns)

    def history(self, ev: Events) -> pa.Array:
        return gather_lists(self.items, ev.hist_start, ev.hist_end)

    def with_query(self, spec, split: str, ev: Events, need_image: bool = False) -> pa.Table:
        """Instances whose target has a category path (the query); with `need_image`, also an image."""
        target_item = self.items[ev.target]
        keep = self.has_query[target_item]
        if need_image:
            keep &= self.has_image[target_item]
        ev = subset(ev, keep)
        kept = target_item[keep]
        query = self.query_array.take(pa.array(kept))
        return self.table(spec, split, int(keep.sum()), user=self.users(ev.user), history=self.history(ev),
                          instruction=spec.instruction_for(query), query=query, target_item=kept)

    def about_item(self, spec, split: str, ev: Events, keep: np.ndarray, **targets) -> pa.Table:
        """Instances asking about the target item (rating, explanation), rows `keep` only."""
        target_item = self.items[ev.target]
        n = int(keep.sum())
        return self.table(spec, split, n, user=self.users(ev.user[keep]), history=self.history(subset(ev, keep)),
                          instruction=spec.instruction, item=target_item[keep], **targets)
