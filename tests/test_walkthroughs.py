"""The README's two walkthroughs, run exactly as written: a model in one file plus one registry line, and a
task variant declared like search-catalogue."""
from __future__ import annotations

import json
import re
from pathlib import Path

from benchmark.api import registry
from benchmark.eval.evaluator import RunOptions, run
from benchmark.tasks import TASKS

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(heading: str) -> list[str]:
    """The ```python blocks of one README section."""
    text = README.read_text()
    start = text.index(f"### {heading}\n")
    ends = [i for i in (text.find("\n## ", start + 1), text.find("\n### ", start + 1)) if i > 0]
    section = text[start:min(ends) if ends else None]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_add_a_model_in_one_file(tiny_data, tmp_path, monkeypatch):
    model_file, register_line = _blocks("Add a model in one file")
    module = model_file.splitlines()[0].removeprefix("# ").removesuffix(".py").replace("/", ".")  # models.last_item
    (tmp_path / "walkthrough_model.py").write_text(model_file)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))  # the test's registration does not leak
    exec(register_line.replace(module, "walkthrough_model"), {"register": registry.register})

    run_dir = run(tiny_data, tmp_path / "runs", RunOptions(model="last-item", tasks=("recommendation", "search"),
                                                          splits=("test",), n_boot=10, run_id="last-item"))
    doc = json.loads((run_dir / "results.json").read_text())
    by_task = {e["task"]: e for e in doc["results"]}
    assert by_task["recommendation"]["status"] == "ok" and by_task["search"]["status"] == "ok"
    assert 0 <= by_task["search"]["scores"]["hr@5"] <= 1 and by_task["recommendation"]["n"] > 0


def test_add_a_task_variant(tiny_data, tmp_path, monkeypatch):
    (module,) = _blocks("Add a task variant")
    source = (Path(__file__).resolve().parents[1] / "benchmark/tasks/search_catalogue.py").read_text()
    assert module == source  # the README shows the module as it is
    namespace: dict = {}
    exec(module.replace('name="search-catalogue"', 'name="search-catalogue-copy"'), namespace)
    variant = namespace["TASK"]
    monkeypatch.setitem(TASKS, variant.name, variant)

    run_dir = run(tiny_data, tmp_path / "runs", RunOptions(model="pop", tasks=("search-catalogue", variant.name),
                                                          splits=("test",), n_boot=10, run_id="pop"))
    doc = json.loads((run_dir / "results.json").read_text())
    by_task = {e["task"]: e for e in doc["results"]}
    assert by_task[variant.name]["status"] == "ok"
    assert by_task[variant.name]["scores"] == by_task["search-catalogue"]["scores"]
    lines = [json.loads(x) for x in (run_dir / f"predictions/{variant.name}__test.jsonl").read_text().splitlines()]
    assert lines and all(x["id"].startswith("search/test/") for x in lines)  # the search instances, reused
