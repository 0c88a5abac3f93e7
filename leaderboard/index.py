"""leaderboard/index.jsonl: the committed record of every submission, one JSON row a line.

A row is what the board shows and what is needed to check it: the model card (model_meta.json), the
dataset (name, sha256, ...), run id, seed, perturbation, each task/split's status, n, scores and 95%
intervals (plus the scorer settings that name a metric, e.g. BERTScore's model and layer), and the
sha256 and size of the submission's archive (see `leaderboard.archive`). Rows are sorted by id
("<model-slug>/<run-id>") and written with sorted keys, so the same submissions give the same bytes
and a new submission is a one-line diff. The archives themselves live outside git.
"""
from __future__ import annotations

import json
from pathlib import Path

from benchmark.data.io import write_text
from leaderboard import schema
from leaderboard.common import MAX_JSON_BYTES, Problem, is_safe_name, loads_strict, slug

INDEX_FILE = "index.jsonl"
MAX_INDEX_BYTES = 20 * MAX_JSON_BYTES
ENTRY_KEYS = ("task", "task_version", "split", "status", "error", "n", "main_score", "scores", "intervals")
# Keys of a result's `extra` that name how a metric was computed; copied into the row as `scorer`.
SCORER_KEYS = ("bertscore_model", "bertscore_layer", "bertscore_idf", "bertscore_rescale_with_baseline")


def index_path(leaderboard_dir: str | Path) -> Path:
    return Path(leaderboard_dir) / INDEX_FILE


def row_id(model_name: str, run_id: str) -> str:
    return f"{slug(model_name)}/{run_id}"


def _ablation(doc: dict, meta: dict) -> str | None:
    a = meta.get("ablation") or doc["model"].get("config", {}).get("ablation")
    return a if isinstance(a, str) and a else None


def make_row(doc: dict, meta: dict, archive_sha256: str, archive_size: int) -> dict:
    """The index row of a (schema-valid) results.json and model_meta.json."""
    return {
        "id": row_id(doc["model"]["name"], doc["run_id"]), "run_id": doc["run_id"], "created": doc["created"],
        "model": {"name": doc["model"]["name"], "revision": doc["model"]["revision"], "ablation": _ablation(doc, meta)},
        "model_meta": dict(meta), "dataset": dict(doc["dataset"]), "seed": doc["seed"],
        "perturbation": doc["perturbation"],
        "results": [{**{k: e[k] for k in ENTRY_KEYS}, "scorer": {k: e["extra"][k] for k in SCORER_KEYS if k in e["extra"]}}
                    for e in doc["results"]],
        "archive": {"sha256": archive_sha256, "size": archive_size},
    }


def compare_row(row: dict, doc: dict, meta: dict) -> list[Problem]:
    """The index row must say exactly what the archive's results.json and model_meta.json say."""
    expected = make_row(doc, meta, row["archive"]["sha256"], row["archive"]["size"])
    sub = row["id"]
    problems = []
    for k in sorted(set(expected) - {"results"}):
        if row.get(k) != expected[k]:
            problems.append(Problem(sub, f"index.{k}", f"{row.get(k)!r} but the archive says {expected[k]!r}"))
    got = {(e["task"], e["split"]): e for e in row["results"]}
    want = {(e["task"], e["split"]): e for e in expected["results"]}
    for key in sorted(set(got) | set(want)):
        i = next((i for i, e in enumerate(row["results"]) if (e["task"], e["split"]) == key), None)
        where = f"index.results[{i}]" if i is not None else f"index.results({key[0]}/{key[1]})"
        if key not in want:
            problems.append(Problem(sub, where, "not in the archive's results.json"))
        elif key not in got:
            problems.append(Problem(sub, where, "in the archive's results.json but missing from the index row"))
        else:
            for k in sorted(want[key]):
                if got[key].get(k) != want[key][k]:
                    problems.append(Problem(sub, f"{where}.{k}", f"{got[key].get(k)!r} but the archive's results.json says {want[key][k]!r}"))
    return problems


def read_index(leaderboard_dir: str | Path) -> tuple[list[dict], list[Problem]]:
    """(rows that pass the schema, problems). A missing index is an empty board; each problem names
    index.jsonl:LINE or the row's id. Also checks: unique ids, id = slug(model)/run_id, sorted."""
    path = index_path(leaderboard_dir)
    if not path.exists():
        return [], []
    if not path.is_file() or path.is_symlink():
        return [], [Problem(INDEX_FILE, "(file)", "must be a regular file")]
    if path.stat().st_size > MAX_INDEX_BYTES:
        return [], [Problem(INDEX_FILE, "(file)", f"over the limit of {MAX_INDEX_BYTES} bytes")]
    rows: list[dict] = []
    problems: list[Problem] = []
    ids: list[str] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{INDEX_FILE}:{lineno}"
        try:
            row = loads_strict(line)
        except ValueError as e:
            problems.append(Problem(where, "(line)", f"not valid JSON: {e}"))
            continue
        sub = row.get("id") if isinstance(row, dict) and isinstance(row.get("id"), str) else where
        bad = schema.check_row(row, sub)
        if not bad and row["id"] != row_id(row["model"]["name"], row["run_id"]):
            bad.append(Problem(sub, "id", f"must be {row_id(row['model']['name'], row['run_id'])!r}"))
        if not bad and not is_safe_name(row["run_id"]):
            bad.append(Problem(sub, "run_id", "use letters, digits, '.', '_', '-'"))
        problems += bad
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            if row["id"] in ids:
                problems.append(Problem(row["id"], "id", f"duplicate id ({where})"))
            ids.append(row["id"])
        if not bad:
            rows.append(row)
    if ids != sorted(ids):
        problems.append(Problem(INDEX_FILE, "(order)", "rows must be sorted by id"))
    return rows, problems


def dumps_row(row: dict) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def write_index(leaderboard_dir: str | Path, rows: list[dict]) -> Path:
    """Write the rows sorted by id, one a line (atomic)."""
    path = index_path(leaderboard_dir)
    text = "".join(dumps_row(r) + "\n" for r in sorted(rows, key=lambda r: r["id"]))
    write_text(path, text)
    return path
