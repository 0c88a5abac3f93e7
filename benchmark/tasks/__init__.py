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

__all__ = ["TASKS", "TaskSpec"]
