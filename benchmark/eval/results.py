"""Run folders and result files (written by `unimp-bench run`, read by the leaderboard).

A run folder::

    results.json                     the self-describing result file (schema below)
    config.json                      the model config as given
    predictions/<task>__<split>.jsonl   one JSON object per instance, from which every score is recomputed
    images/<task>__<split>/<id>.png  generated images (image task)
    summary.md                       paper-style tables
    model/                           anything the model writes (checkpoints, RecBole logs)

The run id is a plain name (see `check_run_id`), so the folder is always <out>/<run-id>. It is built as
<out>/.<run-id>.partial-<pid> and renamed only when the run completes (benchmark.data.io.staged_dir).

results.json::

    {
      "schema_version": 1,
      "run_id": str, "created": ISO time,
      "model": {"name": str, "revision": str, "config": {...} (as given),
                "details": {...} (what the model reports: resolved hyper-parameters, loss, choices on valid)},
      "dataset": {"name": str, "sha256": str, "seed": int, "scale": str|None, "source": str},
      "seed": int, "perturbation": null | "NT" | "NV",
      "environment": {"python": str, "platform": str, "packages": {name: version}, "git": str|None},
      "wall_time_s": float,
      "results": [
        {"task": str, "task_version": str, "split": str,
         "status": "ok" | "unsupported" | "error" | "unscored", "error": str|None,
         "n": int,                                   # instances scored
         "scores": {metric: float},                  # e.g. "hr@5", "mae", "bleu-4"
         "intervals": {metric: [low, high]},         # percentile-bootstrap 95% CI of every metric
         "main_score": str,
         "extra": {...},                             # e.g. {"bertscore_model": ..., "fallback_rating": 3}
         "predictions": "predictions/<task>__<split>.jsonl" | null,
         "predictions_sha256": str | null,
         "wall_time_s": float}
      ]
    }

Prediction lines by task (every line has "id", the instance id; each task declares its fields,
`benchmark.tasks.TASKS[task].line_fields`):
    recommendation, search, search-catalogue: {"id", "ranked": [top-10 item tokens, best first, history and
                             items outside the task's candidates already removed]}
    selection:              {"id", "selected": [tokens], "scores": [float per candidate]}
    rating:                 {"id", "output": str (raw), "rating": float | null (null = unparseable)}
    explanation:            {"id", "text": str}
    image:                  {"id", "image": "images/<task>__<split>/<id>.png"[, "retrieved": [item tokens]]
                             [, "token_nll": float, "token_accuracy": float]}
"""
from __future__ import annotations

import re

SCHEMA_VERSION = 1
# "unscored": predictions written, but the split's answers are sealed and no labels folder was given
STATUSES = ("ok", "unsupported", "error", "unscored")


def predictions_name(task: str, split: str) -> str:
    return f"predictions/{task}__{split}.jsonl"


def check_run_id(run_id: str) -> str:
    """A run id names one folder inside --out: letters, digits and `._-` only, no `..` (so never a path), and a
    letter or digit first (so never a hidden name, which staging folders use)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", run_id) or ".." in run_id:
        raise ValueError(f"--run-id {run_id!r} is not a plain folder name: use letters, digits and . _ - , starting "
                         "with a letter or digit (no slashes, no '..'); the run folder is always created inside --out")
    return run_id
