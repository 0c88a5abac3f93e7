"""Shared pieces of the leaderboard: problems, limits, safe names and paths, strict JSON reading.

A submission is an archive (see `leaderboard.archive`) that extracts to a folder ``<model-slug>/<run-id>/``
holding a copy of a run folder (see `benchmark.eval.results`) plus ``model_meta.json``. Everything here treats a submission as
untrusted input: no symlinks, no paths leaving the folder, no files beyond the known kinds, size limits,
and JSON parsed without NaN/Infinity.
"""
from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

RESULTS_FILE = "results.json"
META_FILE = "model_meta.json"
CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.md"
PREDICTIONS_DIR = "predictions"
IMAGES_DIR = "images"

MAX_SUBMISSION_BYTES = 50 * 1024 * 1024       # whole submission folder
MAX_JSON_BYTES = 5 * 1024 * 1024              # results.json, model_meta.json, config.json
TOLERANCE = 1e-6                              # submitted vs recomputed scores

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# <task>__<split>: task names may hold a hyphen (the `search-catalogue` variant)
_PRED_FILE = re.compile(r"^[a-z][a-z_-]*__[a-z_]+\.jsonl$")
_IMAGE_DIR = re.compile(r"^[a-z][a-z_-]*__[a-z_]+$")
_IMAGE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.png$")


@dataclass(frozen=True, order=True)
class Problem:
    """One validation failure: which submission, which field (or file), what is wrong."""

    submission: str      # "<model-slug>/<run-id>" (or the path given)
    field: str           # e.g. "results[3].scores.hr@5", "predictions/recommendation__test.jsonl:12"
    message: str

    def __str__(self) -> str:
        return f"{self.submission}: {self.field}: {self.message}"


class SubmissionError(ValueError):
    """A submission that cannot be accepted; `problems` lists why."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = list(problems or [])
        details = "".join(f"\n  {p}" for p in self.problems)
        super().__init__(message + details)


def slug(name: str) -> str:
    """Folder name for a model name: letters, digits, '.', '_', '-' kept, anything else -> '_'."""
    s = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip("._-") or "model"
    return s[:128]


def is_safe_name(name: str) -> bool:
    """A single path component we accept: no separators, no leading dot, no '..'."""
    return bool(_SAFE_NAME.match(name)) and ".." not in name


def check_relpath(rel: object) -> str | None:
    """Why `rel` is not an acceptable relative path inside a submission, or None if it is."""
    if not isinstance(rel, str) or not rel:
        return "must be a non-empty relative path string"
    if "\\" in rel or "\x00" in rel:
        return f"path {rel!r} has a backslash or NUL"
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        return f"absolute path {rel!r} not allowed"
    parts = PurePosixPath(rel).parts
    if any(p in ("..", ".") for p in rel.split("/")) or not parts:
        return f"path {rel!r} escapes or is not normalised ('.' / '..' not allowed)"
    if any(not is_safe_name(p) for p in parts):
        return f"path {rel!r} has a component outside [A-Za-z0-9._-] (or a leading dot)"
    return None


def resolve_inside(root: Path, rel: str) -> Path | None:
    """`root/rel` if every component exists as a real (non-symlink) entry inside `root`, else None."""
    cur = Path(root)
    for part in PurePosixPath(rel).parts:
        cur = cur / part
        try:
            st = os.lstat(cur)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return None
    return cur


def allowed_file(rel: str) -> bool:
    """Whether a relative file path is one of the kinds a submission may hold."""
    parts = PurePosixPath(rel).parts
    if len(parts) == 1:
        return parts[0] in (RESULTS_FILE, META_FILE, CONFIG_FILE, SUMMARY_FILE)
    if len(parts) == 2 and parts[0] == PREDICTIONS_DIR:
        return bool(_PRED_FILE.match(parts[1]))
    if len(parts) == 3 and parts[0] == IMAGES_DIR:
        return bool(_IMAGE_DIR.match(parts[1])) and bool(_IMAGE_FILE.match(parts[2]))
    return False


def scan_folder(root: Path, sub: str, max_bytes: int = MAX_SUBMISSION_BYTES,
                strict: bool = True) -> tuple[list[str], list[Problem]]:
    """Walk a submission (strict) or a run folder (not strict) without following links.

    Returns the sorted relative paths of the regular files that belong in a submission, and the
    problems: symlinks, special files, unsafe names, total size of those files over `max_bytes`, and
    (strict only) any other file. Not strict, other files and the run's ``model/`` folder are skipped.
    """
    problems: list[Problem] = []
    files: list[str] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        if not strict and rel_dir == ".":
            for skipped in [d for d in dirnames if d not in (PREDICTIONS_DIR, IMAGES_DIR)]:
                dirnames.remove(skipped)
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                if not strict and rel_dir == "." and not allowed_file(rel) and name not in (PREDICTIONS_DIR, IMAGES_DIR):
                    continue  # a run's other links (never copied) are none of our business
                problems.append(Problem(sub, rel, "symbolic links are not allowed in a submission"))
                if name in dirnames:
                    dirnames.remove(name)
                continue
            if stat.S_ISDIR(st.st_mode):
                if not is_safe_name(name):
                    problems.append(Problem(sub, rel, "unsafe folder name"))
                    dirnames.remove(name)
                continue
            if not stat.S_ISREG(st.st_mode):
                problems.append(Problem(sub, rel, "not a regular file"))
                continue
            if not is_safe_name(name) or not allowed_file(rel):
                if not strict:
                    continue
                total += st.st_size
                problems.append(Problem(sub, rel, "unexpected file: a submission holds only results.json, "
                                        "model_meta.json, config.json, summary.md, predictions/<task>__<split>.jsonl "
                                        "and images/<task>__<split>/<name>.png"))
                continue
            total += st.st_size
            files.append(rel)
    if total > max_bytes:
        problems.append(Problem(sub, "(size)", f"submission is {total} bytes, over the limit of {max_bytes} bytes"))
    return sorted(files), problems


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed (JSON has no NaN/Infinity)")


def loads_strict(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity."""
    return json.loads(text, parse_constant=_reject_constant)


def read_json_file(path: Path, sub: str, rel: str, max_bytes: int = MAX_JSON_BYTES) -> tuple[object, list[Problem]]:
    """Read a JSON file strictly; (None, [problem]) when it is missing, too big or not valid JSON."""
    try:
        st = os.lstat(path)
    except OSError:
        return None, [Problem(sub, rel, "missing")]
    if not stat.S_ISREG(st.st_mode):  # never follow a symlink out of the folder
        return None, [Problem(sub, rel, "not a regular file (symbolic links are not followed)")]
    size = st.st_size
    if size > max_bytes:
        return None, [Problem(sub, rel, f"{size} bytes, over the limit of {max_bytes}")]
    try:
        return loads_strict(path.read_text(encoding="utf-8")), []
    except (ValueError, UnicodeDecodeError) as e:
        return None, [Problem(sub, rel, f"not valid JSON: {e}")]
