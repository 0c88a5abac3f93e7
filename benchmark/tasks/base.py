"""Task declarations: name, version, verb, metrics and main score (protocol.md section 2)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskSpec:
    name: str
    version: str
    verb: str                      # the model verb the task needs (benchmark.api.VERBS)
    metrics: tuple[str, ...]
    main_score: str
    higher_is_better: bool
    paper_table: str
    instruction: str               # the paper's wording (Appendix A.2)


# Metrics whose lower value is better (everything else: higher is better).
LOWER_IS_BETTER = frozenset({"mae", "rmse", "invalid_rate", "frechet", "token_nll"})
RANKING_METRICS = tuple(f"{m}@{k}" for k in (3, 5, 10) for m in ("hr", "ndcg", "mrr"))

TASK_SPECS: dict[str, TaskSpec] = {
    t.name: t
    for t in (
        TaskSpec("recommendation", "1", "rank", RANKING_METRICS, "hr@5", True, "Table 1",
                 "Can you recommend the next item to the user?"),
        TaskSpec("search", "1", "rank", RANKING_METRICS, "hr@5", True, "Table 2(d)",
                 "[Query] Can you retrieve the items that aligns with both the user's history and the given query?"),
        TaskSpec("selection", "1", "rank", ("recall", "precision", "f1"), "f1", True, "Table 2(c)",
                 "Given [Candidates], can you select all the appropriate items for the user?"),
        TaskSpec("rating", "1", "predict_rating", ("mae", "rmse", "invalid_rate"), "mae", False, "Table 2(b)",
                 "Given [Item], can you predict the preference level of the user to the product?"),
        TaskSpec("explanation", "1", "generate_text",
                 ("bleu-1", "bleu-4", "rouge-1", "rouge-2", "rouge-l", "meteor", "bertscore-f1"),
                 "bleu-4", True, "Table 2(a)",
                 "Given [Item], can you explain to the user why the product might be suitable or unsuitable?"),
        TaskSpec("image", "1", "generate_images",
                 ("psnr", "ssim", "attribute_match", "frechet", "personalization", "token_nll", "token_accuracy"),
                 "attribute_match", True, "Figure 3",
                 "[Retrieved Images] [Query] Can you generate the product figure that the user may be interested in?"),
    )
}
