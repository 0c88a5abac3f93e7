"""Task views of a prepared dataset: the folder a model re-run for one task is given (`leaderboard verify`).

The paper asks every task about the same held-out interaction, so the public inputs of one task can answer
another: the item a rating or explanation question of a scored split names is that user's recommendation
answer, and one of selection's candidates. A model run on the whole public folder could read another task's
scored inputs. A view holds every file of the dataset (hard links where the filesystem allows, else copies)
except the scored splits' instances of the other tasks, and names what it withholds in `layout.VIEW_FILE`. It
keeps the dataset's manifest, so its sha256 is the dataset's; `PreparedDataset` verifies every file that is
there and accepts only scored splits' instance files as withheld. Hard links are not symbolic links on
purpose: a link would tell a model where the whole folder is. Linking touches the dataset files' ctime, so the
next open of the dataset hashes its files again (benchmark.data.integrity), a cost, not an error.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path, PurePosixPath

from benchmark.data import layout
from benchmark.data.errors import IntegrityError
from benchmark.data.io import write_json
from benchmark.data.regimes import EVAL_SPLITS


def scored_instances(rel: str) -> str | None:
    """The task folder of `rel` when it is a scored split's instance file (tasks/<task>/<split>.parquet), else None."""
    parts = PurePosixPath(rel).parts
    if len(parts) == 3 and parts[0] == "tasks" and parts[2].removesuffix(".parquet") in EVAL_SPLITS:
        return parts[1]
    return None


def withheld(root: Path, files: dict[str, str]) -> set[str]:
    """The manifest files the view at `root` withholds (none for a dataset folder that is not a view)."""
    path = Path(root) / layout.VIEW_FILE
    if not path.is_file():
        return set()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IntegrityError(path, f"unreadable ({e})") from None
    names = doc.get("withheld") if isinstance(doc, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise IntegrityError(path, "\"withheld\" must be a list of the manifest's file paths")
    for rel in names:
        if rel not in files or scored_instances(rel) is None:
            raise IntegrityError(path, f"{rel!r}: a view may withhold only scored splits' instance files of the "
                                       "manifest")
    return set(names)


def build_view(root: str | Path, dest: str | Path, task_folder: str, files: dict[str, str]) -> Path:
    """The view of the dataset at `root` (whose manifest lists `files`) that keeps the scored instances of
    tasks/<task_folder>/ only, written in the new folder `dest`."""
    root, dest = Path(root), Path(dest)
    held = sorted(rel for rel in files if scored_instances(rel) not in (None, task_folder))
    dest.mkdir(parents=True)
    for rel in [layout.MANIFEST, *sorted(set(files) - set(held))]:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(root / rel, target)
        except OSError:  # another filesystem, or links not allowed
            shutil.copy2(root / rel, target)
    write_json(dest / layout.VIEW_FILE, {"keeps": task_folder, "withheld": held})
    return dest
