"""Prediction records -> scores: the one function the evaluator and the leaderboard both call.

`score_predictions` turns the prediction lines of one task/split (format in `benchmark.eval.results`) into
the task's metrics (`benchmark.tasks.TASK_SPECS[task].metrics`), percentile-bootstrap 95% intervals for
every metric, and the per-instance data behind them. It is deterministic given its arguments, so a
leaderboard recomputing a submission gets the submitted numbers back.

`per_instance[metric]` is the data the metric is a statistic of: per-instance values for means
(hr@5, f1, mae, meteor, ...), squared errors for "rmse", sacrebleu sufficient statistics (n, d) for
"bleu-1"/"bleu-4". `statistic_for(metric)` gives the function from their column sums to the score.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.metrics import bootstrap, rating, ranking, selection
from benchmark.eval.results import TOP_K
from benchmark.tasks import LOWER_IS_BETTER, TASK_SPECS

ALPHA = 0.05
_SHOW = 5  # ids named in a coverage error, per kind


@dataclass
class ScoreResult:
    scores: dict[str, float]
    intervals: dict[str, list[float]]       # metric -> [low, high]; empty when n_boot == 0
    n: int
    extra: dict = field(default_factory=dict)
    per_instance: dict[str, np.ndarray] = field(default_factory=dict)


def statistic_for(metric: str) -> bootstrap.Statistic:
    """Function (column sums, n) -> score for the data in `per_instance[metric]`."""
    if metric in ("bleu-1", "bleu-4"):
        from benchmark.metrics.text import BleuStatistic

        return BleuStatistic(int(metric[-1]))
    if metric == "rmse":
        return bootstrap.rmse_statistic
    return bootstrap.mean_statistic


# ---- coverage ----------------------------------------------------------------------------------
def _first(ids) -> str:
    ids = sorted(map(str, ids))
    more = f", ... ({len(ids)} in all)" if len(ids) > _SHOW else ""
    return ", ".join(ids[:_SHOW]) + more


def align_predictions(task: str, instances: pd.DataFrame, predictions: Sequence[dict]) -> list[dict]:
    """The prediction records in instance order; ValueError unless ids match the instances exactly."""
    inst_ids = instances["id"].astype(str).tolist()
    pred_ids = [p.get("id") if isinstance(p, dict) else None for p in predictions]
    problems = []
    dup_inst = [i for i, c in Counter(inst_ids).items() if c > 1]
    if dup_inst:
        problems.append(f"duplicate instance ids: {_first(dup_inst)}")
    if any(i is None for i in pred_ids):
        problems.append(f"{sum(i is None for i in pred_ids)} prediction records without an \"id\"")
    counts = Counter(i for i in pred_ids if i is not None)
    known = set(inst_ids)
    missing = known - counts.keys()
    unknown = counts.keys() - known
    dups = [i for i, c in counts.items() if c > 1]
    if missing:
        problems.append(f"{len(missing)} missing ids: {_first(missing)}")
    if unknown:
        problems.append(f"{len(unknown)} unknown ids: {_first(unknown)}")
    if dups:
        problems.append(f"{len(dups)} duplicate ids: {_first(dups)}")
    if problems:
        raise ValueError(f"{task}: predictions do not cover the instances exactly: " + "; ".join(problems))
    by_id = {p["id"]: p for p in predictions}
    return [by_id[i] for i in inst_ids]


def _field(task: str, rec: dict, key: str):
    if key not in rec:
        raise ValueError(f"{task}: prediction {rec['id']!r} has no {key!r} field")
    return rec[key]


# ---- per-task data ---------------------------------------------------------------------------------
def _ranking_data(task, instances, recs):
    ranked = np.full((len(recs), TOP_K), ranking.PAD, dtype=np.int64)
    for i, rec in enumerate(recs):  # lists of unequal length from JSON: pad/truncate to TOP_K
        r = list(_field(task, rec, "ranked"))[:TOP_K]
        ranked[i, : len(r)] = r
    targets = instances["target_item"].to_numpy(dtype=np.int64)
    return ranking.ranking_metrics_from_topk(ranked, targets), {"top_k": TOP_K}


def _selection_data(task, instances, recs):
    selected = [_field(task, rec, "selected") for rec in recs]
    return selection.selection_metrics(selected, instances["target_items"].tolist()), {}


def _same_rating(recorded, parsed: float | None) -> bool:
    """The record's "rating" agrees with the parse of its "output" (float32 outputs written with str()
    differ from their float64 value in the 8th digit, hence the tolerance)."""
    if recorded is None or parsed is None:
        return recorded is None and parsed is None
    return abs(float(recorded) - parsed) <= 1e-6


def _rating_data(task, instances, recs, fallback):
    parsed = []
    for rec in recs:
        if "output" in rec:
            value = rating.parse_rating(rec["output"])
            if "rating" in rec and not _same_rating(rec["rating"], value):
                raise ValueError(
                    f"{task}: prediction {rec['id']!r}: \"rating\" {rec['rating']!r} is not the parse of "
                    f"\"output\" {rec['output']!r} ({value!r})"
                )
        else:
            value = rating.parse_rating(_field(task, rec, "rating"))
        parsed.append(value)
    per = rating.rating_metrics(parsed, instances["target_rating"].to_numpy(dtype=np.float64), fallback)
    data = {"mae": per["abs_error"], "rmse": per["sq_error"], "invalid_rate": per["invalid"]}
    return data, {"fallback_rating": float(fallback)}


def _text_data(task, instances, recs, bertscore_model, bertscore_layers):
    from benchmark.metrics import text

    hyps = [_field(task, rec, "text") for rec in recs]
    return text.text_metrics(
        hyps, instances["target_text"].tolist(), bertscore_model=bertscore_model, bertscore_layers=bertscore_layers
    )


def _image_data(task, instances, recs, dataset, run_dir):
    """Delegates to `benchmark.metrics.image.score_images(instances, predictions, dataset=, run_dir=)`,
    which returns {"per_instance": {metric: (n,) array}, "scores": {metric: float} (set-level metrics,
    no interval), "extra": {...}} (all keys optional)."""
    try:
        from benchmark.metrics.image import score_images
    except ImportError as e:
        raise NotImplementedError(f"image metrics unavailable: cannot import benchmark.metrics.image ({e})") from e
    out = score_images(instances, recs, dataset=dataset, run_dir=run_dir)
    extra = dict(out.get("extra", {}))
    extra["set_scores"] = {k: float(v) for k, v in out.get("scores", {}).items()}
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.get("per_instance", {}).items()}, extra


def _metric_data(task, instances, recs, *, dataset, run_dir, bertscore_model, bertscore_layers, fallback):
    if task in ("recommendation", "search"):
        return _ranking_data(task, instances, recs)
    if task == "selection":
        return _selection_data(task, instances, recs)
    if task == "rating":
        return _rating_data(task, instances, recs, fallback)
    if task == "explanation":
        return _text_data(task, instances, recs, bertscore_model, bertscore_layers)
    if task == "image":
        return _image_data(task, instances, recs, dataset, run_dir)
    raise ValueError(f"unknown task {task!r}; known: {tuple(TASK_SPECS)}")


# ---- scores and intervals ---------------------------------------------------------------------------
def _scores_and_intervals(per: dict[str, np.ndarray], n: int, n_boot: int, seed: int):
    scores = {m: float(statistic_for(m)(np.asarray(x, dtype=np.float64).sum(axis=0), n)) for m, x in per.items()}
    intervals: dict[str, list[float]] = {}
    if n_boot <= 0:
        return scores, intervals
    # Means are resampled together as one (n, m) matrix; the rest one by one. The indices depend only
    # on (seed, n, n_boot), so every metric sees the same resamples either way.
    means = [m for m in per if statistic_for(m) is bootstrap.mean_statistic]
    if means:
        low, high = bootstrap.bootstrap_ci(np.column_stack([per[m] for m in means]), n_boot=n_boot, seed=seed, alpha=ALPHA)
        for m, lo, hi in zip(means, np.atleast_1d(low), np.atleast_1d(high)):
            intervals[m] = [float(lo), float(hi)]
    for m in per:
        if m not in intervals:
            lo, hi = bootstrap.bootstrap_ci(per[m], statistic_for(m), n_boot=n_boot, seed=seed, alpha=ALPHA)
            intervals[m] = [float(lo), float(hi)]
    return scores, intervals


def score_predictions(
    task: str,
    instances: pd.DataFrame,
    predictions: Sequence[dict],
    dataset=None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    bertscore_model: str | None = None,
    bertscore_layers: int | None = None,
    fallback_rating: float = rating.FALLBACK_RATING,
    run_dir: str | Path | None = None,
) -> ScoreResult:
    """Scores, 95% percentile-bootstrap intervals (n_boot resamples, `seed`), n, extra, per-instance data.

    instances: the task split's frame (layout.INSTANCE_COLUMNS); predictions: one record per instance,
    in any order, ids matching the instances exactly (else ValueError naming the offending ids).
    dataset / run_dir are needed by the image task only; bertscore_* by explanation; fallback_rating by
    rating. n_boot=0 skips the intervals.
    """
    if task not in TASK_SPECS:
        raise ValueError(f"unknown task {task!r}; known: {tuple(TASK_SPECS)}")
    if len(instances) == 0:
        raise ValueError(f"{task}: no instances to score")
    recs = align_predictions(task, instances, predictions)
    instances = instances.reset_index(drop=True)
    per, extra = _metric_data(
        task, instances, recs, dataset=dataset, run_dir=run_dir,
        bertscore_model=bertscore_model, bertscore_layers=bertscore_layers, fallback=fallback_rating,
    )
    n = len(recs)
    scores, intervals = _scores_and_intervals(per, n, n_boot, seed)
    scores.update(extra.pop("set_scores", {}))
    extra.update({"n_boot": n_boot, "bootstrap_seed": seed, "ci": "percentile", "alpha": ALPHA})
    order = [m for m in TASK_SPECS[task].metrics if m in scores] + [m for m in scores if m not in TASK_SPECS[task].metrics]
    return ScoreResult(
        scores={m: scores[m] for m in order},
        intervals={m: intervals[m] for m in order if m in intervals},
        n=n,
        extra=extra,
        per_instance=per,
    )


def compare_runs(
    task: str,
    instances: pd.DataFrame,
    preds_a: Sequence[dict],
    preds_b: Sequence[dict],
    dataset=None,
    *,
    metric: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    run_dirs: tuple[str | Path | None, str | Path | None] = (None, None),
    **score_kwargs,
) -> dict:
    """Paired bootstrap of run a vs run b on `metric` (default: the task's main score). `run_dirs`:
    the runs' folders, which image predictions' paths are relative to.

    Returns {"metric", "a", "b", "diff" (a - b), "low", "high", "p_value", "n", "higher_is_better"}.
    """
    spec = TASK_SPECS[task]
    metric = metric or spec.main_score
    ra = score_predictions(task, instances, preds_a, dataset, n_boot=0, seed=seed, run_dir=run_dirs[0], **score_kwargs)
    rb = score_predictions(task, instances, preds_b, dataset, n_boot=0, seed=seed, run_dir=run_dirs[1], **score_kwargs)
    if metric not in ra.per_instance:
        raise ValueError(f"{task}: no per-instance data for {metric!r} (set-level metric?)")
    out = bootstrap.paired_bootstrap(
        ra.per_instance[metric], rb.per_instance[metric], statistic_for(metric), n_boot=n_boot, seed=seed, alpha=ALPHA
    )
    return {"metric": metric, "a": ra.scores[metric], "b": rb.scores[metric], **out, "n": ra.n,
            "higher_is_better": metric not in LOWER_IS_BETTER}
