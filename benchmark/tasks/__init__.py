"""The tasks: what a model is asked, on which instances, and how it is scored."""
from benchmark.tasks.base import LOWER_IS_BETTER, RANKING_METRICS, TASK_SPECS, TaskSpec

__all__ = ["LOWER_IS_BETTER", "RANKING_METRICS", "TASK_SPECS", "TaskSpec"]
