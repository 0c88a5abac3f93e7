"""Recommendation (Table 1): rank the whole split catalogue for the user's next item."""
from __future__ import annotations

from benchmark.metrics.registry import RANKING_METRICS
from benchmark.tasks.base import RankingTask, SplitCatalogue


class Recommendation(RankingTask):
    def build(self, builder, split, ev):
        return builder.table(self, split, len(ev.target), user=builder.users(ev.user), history=builder.history(ev),
                             instruction=self.instruction, target_item=builder.items[ev.target])


TASK = Recommendation(
    "recommendation", "1", "rank", "Can you recommend the next item to the user?",
    RANKING_METRICS, "hr@5", "Table 1", "Table 1 - recommendation",
    ("hr@3", "ndcg@3", "mrr@3", "hr@5", "ndcg@5", "mrr@5", "hr@10", "ndcg@10"),
    table_splits=("test", "new_user", "new_domain"), candidates=SplitCatalogue(),
    answers=("target_item",),
)
