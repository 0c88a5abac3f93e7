"""The task builder's per-instance instructions: the same strings as the paper's template filled in Python."""
from dataclasses import replace

import pyarrow as pa

from benchmark.tasks import TASKS
from benchmark.tasks.builder import TaskBuilder, item_queries


def test_item_queries_null_where_no_category():
    got = item_queries([None, "", "Baby > Toys", float("nan"), "Office"])
    assert got.to_pylist() == [None, None, "Baby > Toys", None, "Office"]


def test_instructions_are_the_template_filled_like_str_replace():
    queries = ["Sports > Bikes", "Toys > [Query] > odd", "", "a > b"]
    specs = [TASKS["search"], TASKS["image"],
             replace(TASKS["search"], instruction="[Query] first, [Query] again and [Query]"),
             replace(TASKS["search"], instruction="no placeholder here")]
    for spec in specs:
        got = TaskBuilder.instructions(spec, pa.array(queries, pa.string())).to_pylist()
        assert got == spec.instruction_for(queries), spec.instruction
