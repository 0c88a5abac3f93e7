"""Add a run to the leaderboard: its archive (named by sha256) and its row in index.jsonl.

What the archive holds: results.json, config.json, summary.md, predictions/*.jsonl and
images/<task>__<split>/*.png of the run, plus the model_meta.json written for it; the run's model/
folder and anything else are left behind. The run is checked first (schema, file names, no symlinks,
size) so that a bad run never lands. A row is never replaced by a different submission: the same
model and run id with another archive is refused (give the run a new run_id), except, when asked
(`replace_unarchived`, the demo on a clone), a row whose archive is not at hand and so cannot be checked.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from leaderboard import schema
from leaderboard.archive import ARCHIVES_DIR, row_archive, write_archive
from leaderboard.common import (
    IMAGES_DIR,
    MAX_SUBMISSION_BYTES,
    META_FILE,
    PREDICTIONS_DIR,
    RESULTS_FILE,
    Problem,
    SubmissionError,
    is_safe_name,
    read_json_file,
    scan_folder,
)
from leaderboard.index import make_row, read_index, row_id, write_index


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


def meta_bytes(meta: dict) -> bytes:
    """model_meta.json as `benchmark.data.io.write_json` writes it (stable bytes)."""
    return (json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def submit(run_dir: str | Path, leaderboard_dir: str | Path, model_meta: dict | None = None,
           max_bytes: int = MAX_SUBMISSION_BYTES, archives_dir: str | Path | None = None,
           replace_unarchived: bool = False) -> dict:
    """Archive `run_dir` into `archives_dir` (default <leaderboard_dir>/archives/) and add its row to
    <leaderboard_dir>/index.jsonl; return the row.

    Raises FileExistsError if the index has another submission with the same model and run id (unless
    `replace_unarchived` and that submission's archive is not in `archives_dir`: its row is replaced),
    SubmissionError if the run is not acceptable (the error lists every problem). Submitting the
    same run again (same archive) changes nothing.
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

    rows, index_problems = read_index(leaderboard_dir)
    if index_problems:
        raise SubmissionError(f"{leaderboard_dir}: the index has problems; fix them first", index_problems)
    key = row_id(doc["model"]["name"], doc["run_id"])
    existing = next((r for r in rows if r["id"] == key), None)
    members = [(rel, run_dir / rel) for rel in files] + [(META_FILE, meta_bytes(meta))]
    out = Path(archives_dir) if archives_dir is not None else Path(leaderboard_dir) / ARCHIVES_DIR
    sha, size, path = write_archive(members, out)
    row = make_row(doc, meta, sha, size)
    if existing is not None and replace_unarchived and not row_archive(out, existing).is_file():
        rows.remove(existing)  # a row nobody here can check (no archive): this run, which can be, in its place
    elif existing is not None:
        if existing == row:
            return row
        if not any(r["archive"]["sha256"] == sha for r in rows):
            path.unlink()  # refused: leave no orphan archive behind
        raise FileExistsError(f"submission {key} already exists in the index with archive "
                              f"{existing['archive']['sha256']}; a submission is never overwritten "
                              "(give the run a new run_id)")
    write_index(leaderboard_dir, rows + [row])
    return row


def submit_cli(run_dir: str | Path, leaderboard_dir: str | Path, meta_json: str | Path | None = None,
               archives_dir: str | Path | None = None) -> int:
    """Submit with an optional model_meta JSON file; print the row's id and archive; exit 0, or 1 with the reasons."""
    meta = None
    if meta_json is not None:
        meta, bad = read_json_file(Path(meta_json), str(meta_json), "model_meta")
        if bad or not isinstance(meta, dict):
            for p in bad or [Problem(str(meta_json), "model_meta", "must be a JSON object")]:
                print(p, file=sys.stderr)
            return 1
    try:
        row = submit(run_dir, leaderboard_dir, meta, archives_dir=archives_dir)
    except (SubmissionError, FileExistsError) as e:
        print(e, file=sys.stderr)
        return 1
    out = Path(archives_dir) if archives_dir is not None else Path(leaderboard_dir) / ARCHIVES_DIR
    print(f"{row['id']}: archive {out / (row['archive']['sha256'] + '.tar.gz')} ({row['archive']['size']} bytes), "
          f"row in {Path(leaderboard_dir) / 'index.jsonl'}")
    return 0
