"""Search (Table 2(d)): the query is the target's category path; only items of that category are
ranked (like for like with retrieval baselines that filter by the query's category)."""
from __future__ import annotations

from benchmark.metrics.registry import RANKING_METRICS
from benchmark.tasks.base import QueryCategory, RankingTask


class Search(RankingTask):
    def build(self, builder, split, ev):
        return builder.with_query(self, split, ev)


TASK = Search(
    "search", "1", "rank",
    "[Query] Can you retrieve the items that aligns with both the user's history and the given query?",
    RANKING_METRICS, "hr@5", "Table 2(d)", "Table 2(d) - search, candidates of the query's category",
    ("hr@5", "ndcg@5", "mrr@5"), candidates=QueryCategory(),
    answers=("target_item",),
)
