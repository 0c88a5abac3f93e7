"""Schema of results.json (see `benchmark.eval.results`), model_meta.json and the leaderboard index rows.

The shapes are pydantic models (strict: no coercion, bool is never taken for a number; unknown and
missing fields are both rejected); what they cannot say (metric ranges, the task's main score,
intervals, an ok result's predictions) is checked after them in `check_entry`. Every failure is
reported as a `Problem` naming the file and the field. Dataset-dependent checks (ids, recomputed
scores) live in `leaderboard.validate`.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError

from benchmark.data import layout
from benchmark.eval.results import SCHEMA_VERSION, STATUSES, predictions_name
from benchmark.metrics.registry import METRICS
from benchmark.tasks import TASKS
from leaderboard.common import Problem, check_relpath

# Closed range of every metric (benchmark.metrics.registry); None bound = unbounded on that side.
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {m.name: m.range for m in METRICS.values()}
MAX_LABEL = 200  # characters of any string shown on the leaderboard (names, revisions, meta)


def metric_lower_is_better(metric: str) -> bool:
    return not METRICS[metric].higher_is_better if metric in METRICS else False


def is_number(v) -> str | None:
    """None when `v` is a finite int or float (not bool), else what is wrong."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return f"must be a number, got {type(v).__name__}"
    return None if math.isfinite(v) else "must be finite (no NaN/Infinity)"


# ---- field types ------------------------------------------------------------------------------------
def _nonblank(v: str) -> str:
    if not v.strip():
        raise ValueError("must be a non-empty string")
    return v


def _iso_time(v: str) -> str:
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{v!r} is not an ISO 8601 time") from None
    return v


def _nonneg(v):
    if not math.isfinite(v):
        raise ValueError("must be finite (no NaN/Infinity)")
    if v < 0:
        raise ValueError("must be >= 0")
    return v


def _is_label(v) -> bool:
    return isinstance(v, str) and bool(v.strip()) and len(v) <= MAX_LABEL


def _training_data(v):
    if v is None or _is_label(v) or (isinstance(v, list) and len(v) <= 50 and all(map(_is_label, v))):
        return v
    raise ValueError(f"must be a string, a list of at most 50 strings (each at most {MAX_LABEL} characters) or null")


Label = Annotated[str, StringConstraints(max_length=MAX_LABEL), AfterValidator(_nonblank)]
IsoTime = Annotated[str, AfterValidator(_iso_time)]
NonNeg = Annotated[float, AfterValidator(_nonneg)]
NonNegInt = Annotated[int, AfterValidator(_nonneg)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Task = Literal[tuple(TASKS)]  # type: ignore[valid-type]
Split = Literal[tuple(layout.TASK_SPLITS)]  # type: ignore[valid-type]
Status = Literal[tuple(STATUSES)]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# ---- results.json ----------------------------------------------------------------------------------
class ModelInfo(Strict):
    name: Label
    revision: Label
    config: dict
    details: dict = {}  # absent in results written before `model.details` existed


class DatasetInfo(Strict):
    name: Label
    sha256: str
    seed: int
    scale: Optional[Label]
    source: str


class Environment(Strict):
    python: str
    platform: str
    packages: dict[str, str]
    git: Optional[str]


class EntryCore(Strict):
    """The part of a result entry that the index row keeps."""
    task: Task
    task_version: str
    split: Split
    status: Status
    error: Optional[str]
    n: NonNegInt
    scores: dict
    intervals: dict
    main_score: str


class ResultEntry(EntryCore):
    extra: dict
    predictions: Optional[str]
    predictions_sha256: Optional[str]
    wall_time_s: NonNeg


class Results(Strict):
    schema_version: Literal[SCHEMA_VERSION]  # type: ignore[valid-type]
    run_id: str
    created: IsoTime
    model: ModelInfo
    dataset: DatasetInfo
    seed: int
    perturbation: Literal[None, "NT", "NV"]
    environment: Environment
    wall_time_s: NonNeg
    results: list[ResultEntry]


# ---- model_meta.json ---------------------------------------------------------------------------------
class ModelMeta(Strict):
    name: Label
    revision: Label
    parameters: Optional[NonNegInt]
    training_data: Annotated[Any, AfterValidator(_training_data)]
    license: Optional[Label]
    reference: Optional[Label]
    ablation: Optional[Label]


META_FIELDS = tuple(ModelMeta.model_fields)


# ---- index row (leaderboard/index.jsonl) -------------------------------------------------------------
class RowModel(Strict):
    name: Label
    revision: Label
    ablation: Optional[Label]     # model_meta.ablation, else model.config.ablation


class RowEntry(EntryCore):
    # The scorer settings a reader needs to compare numbers (e.g. bertscore_model, bertscore_layer).
    scorer: dict[str, Union[str, int, bool, None]]


class Archive(Strict):
    sha256: Sha256
    size: NonNegInt


class IndexRow(Strict):
    id: str                       # "<slug(model.name)>/<run_id>"
    run_id: str
    created: IsoTime
    model: RowModel
    model_meta: ModelMeta
    dataset: DatasetInfo
    seed: int
    perturbation: Literal[None, "NT", "NV"]
    results: list[RowEntry]
    archive: Archive


# ---- pydantic errors -> Problems ---------------------------------------------------------------------
_TYPE_WORDS = {"int_type": "an integer", "float_type": "a number", "string_type": "a string",
               "dict_type": "an object", "list_type": "a list", "model_type": "an object",
               "model_attributes_type": "an object", "bool_type": "a boolean"}


def _field(loc: tuple, prefix: str) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "literal[", "list[", "str", "none", "constrained")):
            out += f".{part}" if out else part
    return out or "(top level)"


