"""A rating answer may carry a second read-out of the same model (`RatingAnswer`, its expectation): the
prediction line records it and the scorer reports mae-expectation / rmse-expectation with intervals."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.api import RatingAnswer
from benchmark.data.dataset import PreparedDataset
from benchmark.eval.scoring import score_predictions
from benchmark.eval.summary import summary_markdown
from benchmark.tasks import TASKS

RATING = TASKS["rating"]


class TwoReadouts:
    name = "two-readouts"

    def predict_rating(self, requests):
        e = 1.0 + 4.0 * (np.arange(len(requests)) % 7) / 6.0  # 1 .. 5
        return [RatingAnswer(str(int(round(x))), x) for x in e]


class OneReadout:
    name = "one-readout"

    def predict_rating(self, requests):
        return ["5"] * len(requests)


def test_expectation_is_recorded_and_scored_beside_the_answer(tiny_data, tiny_labels, tmp_path):
    data, scoring = PreparedDataset(tiny_data), PreparedDataset(tiny_data, labels=tiny_labels)
    lines = RATING.predict(TwoReadouts(), "test", data, RATING.load(data, "test"), tmp_path)
    assert all(set(line) == {"id", "output", "rating", "expectation"} for line in lines)
    assert all(RATING.check_line(line, "test") == [] for line in lines)
    answers = RATING.load(scoring, "test")
    res = score_predictions("rating", answers, lines, scoring, n_boot=50)
    y = answers["target_rating"].to_numpy(dtype=np.float64)
    e = np.array([line["expectation"] for line in lines])
    assert res.scores["mae-expectation"] == pytest.approx(np.abs(e - y).mean())
    assert res.scores["rmse-expectation"] == pytest.approx(np.sqrt(((e - y) ** 2).mean()))
    assert res.scores["mae"] == pytest.approx(np.abs(np.round(e) - y).mean())  # the main answer, unchanged
    lo, hi = res.intervals["mae-expectation"]
    assert lo <= res.scores["mae-expectation"] <= hi
    plain = RATING.predict(OneReadout(), "test", data, RATING.load(data, "test"), tmp_path)
    assert "expectation" not in plain[0]
    assert "mae-expectation" not in score_predictions("rating", answers, plain, scoring, n_boot=0).scores
    assert RATING.check_line(dict(lines[0], expectation=5.5), "test") == [("expectation", "must be a number in [1, 5]")]
    doc = {"model": {"name": "two-readouts"}, "results": [{"task": "rating", "split": "test", "status": "ok",
                                                          "scores": res.scores, "intervals": res.intervals}]}
    table = summary_markdown([doc])
    assert "| mae | rmse | invalid_rate | mae-expectation | rmse-expectation |" in table
    assert f"{res.scores['mae-expectation']:.4f} [{lo:.4f}, {hi:.4f}]" in table
