"""Rating (Table 2(b)): predict the star rating 1-5; raw outputs are parsed, unparseable ones counted."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.metrics import rating
from benchmark.tasks.base import TaskSpec, batches, is_finite_number, line_field


def _same_rating(recorded, parsed: float | None) -> bool:
    """The record's "rating" agrees with the parse of its "output" (float32 outputs written with str()
    differ from their float64 value in the 8th digit, hence the tolerance)."""
    if recorded is None or parsed is None:
        return recorded is None and parsed is None
    return abs(float(recorded) - parsed) <= 1e-6


class RatingAnswer(str):
    """A raw rating output (`predict_rating`) that also carries the model's expectation read-out, sum of
    r * P(r) over the five ratings: recorded as the line's "expectation" field and scored as
    mae-expectation / rmse-expectation, so one trained model gives both read-outs."""

    expectation: float

    def __new__(cls, output: str, expectation: float):
        answer = super().__new__(cls, output)
        answer.expectation = float(expectation)
        return answer


@dataclass(frozen=True)
class Rating(TaskSpec):
    line_fields: tuple[str, ...] = ("output", "rating")
    optional_fields: tuple[str, ...] = ("expectation",)

    def build(self, builder, split, ev):
        ratings = builder.seqs.frame["rating"].to_numpy(np.float64)[ev.target]
        keep = ~np.isnan(ratings)
        return builder.about_item(self, split, ev, keep, target_rating=ratings[keep])

    def predict(self, model, split, data, instances, run_dir):
        outs = [o for batch in batches(instances, f"{model.name} {self.name}/{split}") for o in model.predict_rating(batch)]
        lines = [{"id": i, "output": str(o), "rating": rating.parse_rating(o)} for i, o in zip(instances["id"].tolist(), outs)]
        for line, o in zip(lines, outs):
            if isinstance(o, RatingAnswer):
                line["expectation"] = o.expectation
        return lines

    def check_line(self, row, split):
        problems = []
        if not isinstance(row["output"], str):
            problems.append(("output", "must be a string"))
        r = row["rating"]
        if r is not None and not is_finite_number(r):
            problems.append(("rating", "must be a finite number (or null when unparseable)"))
        elif r is not None and not 1 <= r <= 5:
            problems.append(("rating", "must be in [1, 5] (or null when unparseable)"))
        if "expectation" in row and not (is_finite_number(row["expectation"]) and 1 <= row["expectation"] <= 5):
            problems.append(("expectation", "must be a number in [1, 5]"))
        return problems

    def scorer_settings(self, extra):
        fallback = extra.get("fallback_rating")
        return {"fallback_rating": float(fallback)} if is_finite_number(fallback) else {}

    def metric_data(self, instances, recs, settings):
        parsed = []
        for rec in recs:
            if "output" in rec:
                value = rating.parse_rating(rec["output"])
                if "rating" in rec and not _same_rating(rec["rating"], value):
                    raise ValueError(
                        f"{self.name}: prediction {rec['id']!r}: \"rating\" {rec['rating']!r} is not the parse of "
                        f"\"output\" {rec['output']!r} ({value!r})"
                    )
            else:
                value = rating.parse_rating(line_field(self.name, rec, "rating"))
            parsed.append(value)
        per = rating.rating_metrics(parsed, instances["target_rating"].to_numpy(dtype=np.float64), settings.fallback_rating)
        data = {"mae": per["abs_error"], "rmse": per["sq_error"], "invalid_rate": per["invalid"]}
        if recs and all("expectation" in rec for rec in recs):  # the model's second read-out, on every line
            exp = rating.rating_metrics([rec["expectation"] for rec in recs], instances["target_rating"].to_numpy(dtype=np.float64))
            data.update({"mae-expectation": exp["abs_error"], "rmse-expectation": exp["sq_error"]})
        return data, {"fallback_rating": float(settings.fallback_rating)}


TASK = Rating(
    "rating", "1", "predict_rating", "Given [Item], can you predict the preference level of the user to the product?",
    ("mae", "rmse", "invalid_rate", "mae-expectation", "rmse-expectation"), "mae", "Table 2(b)", "Table 2(b) - rating",
    ("mae", "rmse", "invalid_rate", "mae-expectation", "rmse-expectation"),
    answers=("target_rating",),
)
