"""The task builder's item queries and the tasks' per-instance instructions (the paper's template filled as `str.replace` does)."""
from dataclasses import replace

import pyarrow as pa

from benchmark.tasks import TASKS
from benchmark.tasks.builder import item_queries


def test_item_queries_null_where_no_category():
    got = item_queries([None, "", "Baby > Toys", float("nan"), "Office"])
    assert got.to_pylist() == [None, None, "Baby > Toys", None, "Office"]


def test_instructions_are_the_template_filled_like_str_replace():
    queries = ["Sports > Bikes", "Toys > [Query] > odd", "", "a > b"]
    specs = [TASKS["search"], TASKS["image"],
             replace(TASKS["search"], instruction="[Query] first, [Query] again and [Query]"),
             replace(TASKS["search"], instruction="no placeholder here")]
    for spec in specs:
        got = spec.instruction_for(pa.array(queries, pa.string())).to_pylist()
        assert got == [spec.instruction.replace("[Query]", q) for q in queries], spec.instruction


def test_sequences_keep_the_frames_columns():
    """A group's frame (default index) is kept as it is, not copied (memory: a copy is every column again)."""
    import numpy as np
    import pandas as pd

    from benchmark.data.sequences import Sequences

    frame = pd.DataFrame({"user": pd.Categorical(["a", "a", "b"]), "item": np.array([3, 4, 5])}, copy=False)
    seqs = Sequences.from_frame(frame)
    assert np.shares_memory(seqs.frame["item"].to_numpy(), frame["item"].to_numpy())
    assert seqs.starts.tolist() == [0, 2] and seqs.ends.tolist() == [2, 3]
    moved = Sequences.from_frame(frame.set_axis([7, 8, 9]))  # another index: renumbered (a copy)
    assert moved.frame.index.tolist() == [0, 1, 2] and moved.items.tolist() == [3, 4, 5]
