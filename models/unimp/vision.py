"""The vision side: an open_clip image tower (any architecture, random init or a local checkpoint),
catalogue images as pixels, and the per-catalogue feature cache used when the tower is frozen."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm.auto import tqdm

from benchmark.api import cache_root, compat

from .config import UniMPConfig

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class VisionEncoder(nn.Module):
    """open_clip visual tower returning patch tokens: (N, 3, S, S) -> (N, P, D)."""

    def __init__(self, cfg: UniMPConfig):
        super().__init__()

        compat.apply()
        import open_clip  # heavy: open_clip
        from open_clip.model import CLIPVisionCfg, _build_vision_tower  # heavy: open_clip

        if cfg.vision_model:
            clip = open_clip.create_model(cfg.vision_model, pretrained=cfg.vision_checkpoint or None)
            self.visual = clip.visual
        else:
            args = dict(cfg.vision_args)
            embed_dim = args.pop("embed_dim", 128)
            self.visual = _build_vision_tower(embed_dim, CLIPVisionCfg(image_size=cfg.image_size, **args))
        if hasattr(self.visual, "output_tokens"):
            self.visual.output_tokens = True
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)
        self.image_size = cfg.image_size
        with torch.no_grad():
            self.dim = self(torch.zeros(1, 3, cfg.image_size, cfg.image_size, dtype=torch.uint8)).shape[-1]

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        # pixels: (N, 3, S, S) uint8
        x = (pixels.float() / 255.0 - self.mean) / self.std
        out = self.visual(x)
        if isinstance(out, tuple):                     # ViT with output_tokens: (pooled, tokens)
            pooled, tokens = out
            return tokens if tokens is not None and tokens.dim() == 3 else pooled.unsqueeze(1)
        return out.unsqueeze(1) if out.dim() == 2 else out.flatten(2).transpose(1, 2)  # (N, P, D)


def load_pixels(data, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All catalogue images, resized: (n_items, 3, S, S) uint8 and has_image (n_items,) bool."""
    n = data.n_items
    pixels = torch.zeros(n, 3, image_size, image_size, dtype=torch.uint8)
    has = torch.zeros(n, dtype=torch.bool)
    for item in tqdm(range(n), desc="unimp: images", leave=False, mininterval=5):
        path = data.image_path(item)
        if path is None or not Path(path).is_file():
            continue
        with Image.open(path) as im:
            im = im.convert("RGB").resize((image_size, image_size), Image.BICUBIC)
        pixels[item] = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)
        has[item] = True
    return pixels, has


def cache_key(dataset_sha256: str, cfg: UniMPConfig) -> str:
    """Key of a frozen-feature cache: the dataset and everything that determines the encoder."""
    enc = {k: getattr(cfg, k) for k in ("vision_model", "vision_args", "vision_checkpoint", "image_size")}
    if cfg.vision_checkpoint and Path(cfg.vision_checkpoint).is_file():
        enc["checkpoint_mtime"] = Path(cfg.vision_checkpoint).stat().st_mtime
    return hashlib.sha256(json.dumps([dataset_sha256, enc], sort_keys=True).encode()).hexdigest()[:32]


def cache_dir() -> Path:
    return cache_root() / "vision"


@torch.no_grad()
def frozen_features(encoder: VisionEncoder, pixels: torch.Tensor, has: torch.Tensor, key: str,
                    batch_size: int = 64) -> torch.Tensor:
    """(n_items, P, D) float16 features of a frozen encoder, computed once and cached on disk
    (safetensors, keyed by `key`); items without an image get zeros."""
    from safetensors.torch import load_file, save_file  # heavy: safetensors

    path = cache_dir() / f"{key}.safetensors"
    if path.is_file():
        return load_file(path)["features"]
    encoder.eval()
    feats = None
    idx = torch.nonzero(has).flatten()
    for start in tqdm(range(0, len(idx), batch_size), desc="unimp: image features", leave=False):
        rows = idx[start:start + batch_size]
        f = encoder(pixels[rows]).to(torch.float16)
        if feats is None:
            feats = torch.zeros(len(pixels), *f.shape[1:], dtype=torch.float16)
        feats[rows] = f
    if feats is None:  # no image at all
        feats = torch.zeros(len(pixels), 1, encoder.dim, dtype=torch.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({"features": feats.contiguous()}, str(tmp))
    os.replace(tmp, path)
    return feats
