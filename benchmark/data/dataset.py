"""Read-only access to a prepared dataset folder (see `benchmark.data.layout`)."""
from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from benchmark.data import layout
from benchmark.data.errors import IntegrityError
from benchmark.data.integrity import manifest_files, verify
from benchmark.data.regimes import NEW_DOMAIN_REGIME, regime_of


class PreparedDataset:
    """Opening verifies every file against the manifest's sha256 (`benchmark.data.integrity`); each read then
    checks that the file is one the manifest lists. Either failure raises IntegrityError."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not (self.root / layout.MANIFEST).is_file():
            raise FileNotFoundError(
                f"{self.root}: not a prepared dataset (no {layout.MANIFEST}); run `unimp-bench prepare` first"
            )
        self._files = manifest_files(self.root, self.manifest)
        verify(self.root, self._files)

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
        if path.relative_to(self.root).as_posix() not in self._files:
            raise ValueError(self.missing_split({"new_domain_test": "new_domain"}.get(split, split)))
        return pd.read_parquet(self._listed(path))

    def instances(self, task: str, split: str) -> pd.DataFrame:
        if split not in layout.TASK_SPLITS:
            raise ValueError(f"unknown split {split!r}; known: {layout.TASK_SPLITS}")
        path = layout.task_path(self.root, task, split)
        if not path.parent.is_dir():
            known = sorted(p.name for p in (self.root / "tasks").iterdir() if p.is_dir())
            raise ValueError(f"unknown task {task!r}; this dataset has instances of: {', '.join(known)}")
        if not self.has_split(split):
            raise ValueError(self.missing_split(split))
        frame = pd.read_parquet(self._listed(path))
        # a task leaves the other tasks' columns null: drop them so int columns stay int64, not float
        return frame[[c for c in frame.columns if c in ("id", "user", "history") or len(frame) == 0 or frame[c].notna().any()]]
