"""What models and baselines may use (they import only this package, and benchmark.metrics where a
model computes a metric): the Model base class and its verbs, the registry, the regimes, the task
instructions, the prepared-dataset reader and small shared helpers."""
from benchmark.api import registry
from benchmark.api.helpers import CURVES_FILE, N_RETRIEVED, CategoryPopularity, append_curve, history_lists, stack_lists
from benchmark.api.model import VERBS, Model
from benchmark.data import compat, io, layout, manifest
from benchmark.data.dataset import PreparedDataset
from benchmark.data.environment import cache_root
from benchmark.data.item_text import explanation_target, truncate_words
from benchmark.data.regimes import REGIMES, Regime, regime_of
from benchmark.metrics.registry import IMAGE_TOKEN_SCORES
from benchmark.tasks import TASKS
from benchmark.tasks.rating import RatingAnswer


def instruction(task: str) -> str:
    """The paper's instruction template of `task` ("[Query]" is replaced by the query in instances)."""
    return TASKS[task].instruction


__all__ = [
    "CURVES_FILE", "IMAGE_TOKEN_SCORES", "N_RETRIEVED", "append_curve", "REGIMES", "TASKS", "VERBS", "CategoryPopularity", "Model", "PreparedDataset",
    "RatingAnswer", "Regime", "cache_root", "compat", "explanation_target", "truncate_words", "history_lists", "instruction", "io", "layout", "manifest",
    "regime_of", "registry", "stack_lists",
]
