"""Sealed answers: the labels folder of a prepared dataset (layout in `benchmark.data.layout`).

`prepare` splits each scored split's instances into inputs (public folder) and answers (labels folder) and
moves the scored interaction files there too, so nothing in the public folder can be copied into
predictions. Models only ever see the public folder (`PreparedDataset(root)`); scoring opens the dataset
with its labels (`PreparedDataset(root, labels=...)`), which checks every labels file against the sha256
that the public manifest committed to.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from benchmark.data import layout
from benchmark.data.errors import IntegrityError
from benchmark.data.integrity import check_entries, verify


def default_labels_dir(data_root: str | Path) -> Path:
    """`<data>.labels` beside the dataset folder: where `prepare` writes them and `run` looks."""
    root = Path(data_root)
    return root.parent / f"{root.name}{layout.LABELS_SUFFIX}"


def find_labels(data_root: str | Path, given: str | Path | None = None) -> Path | None:
    """`given` (which must be a folder), else the labels folder beside the data when there is one, else None."""
    if given is not None:
        if not Path(given).is_dir():
            raise FileNotFoundError(f"labels folder {given} not found")
        return Path(given)
    beside = default_labels_dir(data_root)
    return beside if beside.is_dir() else None


def is_labels_folder(root: str | Path) -> bool:
    """Whether `root` holds a labels marker (what `prepare --force` may replace)."""
    try:
        doc = json.loads((Path(root) / layout.LABELS_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("files"), dict)


def marker(dataset_sha256: str, files: dict[str, str]) -> dict:
    return {"dataset_sha256": dataset_sha256, "files": files}


class Labels:
    """The verified labels folder of one dataset: every file the public manifest lists under "labels" is
    present with that sha256, inside the folder; reads are limited to those files."""

    def __init__(self, root: str | Path, manifest: dict, dataset_root: str | Path):
        self.root = Path(root)
        where = Path(dataset_root) / layout.MANIFEST
        files = manifest.get("labels")
        if not files:
            raise IntegrityError(where, "this dataset has no sealed labels; its answers are in the public folder")
        check_entries(where, files)
        mark = self.root / layout.LABELS_MARKER
        try:
            doc = json.loads(mark.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IntegrityError(mark, "missing: not a labels folder written by `unimp-bench prepare`") from None
        except (OSError, ValueError) as e:
            raise IntegrityError(mark, f"unreadable ({e})") from None
        theirs = doc.get("dataset_sha256") if isinstance(doc, dict) else None
        if theirs != manifest.get("dataset_sha256"):
            raise IntegrityError(mark, f"the labels of dataset {theirs}, not of {Path(dataset_root)} "
                                       f"({manifest.get('dataset_sha256')})")
        base = self.root.resolve()
        for rel in sorted(files):
            if not (self.root / rel).resolve().is_relative_to(base):  # e.g. a symlink pointing out
                raise IntegrityError(self.root / rel, "resolves outside the labels folder")
        verify(self.root, files)
        self.files: dict[str, str] = files

    def read(self, rel_path: str | Path) -> pd.DataFrame:
        rel = Path(rel_path).as_posix()
        if rel not in self.files:
            raise IntegrityError(self.root / rel, "not listed in the dataset manifest's labels")
        return pd.read_parquet(self.root / rel)

    def has(self, rel_path: str | Path) -> bool:
        return Path(rel_path).as_posix() in self.files

    def attach(self, task: str, split: str, inputs: pd.DataFrame) -> pd.DataFrame:
        """The instances `inputs` with their answer columns, after checking that the ids are the same, in order."""
        rel = layout.task_path(Path(), task, split)
        answers = self.read(rel)
        if answers["id"].tolist() != inputs["id"].tolist():
            raise IntegrityError(self.root / rel, f"ids differ from the public {task}/{split} instances")
        full = inputs.copy()
        for col in answers.columns.drop("id"):
            full[col] = answers[col].to_numpy()
        return full
