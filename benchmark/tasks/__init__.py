"""The tasks, one module each, in the order tables and results list them.

`TASKS[name]` is the task's declaration (`benchmark.tasks.base.TaskSpec`): its instruction, how its
instances are built, its candidate rule, its metrics and main score, how predictions are produced from
the model verb, checked and scored. To add a task or a variant, add a module and one line below.
"""
from __future__ import annotations

from benchmark.tasks import explanation, image, rating, recommendation, search, search_catalogue, selection
from benchmark.tasks.base import TaskSpec

TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in (
        recommendation.TASK,
        search.TASK,
        search_catalogue.TASK,
        selection.TASK,
        rating.TASK,
        explanation.TASK,
        image.TASK,
    )
}

# Every column any task declares as an answer: none of them is in a scored split's public instances.
ANSWER_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(c for t in TASKS.values() for c in t.answers))

__all__ = ["ANSWER_COLUMNS", "TASKS", "TaskSpec"]
