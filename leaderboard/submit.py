"""Copy a run folder into the leaderboard as a new submission (never overwriting one).

What is copied: results.json, config.json, summary.md, predictions/*.jsonl and images/<task>__<split>/
*.png; the run's model/ folder and anything else are left behind. model_meta.json is written beside
them. The run is checked first (schema, file names, no symlinks, size) so that a bad run never lands.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchmark.data.io import write_json
from leaderboard import schema
from leaderboard.common import (
    IMAGES_DIR,
    MAX_SUBMISSION_BYTES,
    META_FILE,
    PREDICTIONS_DIR,
    RESULTS_FILE,
    SUBMISSIONS_DIR,
    Problem,
    SubmissionError,
    is_safe_name,
    read_json_file,
    scan_folder,
    slug,
)


def submission_path(leaderboard_dir: str | Path, model_name: str, run_id: str) -> Path:
    return Path(leaderboard_dir) / SUBMISSIONS_DIR / slug(model_name) / run_id


def referenced_files(files: list[str], doc: dict) -> list[str]:
    """Drop predictions and images of results without predictions (e.g. a task whose scoring failed
    after its predictions were written): a submission holds only what results.json points to."""
    keep_dirs = {f"{e['task']}__{e['split']}" for e in doc["results"] if e["predictions"]}
    out = []
    for rel in files:
        parts = rel.split("/")
        if parts[0] == PREDICTIONS_DIR and parts[1].removesuffix(".jsonl") not in keep_dirs:
            continue
        if parts[0] == IMAGES_DIR and parts[1] not in keep_dirs:
            continue
        out.append(rel)
    return out


def build_meta(results_doc: dict, model_meta: dict | None) -> dict:
    """model_meta.json: the defaults from results.json updated with the given fields (unknown ones refused)."""
    meta = schema.default_meta(results_doc)
    given = dict(model_meta or {})
    unknown = sorted(set(given) - set(schema.META_FIELDS))
    if unknown:
        raise SubmissionError(f"model_meta has unknown fields {unknown}; known: {sorted(schema.META_FIELDS)}")
    meta.update(given)
    return meta


def submit(run_dir: str | Path, leaderboard_dir: str | Path, model_meta: dict | None = None,
           max_bytes: int = MAX_SUBMISSION_BYTES) -> Path:
    """Copy `run_dir` to ``<leaderboard_dir>/submissions/<model>/<run-id>/`` and return that folder.

    Raises FileExistsError if the submission already exists, SubmissionError if the run is not
    acceptable (the error lists every problem).
    """
    run_dir = Path(run_dir)
    label = str(run_dir)
    files, problems = scan_folder(run_dir, label, max_bytes=max_bytes, strict=False)
    doc, bad = read_json_file(run_dir / RESULTS_FILE, label, RESULTS_FILE)
    problems += bad
    if doc is not None:
        problems += schema.check_results(doc, label)
    if problems:
        raise SubmissionError(f"{label}: not a valid run folder", problems)
    if not is_safe_name(doc["run_id"]):
        raise SubmissionError(f"{label}: run_id {doc['run_id']!r} is not a safe folder name",
                              [Problem(label, "run_id", "use letters, digits, '.', '_', '-'")])
    files = referenced_files(files, doc)
    meta = build_meta(doc, model_meta)
    meta_problems = schema.check_meta(meta, doc, label)
    if meta_problems:
        raise SubmissionError(f"{label}: bad model_meta", meta_problems)

    dest = submission_path(leaderboard_dir, doc["model"]["name"], doc["run_id"])
    if dest.exists() or dest.is_symlink():
        raise FileExistsError(f"submission {dest} already exists; a submission is never overwritten "
                              "(give the run a new run_id)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        for rel in files:
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run_dir / rel, target, follow_symlinks=False)
        write_json(tmp / META_FILE, meta)
        if dest.exists():
            raise FileExistsError(f"submission {dest} already exists")
        os.rename(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest


def submit_cli(run_dir: str | Path, leaderboard_dir: str | Path, meta_json: str | Path | None = None) -> int:
    """Submit with an optional model_meta JSON file; print the new folder; exit code 0, or 1 with the reasons."""
    meta = None
    if meta_json is not None:
        meta, bad = read_json_file(Path(meta_json), str(meta_json), "model_meta")
        if bad or not isinstance(meta, dict):
            for p in bad or [Problem(str(meta_json), "model_meta", "must be a JSON object")]:
                print(p, file=sys.stderr)
            return 1
    try:
        dest = submit(run_dir, leaderboard_dir, meta)
    except (SubmissionError, FileExistsError) as e:
        print(e, file=sys.stderr)
        return 1
    print(dest)
    return 0
