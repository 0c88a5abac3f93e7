"""Every task declaration is consistent with the one metric registry, the verbs and the instance files;
`unimp-bench models` prints exactly the model registry; library code does not dispatch on task names."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmark.api import VERBS, registry
from benchmark.data.regimes import EVAL_SPLITS
from benchmark.metrics.registry import METRICS
from benchmark.tasks import TASKS
from benchmark.tasks.base import RankingTask
from unimp_bench.cli import app

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", list(TASKS))
def test_declaration_is_consistent(name):
    spec = TASKS[name]
    assert spec.name == name and spec.version and spec.instruction.strip()
    assert spec.verb in VERBS
    assert spec.metrics and all(m in METRICS for m in spec.metrics), [m for m in spec.metrics if m not in METRICS]
    assert len(set(spec.metrics)) == len(spec.metrics)
    assert spec.main_score in spec.metrics
    assert spec.higher_is_better == METRICS[spec.main_score].higher_is_better  # direction from the registry
    assert set(spec.table_metrics) <= set(spec.metrics) and spec.table_metrics
    assert set(spec.table_splits) <= set(EVAL_SPLITS)
    assert spec.line_fields and "id" not in spec.line_fields
    assert set(spec.file_fields) <= set(spec.line_fields)
    assert not set(spec.optional_fields) & set(spec.line_fields)
    # a variant reuses the files of a task that builds them, and asks a question that task asks
    base = TASKS[spec.instance_set]
    assert base.builds
    assert spec.model_task in TASKS and TASKS[spec.model_task].verb == spec.verb
    if spec.verb == "rank" and spec.line_fields == ("ranked",):
        assert isinstance(spec, RankingTask) and spec.candidates.description


def test_search_has_both_candidate_rules_on_one_instance_set():
    search, catalogue = TASKS["search"], TASKS["search-catalogue"]
    assert catalogue.instance_set == "search" and not catalogue.builds and catalogue.model_task == "search"
    assert type(search.candidates) is not type(catalogue.candidates)
    assert "category" in search.candidates.description and "catalogue" in catalogue.candidates.description


def test_models_command_prints_exactly_the_registry():
    out = CliRunner().invoke(app, ["models"]).output.splitlines()
    assert out == [f"{name:16s} {entry.description}" for name, entry in sorted(registry.MODELS.items())]
    for entry in registry.MODELS.values():  # each entry names a "module:Class" and says what it is
        module, cls = entry.target.split(":")
        assert module and cls and entry.description.strip()


def test_no_task_name_dispatch_in_library_code():
    """`if task == ...` / `task in (...)` belong in the task modules' declarations, not in the library."""
    pattern = re.compile(r"""\btask\s*(==|!=|in|not in)\s*[("']""")
    hits = []
    for root in ("benchmark", "leaderboard", "unimp_bench"):
        for path in (REPO / root).rglob("*.py"):
            if "submissions" in path.parts:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert hits == []
