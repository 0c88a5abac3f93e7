"""Read-only access to a prepared dataset folder (see `benchmark.data.layout`)."""
from __future__ import annotations

import copy
import json
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from benchmark.data import layout
from benchmark.data.errors import IntegrityError
from benchmark.data.integrity import manifest_files, verify
from benchmark.data.labels import Labels
from benchmark.data.regimes import EVAL_SPLITS, NEW_DOMAIN_REGIME, SEALED_INTERACTIONS, regime_of
from benchmark.data.views import withheld


class PreparedDataset:
    """Opening verifies every file against the manifest's sha256 (`benchmark.data.integrity`); each read then
    checks that the file is one the manifest lists. Either failure raises IntegrityError.

    Without `labels` this is the public view, all a model is given: the scored splits' instances carry
    inputs only and their interaction files are refused. With `labels` (the dataset's labels folder,
    `benchmark.data.labels`, verified against the manifest too) the answers are joined back in, for scoring."""

    def __init__(self, root: str | Path, labels: str | Path | None = None):
        self.root = Path(root)
        if not (self.root / layout.MANIFEST).is_file():
            raise FileNotFoundError(
                f"{self.root}: not a prepared dataset (no {layout.MANIFEST}); run `unimp-bench prepare` first"
            )
        files = manifest_files(self.root, self.manifest)
        # a task view (benchmark.data.views) lacks other tasks' scored instances; every file there is verified
        self.withheld = withheld(self.root, files)
        self._files = {rel: d for rel, d in files.items() if rel not in self.withheld}
        verify(self.root, self._files)
        self.labels = Labels(labels, self.manifest, self.root) if labels is not None else None
        self.for_model = False  # see model_view

    def model_view(self) -> "PreparedDataset":
        """The view a model is given: no labels, and no scored split's instances at all. The evaluator hands
        the model those one task at a time; reading them itself could reveal answers across tasks (the
        item a rating question asks about is the user's next item, the recommendation answer)."""
        view = copy.copy(self)
        view.labels, view.for_model = None, True
        return view

    @property
    def sealed(self) -> bool:
        """True when the scored splits' answers live in a labels folder (every dataset prepared since 0.2.0)."""
        return bool(self.manifest.get("labels"))

    @property
    def can_score(self) -> bool:
        """The answers of the scored splits are at hand: opened with labels, or an unsealed dataset."""
        return self.labels is not None or not self.sealed

    @cached_property
    def manifest(self) -> dict:
        path = self.root / layout.MANIFEST
        try:
            doc = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise IntegrityError(path, f"not valid JSON ({e})") from None
        if not isinstance(doc, dict):
            raise IntegrityError(path, "not a JSON object")
        return doc

    def _listed(self, path: Path) -> Path:
        """`path` if the manifest lists it (so it was verified on open); a read of anything else is refused."""
        rel = path.relative_to(self.root).as_posix()
        if rel in self.withheld:
            raise PermissionError(f"{path}: withheld from this task view (another task's scored inputs)")
        if rel not in self._files:
            raise IntegrityError(path, "not listed in the manifest; refusing to read a file prepare did not write")
        return path

    @property
    def sha256(self) -> str:
        """The dataset's identity: sha256 over the manifest's file list."""
        return self.manifest["dataset_sha256"]

    @cached_property
    def items(self) -> pd.DataFrame:
        """items.parquet indexed by item token (0..n_items-1, in order)."""
        df = pd.read_parquet(self._listed(self.root / layout.ITEMS))
        return df.set_index("item", drop=False).sort_index()

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def new_domain(self) -> str | None:
        """The held-out domain (None when `prepare --new-domain none`; datasets from before the switch: Office_Products)."""
        return self.manifest.get("new_domain", layout.NEW_DOMAIN)

    @cached_property
    def _task_splits(self) -> set[str]:
        return {rel.rsplit("/", 1)[1].removesuffix(".parquet") for rel in self._files if rel.startswith("tasks/")}

    def has_split(self, split: str) -> bool:
        """Whether `prepare` wrote this task split (a holdout that is off writes none)."""
        return split in self._task_splits

    def missing_split(self, split: str) -> str:
        """Why a split is absent, in one line."""
        holdout = "--new-domain none" if regime_of(split) is NEW_DOMAIN_REGIME else "--new-user-fraction 0"
        return f"this dataset has no {split} split (prepared with {holdout})"

    def catalogue_mask(self, split: str) -> np.ndarray:
        """Boolean (n_items,) mask of the items a split ranks over: the training domains for
        train/valid/test/new_user, the new domain (Office_Products by default) for the new-domain splits."""
        domains = self.items["domain"].to_numpy()
        if regime_of(split) is NEW_DOMAIN_REGIME:
            return domains == self.new_domain
        return domains != self.new_domain

    def image_path(self, item: int) -> Path | None:
        rel = self.items.at[item, "image"]
        return None if rel is None or pd.isna(rel) else self._listed(self.root / rel)

    def load_image(self, item: int):
        """PIL image of an item, or None when the item has none."""
        path = self.image_path(item)
        if path is None:
            return None
        with Image.open(path) as im:
            return im.convert("RGB")

    def interactions(self, split: str) -> pd.DataFrame:
        if split not in layout.INTERACTION_SPLITS:
            raise ValueError(f"unknown interaction split {split!r}; known: {layout.INTERACTION_SPLITS}")
        path = layout.interactions_path(self.root, split)
        if self.sealed and split in SEALED_INTERACTIONS:
            if self.labels is None:
                raise PermissionError(f"{self.root}: the {split} interactions are answers of a scored split, sealed "
                                      "in the labels folder; models never see them")
            return self.labels.read(layout.interactions_path(Path(), split))
        if path.relative_to(self.root).as_posix() not in self._files:
            raise ValueError(self.missing_split({"new_domain_test": "new_domain"}.get(split, split)))
        return pd.read_parquet(self._listed(path))

    def has_interactions(self, split: str) -> bool:
        """Whether `interactions(split)` can be read in this view."""
        return self.labels is not None or not (self.sealed and split in SEALED_INTERACTIONS)

    def instances(self, task: str, split: str) -> pd.DataFrame:
        if split not in layout.TASK_SPLITS:
            raise ValueError(f"unknown split {split!r}; known: {layout.TASK_SPLITS}")
        if self.for_model and self.sealed and split in EVAL_SPLITS:
            raise PermissionError(f"{task}/{split}: a model is given the instances of a scored split by the "
                                  "evaluator, one task at a time, and never reads them itself")
        path = layout.task_path(self.root, task, split)
        if not path.parent.is_dir():
            known = sorted(p.name for p in (self.root / "tasks").iterdir() if p.is_dir())
            raise ValueError(f"unknown task {task!r}; this dataset has instances of: {', '.join(known)}")
        if not self.has_split(split):
            raise ValueError(self.missing_split(split))
        frame = pd.read_parquet(self._listed(path))
        if self.labels is not None and self.sealed and split in EVAL_SPLITS:
            frame = self.labels.attach(task, split, frame)
        # a task leaves the other tasks' columns null: drop them so int columns stay int64, not float
        return frame[[c for c in frame.columns if c in ("id", "user", "history") or len(frame) == 0 or frame[c].notna().any()]]
