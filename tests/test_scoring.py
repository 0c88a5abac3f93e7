"""score_predictions / compare_runs on hand-made instance frames and prediction records."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmark.eval.scoring import ScoreResult, compare_runs, score_predictions
from benchmark.metrics.registry import RANKING_METRICS
from benchmark.tasks import TASKS


def frame(task: str, n: int, **columns) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"{task}/test/{i}" for i in range(n)], "user": [f"u{i}" for i in range(n)], **columns})


def check_result(res: ScoreResult, task: str, n: int) -> None:
    spec = TASKS[task]
    assert res.n == n
    declared = tuple(m for m in spec.metrics if not m.endswith("-expectation"))  # these need a line's "expectation"
    assert tuple(res.scores) == declared
    assert set(res.intervals) == set(declared)
    for m, (lo, hi) in res.intervals.items():
        assert lo <= res.scores[m] + 1e-12 and res.scores[m] <= hi + 1e-12, m


def test_ranking_round_trip_with_hand_computed_scores():
    inst = frame("recommendation", 3, target_item=[7, 3, 5])
    preds = [  # target ranks 1, 4, absent; given out of order, one list shorter than 10
        {"id": "recommendation/test/2", "ranked": [1, 2, 3]},
        {"id": "recommendation/test/0", "ranked": [7, 1, 2, 3, 4, 5, 6, 8, 9, 10]},
        {"id": "recommendation/test/1", "ranked": [9, 8, 6, 3, 1, 2, 4, 5, 7, 0]},
    ]
    res = score_predictions("recommendation", inst, preds, n_boot=200)
    check_result(res, "recommendation", 3)
    s = res.scores
    assert s["hr@3"] == pytest.approx(1 / 3) and s["hr@5"] == pytest.approx(2 / 3)
    assert s["ndcg@5"] == pytest.approx((1 + 1 / math.log2(5)) / 3)
    assert s["mrr@10"] == pytest.approx((1 + 1 / 4) / 3)
    np.testing.assert_allclose(res.per_instance["hr@5"], [1, 1, 0])  # instance order, not record order
    # deterministic: the leaderboard recomputes the same numbers
    again = score_predictions("search", inst.assign(id=inst.id.str.replace("recommendation", "search")),
                              [{**p, "id": p["id"].replace("recommendation", "search")} for p in preds], n_boot=200)
    assert again.scores == res.scores and again.intervals == res.intervals
    assert set(RANKING_METRICS) <= set(again.intervals)


def test_selection_round_trip():
    inst = frame("selection", 2, candidates=[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]], target_items=[[1, 2], [6]])
    preds = [{"id": "selection/test/0", "selected": [1, 3], "scores": [0.9, 0.1, 0.8, 0.0, 0.0]},
             {"id": "selection/test/1", "selected": [], "scores": [0.0] * 5}]
    res = score_predictions("selection", inst, preds, n_boot=100)
    check_result(res, "selection", 2)
    assert res.scores == pytest.approx({"recall": 0.25, "precision": 0.25, "f1": 0.25})


def test_rating_round_trip_parses_output_with_fallback():
    inst = frame("rating", 3, target_rating=[5.0, 3.0, 4.0])
    preds = [{"id": "rating/test/0", "output": "rating: 4", "rating": 4.0},
             {"id": "rating/test/1", "output": "no idea", "rating": None},
             {"id": "rating/test/2", "output": "2"}]
    res = score_predictions("rating", inst, preds, n_boot=100)
    check_result(res, "rating", 3)
    assert res.scores == pytest.approx({"mae": 1.0, "rmse": math.sqrt(5 / 3), "invalid_rate": 1 / 3})
    assert res.extra["fallback_rating"] == 3.0
    assert score_predictions("rating", inst, preds, n_boot=0, fallback_rating=5.0).scores["mae"] == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="not the parse"):
        score_predictions("rating", inst, [{**preds[0], "rating": 5.0}, *preds[1:]], n_boot=0)


def test_explanation_round_trip():
    refs = ["the cat sat on the mat", "a comfortable soft sofa"]
    inst = frame("explanation", 2, target_text=refs)
    preds = [{"id": f"explanation/test/{i}", "text": t} for i, t in enumerate(refs)]
    res = score_predictions("explanation", inst, preds, n_boot=50)
    check_result(res, "explanation", 2)
    for m in ("bleu-1", "bleu-4", "rouge-1", "rouge-2", "rouge-l", "bertscore-f1"):
        assert res.scores[m] == pytest.approx(1.0, abs=1e-4), m
    assert res.scores["meteor"] > 0.99
    assert res.per_instance["bleu-4"].shape == (2, 10)
    assert res.extra["bertscore_layer"] == 6 and res.extra["bleu_tokenizer"] == "13a"


@pytest.mark.parametrize("preds, message", [
    ([{"id": "rating/test/0", "output": "4"}], "1 missing ids: rating/test/1"),
    ([{"id": "rating/test/0", "output": "4"}, {"id": "rating/test/0", "output": "4"},
      {"id": "rating/test/1", "output": "4"}], "1 duplicate ids: rating/test/0"),
    ([{"id": "rating/test/0", "output": "4"}, {"id": "rating/test/1", "output": "4"},
      {"id": "rating/test/9", "output": "4"}], "1 unknown ids: rating/test/9"),
    ([{"id": "rating/test/0", "output": "4"}, {"output": "4"}], "without an \"id\""),
])
def test_coverage_errors_name_the_ids(preds, message):
    inst = frame("rating", 2, target_rating=[5.0, 3.0])
    with pytest.raises(ValueError, match=message):
        score_predictions("rating", inst, preds)


def test_missing_field_and_unknown_task():
    inst = frame("recommendation", 1, target_item=[1])
    with pytest.raises(ValueError, match="no 'ranked' field"):
        score_predictions("recommendation", inst, [{"id": "recommendation/test/0"}])
    with pytest.raises(ValueError, match="unknown task"):
        score_predictions("nope", inst, [])


def test_compare_runs_paired():
    n = 400
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 100, n)
    inst = frame("recommendation", n, target_item=targets)
    good = [{"id": f"recommendation/test/{i}", "ranked": [int(t)] if rng.random() < 0.6 else []} for i, t in enumerate(targets)]
    bad = [{"id": f"recommendation/test/{i}", "ranked": [int(t)] if rng.random() < 0.3 else []} for i, t in enumerate(targets)]
    out = compare_runs("recommendation", inst, good, bad, n_boot=500)
    assert out["metric"] == "hr@5" and out["diff"] == pytest.approx(out["a"] - out["b"])
    assert out["low"] > 0 and out["p_value"] < 0.01
    assert compare_runs("recommendation", inst, good, good, n_boot=100)["p_value"] == 1.0


def test_n_boot_checked_before_scoring():
    """0 skips the intervals of score_predictions; a negative count is an error, as is any count < 1
    for the paired comparison."""
    inst = frame("recommendation", 2, target_item=[1, 2])
    preds = [{"id": "recommendation/test/0", "ranked": [1]}, {"id": "recommendation/test/1", "ranked": []}]
    assert score_predictions("recommendation", inst, preds, n_boot=0).intervals == {}
    with pytest.raises(ValueError, match=r"n_boot must be an integer >= 0 \(0: no intervals\), got -5"):
        score_predictions("recommendation", inst, preds, n_boot=-5)
    for n_boot in (0, -5):
        with pytest.raises(ValueError, match=r"n_boot must be an integer >= 1, got"):
            compare_runs("recommendation", inst, preds, preds, n_boot=n_boot)
