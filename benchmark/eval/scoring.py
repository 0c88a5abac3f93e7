"""Prediction records -> scores: the one function the evaluator and the leaderboard both call.

`score_predictions` turns the prediction lines of one task/split (format in `benchmark.eval.results`) into
the task's metrics (`benchmark.tasks.TASKS[task].metrics`), percentile-bootstrap 95% intervals for
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

from benchmark.metrics import bootstrap, rating
from benchmark.metrics.registry import METRICS
from benchmark.metrics.text import BleuStatistic
from benchmark.tasks import TASKS
from benchmark.tasks.base import ScoreSettings

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
    """Function (column sums, n) -> score for the data in `per_instance[metric]` (the registry's statistic)."""
    kind = METRICS[metric].statistic if metric in METRICS else "mean"
    if kind == "bleu":
        return BleuStatistic(int(metric[-1]))
    if kind == "rmse":
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
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {tuple(TASKS)}")
    bootstrap.check_n_boot(n_boot, least=0)
    spec = TASKS[task]
    if len(instances) == 0:
        raise ValueError(f"{task}: no instances to score")
    recs = align_predictions(task, instances, predictions)
    instances = instances.reset_index(drop=True)
    settings = ScoreSettings(dataset=dataset, run_dir=Path(run_dir) if run_dir is not None else None,
                             bertscore_model=bertscore_model, bertscore_layers=bertscore_layers,
                             fallback_rating=fallback_rating)
    per, extra = spec.metric_data(instances, recs, settings)
    n = len(recs)
    scores, intervals = _scores_and_intervals(per, n, n_boot, seed)
    scores.update(extra.pop("set_scores", {}))
    extra.update({"n_boot": n_boot, "bootstrap_seed": seed, "ci": "percentile", "alpha": ALPHA})
    order = [m for m in spec.metrics if m in scores] + [m for m in scores if m not in spec.metrics]
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
    metric = metric or TASKS[task].main_score
    bootstrap.check_n_boot(n_boot)  # before scoring both runs
    ra = score_predictions(task, instances, preds_a, dataset, n_boot=0, seed=seed, run_dir=run_dirs[0], **score_kwargs)
    rb = score_predictions(task, instances, preds_b, dataset, n_boot=0, seed=seed, run_dir=run_dirs[1], **score_kwargs)
    out = compare_scored(rb, ra, metric, n_boot=n_boot, seed=seed)  # diff = a - b
    return {"metric": metric, "a": out["score"], "b": out["baseline"], "diff": out["diff"], "low": out["low"],
            "high": out["high"], "p_value": out["p_value"], "n": out["n"], "higher_is_better": out["higher_is_better"]}


def compare_scored(baseline: ScoreResult, other: ScoreResult, metric: str, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """Paired bootstrap of two scored runs on the same instances: {"metric", "baseline", "score", "diff"
    (score - baseline), "low", "high" (95% percentile interval of the difference), "p_value", "n",
    "higher_is_better"}."""
    bootstrap.check_n_boot(n_boot)
    if metric not in baseline.per_instance or metric not in other.per_instance:
        raise ValueError(f"no per-instance data for {metric!r} (set-level metric?)")
    out = bootstrap.paired_bootstrap(other.per_instance[metric], baseline.per_instance[metric], statistic_for(metric),
                                     n_boot=n_boot, seed=seed, alpha=ALPHA)
    return {"metric": metric, "baseline": baseline.scores[metric], "score": other.scores[metric], **out,
            "n": baseline.n, "higher_is_better": METRICS[metric].higher_is_better}
