"""Schema checks for results.json (see `benchmark.eval.results`) and model_meta.json.

Unknown and missing fields are both rejected, types are checked (bool is never taken for a number),
numbers must be finite and inside each metric's range. Dataset-dependent checks (ids, recomputed
scores) live in `leaderboard.validate`.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Callable

from benchmark.data import layout
from benchmark.eval.results import SCHEMA_VERSION, STATUSES, predictions_name
from benchmark.metrics.registry import METRICS
from benchmark.tasks import TASKS
from leaderboard.common import Problem, check_relpath

Check = Callable[[Any], "str | None"]


# Closed range of every metric (benchmark.metrics.registry); None bound = unbounded on that side.
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {m.name: m.range for m in METRICS.values()}


def metric_lower_is_better(metric: str) -> bool:
    return not METRICS[metric].higher_is_better if metric in METRICS else False


# ---- small type checks: each returns None when fine, else what is wrong ---------------------------
def is_str(v) -> str | None:
    return None if isinstance(v, str) else f"must be a string, got {type(v).__name__}"


MAX_LABEL = 200  # characters of any string shown on the leaderboard (names, revisions, meta)


def is_label(v) -> str | None:
    """A short display string: a non-empty string of at most MAX_LABEL characters."""
    if not isinstance(v, str) or not v.strip():
        return "must be a non-empty string"
    return None if len(v) <= MAX_LABEL else f"longer than {MAX_LABEL} characters"


def is_opt_label(v) -> str | None:
    return None if v is None else is_label(v)


def is_opt_str(v) -> str | None:
    return None if v is None or isinstance(v, str) else f"must be a string or null, got {type(v).__name__}"


def is_int(v) -> str | None:
    return None if isinstance(v, int) and not isinstance(v, bool) else f"must be an integer, got {type(v).__name__}"


def is_number(v) -> str | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return f"must be a number, got {type(v).__name__}"
    return None if math.isfinite(v) else "must be finite (no NaN/Infinity)"


def is_nonneg_number(v) -> str | None:
    return is_number(v) or (None if v >= 0 else "must be >= 0")


def is_dict(v) -> str | None:
    return None if isinstance(v, dict) else f"must be an object, got {type(v).__name__}"


def is_opt_int(v) -> str | None:
    return None if v is None else is_int(v)


def is_iso_time(v) -> str | None:
    if not isinstance(v, str):
        return "must be an ISO 8601 time string"
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return f"{v!r} is not an ISO 8601 time"
    return None


def one_of(*allowed) -> Check:
    def check(v) -> str | None:
        return None if v in allowed else f"must be one of {list(allowed)}, got {v!r}"
    return check


def is_str_dict(v) -> str | None:
    if not isinstance(v, dict) or not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        return "must be an object of strings"
    return None


def is_str_or_str_list(v) -> str | None:
    if v is None or (isinstance(v, list) and len(v) <= 50 and all(is_label(x) is None for x in v)):
        return None
    if isinstance(v, str):
        return is_label(v)
    return f"must be a string, a list of at most 50 strings (each at most {MAX_LABEL} characters) or null"


def check_object(obj, fields: dict[str, Check], sub: str, where: str) -> list[Problem]:
    """Exactly `fields`, each passing its check."""
    if not isinstance(obj, dict):
        return [Problem(sub, where or "(top level)", f"must be an object, got {type(obj).__name__}")]
    prefix = f"{where}." if where else ""
    problems = [Problem(sub, prefix + k, "unknown field") for k in sorted(set(obj) - set(fields))]
    problems += [Problem(sub, prefix + k, "missing field") for k in fields if k not in obj and k not in OPTIONAL]
    for k, check in fields.items():
        if k in obj and (why := check(obj[k])):
            problems.append(Problem(sub, prefix + k, why))
    return problems


# ---- results.json ----------------------------------------------------------------------------------
TOP_FIELDS: dict[str, Check] = {
    "schema_version": lambda v: is_int(v) or (None if v == SCHEMA_VERSION else f"must be {SCHEMA_VERSION}"),
    "run_id": is_str, "created": is_iso_time,
    "model": is_dict, "dataset": is_dict, "seed": is_int,
    "perturbation": one_of(None, "NT", "NV"),
    "environment": is_dict, "wall_time_s": is_nonneg_number, "results": lambda v: None if isinstance(v, list) else "must be a list",
}
# Fields that may be absent (results written before `model.details` existed have none).
OPTIONAL = {"details"}
MODEL_FIELDS: dict[str, Check] = {"name": is_label, "revision": is_label, "config": is_dict, "details": is_dict}
DATASET_FIELDS: dict[str, Check] = {"name": is_label, "sha256": is_str, "seed": is_int, "scale": is_opt_label, "source": is_str}
ENV_FIELDS: dict[str, Check] = {"python": is_str, "platform": is_str, "packages": is_str_dict, "git": is_opt_str}
ENTRY_FIELDS: dict[str, Check] = {
    "task": one_of(*TASKS), "task_version": is_str, "split": one_of(*layout.TASK_SPLITS),
    "status": one_of(*STATUSES), "error": is_opt_str, "n": lambda v: is_int(v) or (None if v >= 0 else "must be >= 0"),
    "scores": is_dict, "intervals": is_dict, "main_score": is_str, "extra": is_dict,
    "predictions": is_opt_str, "predictions_sha256": is_opt_str, "wall_time_s": is_nonneg_number,
}

META_FIELDS: dict[str, Check] = {
    "name": is_label, "revision": is_label, "parameters": is_opt_int, "training_data": is_str_or_str_list,
    "license": is_opt_label, "reference": is_opt_label, "ablation": is_opt_label,
}


def check_metric_value(metric: str, v, sub: str, field: str) -> list[Problem]:
    if why := is_number(v):
        return [Problem(sub, field, why)]
    lo, hi = METRIC_RANGES.get(metric, (None, None))
    if (lo is not None and v < lo - 1e-12) or (hi is not None and v > hi + 1e-12):
        return [Problem(sub, field, f"{v} is outside the range [{lo}, {hi}] of {metric}")]
    return []


def check_entry(e: dict, i: int, sub: str) -> list[Problem]:
    """One element of `results` (its fields already exist and have the right types)."""
    where = f"results[{i}]"
    spec = TASKS[e["task"]]
    problems: list[Problem] = []
    if e["task_version"] != spec.version:
        problems.append(Problem(sub, f"{where}.task_version", f"{e['task_version']!r} is not the current version {spec.version!r} of {spec.name}"))
    if e["main_score"] != spec.main_score:
        problems.append(Problem(sub, f"{where}.main_score", f"must be {spec.main_score!r} for {spec.name}"))
    for m in sorted(e["scores"]):
        if m not in spec.metrics:
            problems.append(Problem(sub, f"{where}.scores.{m}", f"unknown metric for {spec.name}"))
        else:
            problems += check_metric_value(m, e["scores"][m], sub, f"{where}.scores.{m}")
    for m in sorted(e["intervals"]):
        iv, f = e["intervals"][m], f"{where}.intervals.{m}"
        if m not in e["scores"]:
            problems.append(Problem(sub, f, "interval for a metric without a score"))
        elif not (isinstance(iv, list) and len(iv) == 2):
            problems.append(Problem(sub, f, "must be [low, high]"))
        else:
            bad = check_metric_value(m, iv[0], sub, f + "[0]") + check_metric_value(m, iv[1], sub, f + "[1]")
            problems += bad
            if not bad and iv[0] > iv[1]:
                problems.append(Problem(sub, f, f"low {iv[0]} > high {iv[1]}"))
    if e["status"] == "ok":
        if e["error"] is not None:
            problems.append(Problem(sub, f"{where}.error", "must be null when status is ok"))
        if spec.main_score not in e["scores"]:
            problems.append(Problem(sub, f"{where}.scores", f"main score {spec.main_score!r} missing"))
        if e["predictions"] is None or e["predictions_sha256"] is None:
            problems.append(Problem(sub, f"{where}.predictions", "an ok result needs its predictions file and sha256"))
        elif e["predictions"] != predictions_name(e["task"], e["split"]):
            why = check_relpath(e["predictions"]) or f"must be {predictions_name(e['task'], e['split'])!r}"
            problems.append(Problem(sub, f"{where}.predictions", why))
    else:
        if e["scores"] or e["intervals"]:
            problems.append(Problem(sub, f"{where}.scores", f"a result with status {e['status']!r} has no scores"))
        if e["status"] == "error" and not e["error"]:
            problems.append(Problem(sub, f"{where}.error", "an error result must say what went wrong"))
        if e["predictions"] is not None:
            if why := check_relpath(e["predictions"]):
                problems.append(Problem(sub, f"{where}.predictions", why))
    return problems


def check_results(doc, sub: str) -> list[Problem]:
    """All schema problems of a parsed results.json."""
    problems = check_object(doc, TOP_FIELDS, sub, "")
    if not isinstance(doc, dict):
        return problems
    for name, fields in (("model", MODEL_FIELDS), ("dataset", DATASET_FIELDS), ("environment", ENV_FIELDS)):
        if isinstance(doc.get(name), dict):
            problems += check_object(doc[name], fields, sub, name)
    seen: set[tuple[str, str]] = set()
    for i, e in enumerate(doc.get("results") if isinstance(doc.get("results"), list) else []):
        entry_problems = check_object(e, ENTRY_FIELDS, sub, f"results[{i}]")
        problems += entry_problems
        if entry_problems:
            continue
        key = (e["task"], e["split"])
        if key in seen:
            problems.append(Problem(sub, f"results[{i}]", f"duplicate result for task {key[0]} split {key[1]}"))
        seen.add(key)
        problems += check_entry(e, i, sub)
    return problems


def check_meta(meta, results_doc, sub: str) -> list[Problem]:
    """model_meta.json: exact fields, and name/revision agreeing with results.json."""
    problems = check_object(meta, META_FIELDS, sub, "model_meta")
    if problems or not isinstance(results_doc, dict) or not isinstance(results_doc.get("model"), dict):
        return problems
    for k in ("name", "revision"):
        if meta[k] != results_doc["model"].get(k):
            problems.append(Problem(sub, f"model_meta.{k}", f"{meta[k]!r} differs from results.json model.{k} {results_doc['model'].get(k)!r}"))
    if meta["parameters"] is not None and meta["parameters"] < 0:
        problems.append(Problem(sub, "model_meta.parameters", "must be >= 0"))
    return problems


def default_meta(results_doc: dict) -> dict:
    """model_meta.json filled from results.json alone (unknowns null)."""
    model = results_doc.get("model", {})
    config = model.get("config", {}) if isinstance(model.get("config"), dict) else {}
    ablation = config.get("ablation")
    return {
        "name": model.get("name"), "revision": model.get("revision"), "parameters": None,
        "training_data": None, "license": None, "reference": None,
        "ablation": ablation if isinstance(ablation, str) else None,
    }
