"""Metrics against hand-computed values (and against the reference libraries where they exist)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmark.metrics import bootstrap, ranking, rating, selection
from benchmark.metrics.registry import RANKING_METRICS

# ---- ranking ------------------------------------------------------------------------------------
# 2 users x 6 items. Item 4 is outside the catalogue; user 0 has item 0 in history, user 1 item 3.
SCORES = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
                   [0.1, 0.5, 0.5, 0.9, 0.95, 0.2]], dtype=np.float32)
ALLOWED = np.array([True, True, True, True, False, True])
HISTORY = [[0], [3]]


def test_topk_removes_history_and_out_of_catalogue_and_pads():
    # user 0: 0 (history) and 4 (catalogue) go, leaving 1,2,3,5; user 1: 3 and 4 go, leaving
    # 1 (0.5), 2 (0.5), 5 (0.2), 0 (0.1), the tie 1/2 broken by the lower token.
    got = ranking.topk_after_masking(SCORES, 5, HISTORY, ALLOWED)
    np.testing.assert_array_equal(got, [[1, 2, 3, 5, -1], [1, 2, 5, 0, -1]])
    assert ranking.topk_after_masking(torch.from_numpy(SCORES), 2, HISTORY, None).tolist() == [[1, 2], [4, 1]]
    assert SCORES[0, 0] == np.float32(0.9)  # input untouched


def test_topk_tie_straddling_the_cut_takes_lower_token():
    scores = np.array([[0.0, 1.0, 1.0, 1.0, 2.0, np.nan]])
    assert ranking.topk_after_masking(scores, 3, [[]], None).tolist() == [[4, 1, 2]]
    # NaN ranks below every real score but above removed items
    assert ranking.topk_after_masking(scores, 6, [[1]], None).tolist() == [[4, 2, 3, 0, 5, -1]]


def test_target_ranks_pessimistic_ties_and_removed_targets():
    # user 0 target 3: 1, 2 beat it -> 3. user 1 target 1: tied with 2 -> pessimistic rank 2.
    np.testing.assert_array_equal(ranking.target_ranks(SCORES, [3, 1], HISTORY, ALLOWED), [3, 2])
    # a target in the history or outside the catalogue is a miss: N + 1
    np.testing.assert_array_equal(ranking.target_ranks(SCORES, [0, 4], HISTORY, ALLOWED), [7, 7])


def test_ranking_metrics_hand_computed():
    ranked = ranking.topk_after_masking(SCORES, 10, HISTORY, ALLOWED)
    m = ranking.ranking_metrics_from_topk(ranked, [3, 2])      # ranks 3 and 2
    assert tuple(m) == RANKING_METRICS
    for k in (3, 5, 10):
        np.testing.assert_allclose(m[f"hr@{k}"], [1, 1])
        np.testing.assert_allclose(m[f"ndcg@{k}"], [0.5, 1 / math.log2(3)])
        np.testing.assert_allclose(m[f"mrr@{k}"], [1 / 3, 1 / 2])
    # rank 4: a miss at 3, a hit at 5 and 10; absent target: a miss everywhere
    m = ranking.ranking_metrics_from_topk(np.array([[9, 8, 7, 6, 5], [1, 2, 3, -1, -1]]), [6, 4])
    np.testing.assert_allclose([m["hr@3"][0], m["hr@5"][0], m["ndcg@5"][0], m["mrr@10"][0]], [0, 1, 1 / math.log2(5), 0.25])
    assert all(m[k][1] == 0 for k in RANKING_METRICS)


def test_ranking_metrics_from_ranks_match_topk_without_ties():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((50, 40)).astype(np.float32)
    hist = [rng.choice(40, 3, replace=False) for _ in range(50)]
    allowed = rng.random(40) < 0.8
    targets = np.array([rng.choice(np.setdiff1d(np.flatnonzero(allowed), h)) for h in hist])
    a = ranking.ranking_metrics_from_topk(ranking.topk_after_masking(scores, 10, hist, allowed, batch_size=7), targets)
    b = ranking.ranking_metrics_from_ranks(ranking.target_ranks(scores, targets, hist, allowed, batch_size=7))
    for k in RANKING_METRICS:
        np.testing.assert_allclose(a[k], b[k])


# ---- selection ------------------------------------------------------------------------------------
def test_selection_prf_hand_computed():
    m = selection.selection_metrics([[1, 2], [], [5, 6, 7], [8, 8]], [[2, 3], [4], [5], [8, 9]])
    np.testing.assert_allclose(m["precision"], [0.5, 0.0, 1 / 3, 1.0])   # empty selection: precision 0
    np.testing.assert_allclose(m["recall"], [0.5, 0.0, 1.0, 0.5])
    np.testing.assert_allclose(m["f1"], [0.5, 0.0, 0.5, 2 / 3])


def test_choose_and_apply_threshold():
    scores = [[0.9, 0.1, 0.6], [0.8, 0.3, 0.2]]
    cands = [[1, 2, 3], [4, 5, 6]]
    positives = [[1, 3], [4]]
    t = selection.choose_threshold(scores, positives, cands)
    assert t == pytest.approx(0.45)  # midpoint of 0.3 and 0.6: the only cut with F1 = 1 on both rows
    assert selection.apply_threshold(scores, cands, t) == [[1, 3], [4]]
    assert selection.choose_threshold([[1.0, 1.0]], [[7, 8]], [[7, 8]]) == -np.inf  # select all


# ---- rating ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    ("4", 4.0), ("4.0", 4.0), (" rating: 4", 4.0), ("rate_4", 4.0), ("3.5 stars", 3.5),
    ("9", 5.0), ("0", 1.0), (2, 2.0), (4.5, 4.5), ("great product", None), ("", None), (None, None),
    (float("nan"), None),
])
def test_parse_rating(raw, expected):
    assert rating.parse_rating(raw) == expected


def test_rating_metrics_with_fallback():
    per = rating.rating_metrics([4.0, None, 2.0], [5.0, 3.0, 4.0])       # errors -1, 0 (fallback 3), -2
    agg = rating.aggregate_rating(per)
    assert agg == pytest.approx({"mae": 1.0, "rmse": math.sqrt(5 / 3), "invalid_rate": 1 / 3})
    per = rating.rating_metrics([None], [5.0], fallback=1.0)
    assert rating.aggregate_rating(per)["mae"] == 4.0


# ---- text -----------------------------------------------------------------------------------------
HYPS = ["the cat sat on the mat", "this sofa is very comfortable and soft", "great for kids"]
REFS = ["the cat sat on the red mat", "a comfortable soft sofa", "my kids love it"]


def test_bleu_matches_sacrebleu_and_identity():
    import sacrebleu
    from sacrebleu.metrics import BLEU

    from benchmark.metrics import text

    assert text.corpus_bleu(HYPS, REFS, 4) == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score / 100)
    assert text.corpus_bleu(HYPS, REFS, 1) == pytest.approx(BLEU(max_ngram_order=1).corpus_score(HYPS, [REFS]).score / 100)
    assert 0 < text.corpus_bleu(HYPS, REFS, 4) < text.corpus_bleu(HYPS, REFS, 1) < 1
    assert text.corpus_bleu(REFS, REFS, 4) == pytest.approx(1.0)
    # per-sentence statistics: [hyp_len, ref_len, correct_1, total_1] for BLEU-1
    assert text.bleu_stats(HYPS[:1], REFS[:1], 1).tolist() == [[6, 7, 6, 6]]


def test_rouge_identical_and_disjoint():
    from benchmark.metrics import text

    r = text.rouge(["the cat sat", "red apples"], ["the cat sat", "blue oceans"])
    for k in ("rouge-1", "rouge-2", "rouge-l"):
        np.testing.assert_allclose(r[k], [1.0, 0.0])
    assert text.rouge(["cats running"], ["cat runs"])["rouge-1"][0] == 1.0  # stemmer on


def test_meteor_offline():
    from benchmark.metrics import text

    m = text.meteor(["the cat sat on the mat", "quantum physics lecture", ""],
                    ["the cat sat on the mat", "my dog likes bananas", "anything"])
    assert m[0] == pytest.approx(0.998, abs=1e-3)
    assert m[1] == 0.0 and m[2] == 0.0
    # WordNet synonyms work (sofa ~ couch), which proves the offline WordNet is loaded
    assert text.meteor(["a very comfortable sofa"], ["a very comfortable couch"])[0] > 0.9


def test_bertscore_local_model():
    from benchmark.metrics import text

    f1, extra = text.bertscore(["the cat sat on the mat", "quantum chromodynamics lattice", ""],
                               ["the cat sat on the mat", "i love this shampoo", "x"])
    assert f1[0] == pytest.approx(1.0, abs=1e-4)
    assert f1[1] < 0.3
    assert f1[2] == 0.0
    assert extra == {"bertscore_model": text.DEFAULT_BERTSCORE_NAME, "bertscore_layer": 6}


# ---- bootstrap ------------------------------------------------------------------------------------
def test_bootstrap_ci_contains_mean_narrows_and_is_deterministic():
    rng = np.random.default_rng(1)
    widths = []
    for n in (100, 10_000):
        x = (rng.random(n) < 0.3).astype(float)
        low, high = bootstrap.bootstrap_ci(x, n_boot=500, seed=0)
        assert low < x.mean() < high
        widths.append(high - low)
        # percentile CI of a proportion: ~ 2 * 1.96 * sqrt(p (1 - p) / n)
        assert high - low == pytest.approx(2 * 1.96 * math.sqrt(0.21 / n), rel=0.2)
    assert widths[1] < widths[0] / 5
    assert bootstrap.bootstrap_ci(x, n_boot=200, seed=3) == bootstrap.bootstrap_ci(x, n_boot=200, seed=3)


def test_bootstrap_vector_and_custom_statistics():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 2)) + [0, 10]
    low, high = bootstrap.bootstrap_ci(x, n_boot=300)
    assert low.shape == (2,) and (low < x.mean(0)).all() and (x.mean(0) < high).all()
    # one column alone gets the same interval: the resamples depend only on (seed, n, n_boot)
    assert bootstrap.bootstrap_ci(x[:, 1], n_boot=300) == pytest.approx((low[1], high[1]))
    sq = rng.random(200) * 4
    lo, hi = bootstrap.bootstrap_ci(sq, bootstrap.rmse_statistic, n_boot=300)
    assert lo < math.sqrt(sq.mean()) < hi


def test_paired_bootstrap_detects_clear_difference_and_not_a_null_one():
    rng = np.random.default_rng(3)
    a = (rng.random(1000) < 0.6).astype(float)
    b = (rng.random(1000) < 0.4).astype(float)
    out = bootstrap.paired_bootstrap(a, b, n_boot=1000, seed=0)
    assert out["diff"] == pytest.approx(a.mean() - b.mean())
    assert 0 < out["low"] < out["diff"] < out["high"]
    assert out["p_value"] < 0.01
    same = bootstrap.paired_bootstrap(a, a, n_boot=200)
    assert same["diff"] == 0 and same["p_value"] == 1.0
    # paired beats unpaired: b = a + small noise is a clear (if small) improvement
    c = a + 0.01 * (rng.random(1000) < 0.5)
    assert bootstrap.paired_bootstrap(c, a, n_boot=500)["p_value"] < 0.01


@pytest.mark.parametrize("n_boot", [0, -5, 2.5, True])
def test_bootstrap_needs_at_least_one_resample(n_boot):
    x = np.arange(10.0)
    calls = (lambda: bootstrap.bootstrap_ci(x, n_boot=n_boot), lambda: bootstrap.bootstrap_distribution(x, n_boot=n_boot),
             lambda: bootstrap.paired_bootstrap(x, x[::-1], n_boot=n_boot))
    for call in calls:
        with pytest.raises(ValueError, match=r"n_boot must be an integer >= 1, got"):
            call()
    assert bootstrap.bootstrap_distribution(x, n_boot=1).shape == (1,)


def test_bleu_statistic_bootstrap():
    from benchmark.metrics import text

    stats = text.bleu_stats(HYPS * 10, REFS * 10, 4)
    stat = text.BleuStatistic(4)
    assert stat(stats.sum(0)) == pytest.approx(text.corpus_bleu(HYPS, REFS, 4))
    low, high = bootstrap.bootstrap_ci(stats, stat, n_boot=200)
    assert low <= stat(stats.sum(0)) <= high
