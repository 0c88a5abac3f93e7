"""UniMP's image generation (paper §2.3, eq. 9): the VQ image tokenizer, every catalogue image as VQ
codes, the retrieval that fills `[Retrieved Images]`, and the two-stage generation.

Stage 1 retrieves `n_retrieved` items with UniMP's own search (the search instruction and the query,
history items and items without an image excluded, the split's catalogue only). Stage 2 decodes
grid x grid image tokens from the prompt `history + retrieved items + query + instruction` and the
VQ decoder turns them into pixels.

Training instances (built from the `train` image instances only) need retrieved items before UniMP
can search, so training uses a fixed stand-in for stage 1: the most popular training items of the
query's category that have an image, excluding the user's history and the target itself (a decision
of this benchmark; the paper does not say how its training prompts were retrieved).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmark.api import CURVES_FILE, CategoryPopularity, append_curve, cache_root

from .config import UniMPConfig, resolve_path
from .decode import rank_items


# ---- the tokenizer -----------------------------------------------------------------------------------
def vq_cache_key(dataset_sha256: str, cfg: UniMPConfig) -> str:
    from models.vq import VQConfig  # heavy: torch

    spec = [dataset_sha256, VQConfig(**cfg.vq_args).to_dict(), cfg.vq_steps, cfg.seed]
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]


def vq_tokenizer(cfg: UniMPConfig, data):
    """The VQ tokenizer: `cfg.vq_path` when given, else one trained on the dataset's catalogue images
    (models.vq.train_vq, deterministic) and cached in <cache>/vq/<key> (key: dataset sha256, VQ config,
    steps, seed)."""
    from models.vq import VQConfig, VQTokenizer, train_vq  # heavy: torch

    if cfg.vq_path:
        return VQTokenizer.load(resolve_path(cfg.vq_path))
    folder = cache_root() / "vq" / vq_cache_key(data.sha256, cfg)
    if not (folder / "config.json").is_file():
        items = data.items[data.items["image"].notna()]
        paths = [data.root / rel for rel in items["image"]]
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        train_vq(paths, tmp, VQConfig(**cfg.vq_args), steps=cfg.vq_steps, seed=cfg.seed,
                 curve=lambda step, name, value: append_curve(tmp, "vq", "train", step, name, value))
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    return VQTokenizer.load(folder)


def copy_vq_curve(tokenizer, run_dir) -> None:
    """The tokenizer's training curve (kept beside it in the cache) into the run's curves.csv, so that
    `unimp-bench plot` shows it for the run that uses it, trained now or before."""
    path = Path(tokenizer.source) / CURVES_FILE
    if run_dir is None or not path.is_file():
        return
    for line in path.read_text().splitlines()[1:]:
        regime, phase, step, name, value = line.split(",")
        append_curve(run_dir, regime, phase, int(step), name, float(value))


def vq_training_info(tokenizer) -> dict:
    """What the tokenizer's config.json says about its training (held-out PSNR/SSIM), if anything."""
    path = Path(tokenizer.source) / "config.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get("training", {})


@torch.no_grad()
def catalogue_codes(tokenizer, data) -> dict[int, list[int]]:
    """item -> its image's VQ codes (row-major over the grid), for every item with an image."""
    items = [int(i) for i in data.items.loc[data.items["image"].notna(), "item"]]
    out: dict[int, list[int]] = {}
    for start in range(0, len(items), 256):
        chunk = items[start:start + 256]
        codes = tokenizer.encode([data.load_image(i) for i in chunk])
        out.update({i: c.tolist() for i, c in zip(chunk, codes)})
    return out


# ---- retrieval --------------------------------------------------------------------------------------
def with_training_retrieval(df: pd.DataFrame, data, regime: str, k: int) -> pd.DataFrame:
    """Training image instances with a "retrieved" column: the most popular training items of the
    query's category with an image, history and target excluded (benchmark.api.CategoryPopularity)."""
    ret = CategoryPopularity(data, regime)
    retrieved = [ret.retrieve(q, {int(t), *map(int, h)}, k, fallback=False) for q, t, h in
                 zip(df["query"], df["target_item"], df["history"])]
    return df.assign(retrieved=retrieved)


def search_retrieve(model, builder, data, requests: pd.DataFrame, k: int, batch_size: int) -> list[list[int]]:
    """Stage 1 of eq. 9: UniMP's search ranking for each request's query and history (the search
    instruction, not the image one); the top k items with an image, history and other-catalogue
    items excluded. The split is read from each instance id ("image/<split>/<n>")."""
    scores = rank_items(model, builder, requests.assign(instruction=None), "search", batch_size)
    has = data.items["image"].notna().to_numpy()
    splits = requests["id"].str.split("/").str[1]
    allowed = {split: has & data.catalogue_mask(split) for split in splits.unique()}
    out = []
    for row, (split, history) in enumerate(zip(splits, requests["history"])):
        s = np.where(allowed[split], scores[row], -np.inf)
        s[np.asarray(list(history), dtype=np.int64)] = -np.inf
        top = np.argsort(-s, kind="stable")[:k]
        out.append([int(i) for i in top if np.isfinite(s[i])])
    return out