def _message(err: dict) -> str:
    kind, got = err["type"], err.get("input")
    if kind == "missing":
        return "missing field"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]}, got {type(got).__name__}"
    if kind == "literal_error":
        return f"must be one of [{err['ctx']['expected']}], got {got!r}"
    if kind == "string_too_long":
        return f"longer than {MAX_LABEL} characters"
    if kind == "string_pattern_mismatch":
        return "must be 64 lowercase hex digits"
    if kind == "value_error":
        return str(err["ctx"]["error"])
    return err["msg"]


def model_problems(model: type[BaseModel], doc, sub: str, prefix: str = "") -> tuple[Any, list[Problem]]:
    """(the parsed model or None, one Problem per failing field). A union's alternatives collapse into
    one problem per field."""
    try:
        return model.model_validate(doc), []
    except ValidationError as e:
        seen: dict[str, str] = {}
        for err in e.errors(include_url=False):
            seen.setdefault(_field(err["loc"], prefix), _message(err))
        return None, [Problem(sub, f, m) for f, m in seen.items()]


def _entry_problems(errors: list[Problem], prefix: str, i: int) -> bool:
    where = f"{prefix}[{i}]"
    return any(p.field == where or p.field.startswith(where + ".") for p in errors)


# ---- checks beyond the shapes ------------------------------------------------------------------------
def check_metric_value(metric: str, v, sub: str, field: str) -> list[Problem]:
    if why := is_number(v):
        return [Problem(sub, field, why)]
    lo, hi = METRIC_RANGES.get(metric, (None, None))
    if (lo is not None and v < lo - 1e-12) or (hi is not None and v > hi + 1e-12):
        return [Problem(sub, field, f"{v} is outside the range [{lo}, {hi}] of {metric}")]
    return []


def check_entry(e: dict, i: int, sub: str, where: str | None = None) -> list[Problem]:
    """One element of `results` whose shape is fine: version, main score, metric ranges, intervals,
    status rules and (for results.json entries, which have them) the predictions fields."""
    where = where or f"results[{i}]"
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
    n_boot = (e.get("extra") or {}).get("n_boot", 1)  # resamples behind the intervals (absent: none recorded)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        problems.append(Problem(sub, f"{where}.extra.n_boot", f"must be an integer >= 1 (bootstrap resamples), got {n_boot!r}"))
    has_files = "predictions" in e
    if e["status"] == "ok":
        if e["error"] is not None:
            problems.append(Problem(sub, f"{where}.error", "must be null when status is ok"))
        if spec.main_score not in e["scores"]:
            problems.append(Problem(sub, f"{where}.scores", f"main score {spec.main_score!r} missing"))
        if not has_files:
            pass
        elif e["predictions"] is None or e["predictions_sha256"] is None:
            problems.append(Problem(sub, f"{where}.predictions", "an ok result needs its predictions file and sha256"))
        elif e["predictions"] != predictions_name(e["task"], e["split"]):
            why = check_relpath(e["predictions"]) or f"must be {predictions_name(e['task'], e['split'])!r}"
            problems.append(Problem(sub, f"{where}.predictions", why))
    else:
        if e["scores"] or e["intervals"]:
            problems.append(Problem(sub, f"{where}.scores", f"a result with status {e['status']!r} has no scores"))
        if e["status"] == "error" and not e["error"]:
            problems.append(Problem(sub, f"{where}.error", "an error result must say what went wrong"))
        if has_files and e["predictions"] is not None:
            if why := check_relpath(e["predictions"]):
                problems.append(Problem(sub, f"{where}.predictions", why))
    return problems


def _check_entries(entries, errors: list[Problem], sub: str, prefix: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for i, e in enumerate(entries if isinstance(entries, list) else []):
        if _entry_problems(errors, prefix, i):
            continue
        key = (e["task"], e["split"])
        if key in seen:
            problems.append(Problem(sub, f"{prefix}[{i}]", f"duplicate result for task {key[0]} split {key[1]}"))
        seen.add(key)
        problems += check_entry(e, i, sub, f"{prefix}[{i}]")
    return problems


def check_results(doc, sub: str) -> list[Problem]:
    """All schema problems of a parsed results.json."""
    _, problems = model_problems(Results, doc, sub)
    if isinstance(doc, dict):
        problems += _check_entries(doc.get("results"), problems, sub, "results")
    return problems


def check_meta(meta, results_doc, sub: str) -> list[Problem]:
    """model_meta.json: exact fields, and name/revision agreeing with results.json."""
    _, problems = model_problems(ModelMeta, meta, sub, "model_meta")
    if problems or not isinstance(results_doc, dict) or not isinstance(results_doc.get("model"), dict):
        return problems
    for k in ("name", "revision"):
        if meta[k] != results_doc["model"].get(k):
            problems.append(Problem(sub, f"model_meta.{k}", f"{meta[k]!r} differs from results.json model.{k} {results_doc['model'].get(k)!r}"))
    return problems


def check_row(row, sub: str) -> list[Problem]:
    """All schema problems of one parsed index row (fields are named as in the row)."""
    _, problems = model_problems(IndexRow, row, sub)
    if isinstance(row, dict):
        problems += _check_entries(row.get("results"), problems, sub, "results")
        meta, model = row.get("model_meta"), row.get("model")
        if not problems:
            for k in ("name", "revision"):
                if meta[k] != model[k]:
                    problems.append(Problem(sub, f"model_meta.{k}", f"{meta[k]!r} differs from model.{k} {model[k]!r}"))
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
