"""Frozen image features of a catalogue, shared by every image-aware baseline (VBPR, CausalRec, AMR,
vip5-style): one encoder, features computed once per set of images and cached under
`cache_root()/image_features/<encoder>-<sha256 of the images>.npz`.

Encoders:
    "judge"      (default) the body of the image judge (`benchmark.metrics.image.AttributeJudge`): a small
                 CNN trained on this catalogue's images to read category leaf, colour, shape and pattern
                 (labels from item text only, no interactions), 64-d features. No pretrained weights can
                 be fetched offline; a randomly initialised ResNet/ViT gives features that carry almost
                 nothing, so an encoder trained here on the benchmark's own images is the fairest choice:
                 every model gets the same one, and none of them sees the evaluated interactions through it.
    "open_clip"  a local open_clip checkpoint (`clip_checkpoint`, architecture `clip_model`), for real
                 releases: the image embedding of each catalogue image.
Items without an image get a zero row (`has_image` False); VBPR-style models then score them on their
collaborative part alone.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.data import io
from benchmark.data.environment import cache_root

ENCODERS = ("judge", "open_clip")
FEATURES_VERSION = "1"


@dataclass
class ImageEncoderSettings:
    image_encoder: str = "judge"    # frozen image encoder: judge (trained here on the catalogue) or open_clip
    clip_model: str = "ViT-B-32"    # open_clip architecture of `clip_checkpoint`
    clip_checkpoint: str | None = None  # local open_clip checkpoint file (image_encoder open_clip)


def images_sha256(data) -> str:
    """sha256 over (item token, sha256 of the image bytes) for every item with an image, in token order."""
    h = hashlib.sha256(FEATURES_VERSION.encode())
    for item in data.items.index:
        path = data.image_path(int(item))
        if path is not None:
            h.update(f"{int(item)}:{hashlib.sha256(Path(path).read_bytes()).hexdigest()}\n".encode())
    return h.hexdigest()


def _judge_features(data, images: list) -> np.ndarray:
    from benchmark.metrics.image import AttributeJudge, default_cache_dir  # heavy: torch

    judge = AttributeJudge.for_dataset(data, default_cache_dir())
    return judge.run(images)[0].astype(np.float32)


def _clip_features(settings: ImageEncoderSettings, images: list) -> np.ndarray:
    from benchmark.data import compat

    compat.apply()  # before open_clip imports torchvision
    import open_clip  # heavy: open_clip
    import torch  # heavy: torch

    if not settings.clip_checkpoint or not Path(settings.clip_checkpoint).is_file():
        raise ValueError(f"image_encoder open_clip needs clip_checkpoint, a local file; got {settings.clip_checkpoint!r}")
    model, _, preprocess = open_clip.create_model_and_transforms(settings.clip_model,
                                                                 pretrained=settings.clip_checkpoint)
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), 64):
            x = torch.stack([preprocess(im) for im in images[i:i + 64]])
            out.append(model.encode_image(x).float().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def item_image_features(data, settings: ImageEncoderSettings | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(features (n_items, D) float32, has_image (n_items,) bool) for `data`'s catalogue, from the cache
    when these very images were encoded before with the same encoder."""
    settings = settings or ImageEncoderSettings()
    if settings.image_encoder not in ENCODERS:
        raise ValueError(f"image_encoder must be one of {ENCODERS}, got {settings.image_encoder!r}")
    tag = settings.image_encoder
    if tag == "open_clip":
        ck = Path(settings.clip_checkpoint or "")
        tag += "-" + hashlib.sha256(f"{settings.clip_model}:{ck.resolve()}".encode()).hexdigest()[:12]
    else:
        tag += "-" + data.sha256[:16]  # the judge is trained per dataset
    path = cache_root() / "image_features" / f"{tag}-{images_sha256(data)[:32]}.npz"
    tokens = data.items.index.to_numpy(dtype=np.int64)
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            if len(z["has_image"]) == data.n_items:
                return z["features"], z["has_image"]
    has = np.zeros(data.n_items, dtype=bool)
    with_image = [int(t) for t in tokens if data.image_path(int(t)) is not None]
    has[with_image] = True
    images = [data.load_image(t) for t in with_image]
    feats = _judge_features(data, images) if settings.image_encoder == "judge" else _clip_features(settings, images)
    out = np.zeros((data.n_items, feats.shape[1] if len(feats) else 1), dtype=np.float32)
    if len(feats):
        out[with_image] = feats
    with io.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, features=out, has_image=has)
    return out, has
