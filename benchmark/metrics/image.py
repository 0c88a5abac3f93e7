"""Image-generation metrics, all offline (the paper shows pictures only; these numbers are ours).

Pixel metrics (generated vs the target item's image, the generated image resized bicubically to the
target's size):
    psnr  in dB over RGB uint8, capped at PSNR_CAP (identical images give PSNR_CAP, not inf);
    ssim  Wang et al. 2004 with an 11x11 Gaussian window (sigma 1.5), K1 0.01, K2 0.03, "valid"
          borders, per RGB channel then averaged: equals scikit-image's structural_similarity with
          gaussian_weights=True, sigma=1.5, use_sample_covariance=False (to 1e-6, tested); torchmetrics'
          SSIM agrees only after cropping its 5-pixel "same" borders.
Judge metrics, in the space of a small CNN (`AttributeJudge` below) trained on the
dataset's catalogue images to predict category leaf and the visual attributes named in the item text:
    attribute_match  per instance, the share of the target's attributes that the judge reads off
                     the generated image; an attribute is the one the item text states, or where the
                     text is silent the judge's reading of the target image;
    frechet          Fréchet distance between the judge features of generated and target images;
    personalization  over pairs of instances with the same query, different users and different
                     targets: the share of (instance, other) comparisons in which the generated image
                     is closer to its own target than to the other's (ties count 1/2). 0.5 = chance.
Token metrics of models that predict image tokens, recorded by the model with each image (the
evaluator cannot recompute them: they need the model), averaged here: token_nll (nats per token of
the target's VQ codes under teacher forcing), token_accuracy (share of codes that are the argmax).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from tqdm.auto import tqdm

from benchmark.data import io
from benchmark.data.dataset import PreparedDataset
from benchmark.data.environment import cache_root
from benchmark.data.errors import DataError
from benchmark.metrics import device
from benchmark.metrics.registry import IMAGE_TOKEN_SCORES

PSNR_CAP = 100.0          # dB; MSE below 255**2 * 1e-10 is reported as the cap
SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03
JUDGE_VERSION = "2"  # 2: trained in a child process with TRAIN_ENV, features in float64
# The leaderboard recomputes judge scores on other machines, so the judge must come out bit for bit the
# same anywhere. torch picks its CPU kernels by instruction set (AVX2 vs AVX-512: different summation
# orders) and thread count, and 360 training steps amplify a last-bit difference into different weights.
# So the judge trains in a child process pinned to the portable kernels: ATen's baseline build, MKL in
# its CPU-independent mode, oneDNN off, one thread (set before torch loads; they cannot change later).
TRAIN_ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1",
             "MKL_NUM_THREADS": "1"}
# Features are computed in float64: a trained judge's features then differ between CPUs by ~1e-15
# relative, far within the leaderboard's tolerance (in float32 by ~1e-7, enough to move a Fréchet distance).
JUDGE_DTYPE = torch.float64
# An attribute counts in attribute_match only if the judge reads it off held-out real images at least
# this often (e.g. the embedded world's category leaves mix colours and shapes, so no image shows them).
ATTRIBUTE_MIN_ACCURACY = 0.5


# ---- pixel metrics ------------------------------------------------------------------------------
def to_array(image) -> np.ndarray:
    """PIL image or array -> float64 array (H, W, 3) in 0..255."""
    if isinstance(image, np.ndarray):
        arr = image.astype(np.float64)
        return np.repeat(arr[..., None], 3, axis=2) if arr.ndim == 2 else arr
    return np.asarray(image.convert("RGB"), dtype=np.float64)


def _same_size(generated, target):
    """Resize a PIL `generated` to `target`'s size (bicubic) when they differ."""
    if hasattr(generated, "size") and hasattr(target, "size") and generated.size != target.size:
        generated = generated.convert("RGB").resize(target.size, Image.Resampling.BICUBIC)
    return generated


def psnr(a, b, max_value: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB between two images of equal size, capped at PSNR_CAP."""
    x, y = to_array(a), to_array(b)
    if x.shape != y.shape:
        raise ValueError(f"psnr: shapes differ {x.shape} vs {y.shape}")
    mse = float(np.mean((x - y) ** 2))
    if mse <= max_value ** 2 * 10 ** (-PSNR_CAP / 10):
        return PSNR_CAP
    return min(PSNR_CAP, 10.0 * math.log10(max_value ** 2 / mse))


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return torch.outer(g, g)  # (size, size), sums to 1


def ssim(a, b, data_range: float = 255.0) -> float:
    """Mean SSIM over the valid region and the three RGB channels (Gaussian window 11, sigma 1.5).

    Computed in float32 on values scaled to [0, 1] (agrees with a float64 computation to ~1e-6).
    Images smaller than 11 px use the largest odd window that fits."""
    x = torch.from_numpy(to_array(a) / data_range).float().permute(2, 0, 1)[None]  # (1, 3, H, W)
    y = torch.from_numpy(to_array(b) / data_range).float().permute(2, 0, 1)[None]
    if x.shape != y.shape:
        raise ValueError(f"ssim: shapes differ {tuple(x.shape)} vs {tuple(y.shape)}")
    size = min(SSIM_WINDOW, x.shape[2], x.shape[3])
    size -= (size + 1) % 2
    w = _gaussian_window(size, SSIM_SIGMA).float()[None, None].repeat(3, 1, 1, 1)  # (3, 1, k, k)
    # (co)variances from channel-centred values (they are shift-invariant; centring avoids float32
    # cancellation), one grouped convolution for the five local statistics: (5, 3, H-k+1, W-k+1)
    mx, my = x.mean(dim=(2, 3), keepdim=True), y.mean(dim=(2, 3), keepdim=True)
    xc, yc = x - mx, y - my
    m_xc, m_yc, exx, eyy, exy = F.conv2d(torch.cat([xc, yc, xc * xc, yc * yc, xc * yc]), w, groups=3)
    sxx, syy, sxy = exx - m_xc * m_xc, eyy - m_yc * m_yc, exy - m_xc * m_yc
    mu_x, mu_y = m_xc + mx[0], m_yc + my[0]
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (sxx + syy + c2))
    return float(s.double().mean())


# ---- token metrics ------------------------------------------------------------------------------
def token_accuracy(logits_or_tokens: torch.Tensor, target: torch.Tensor, ignore_index: int = -100) -> float:
    """Share of target image tokens predicted exactly. Accepts logits (B, T, V) or tokens (B, T)."""
    pred = logits_or_tokens.argmax(-1) if logits_or_tokens.ndim == target.ndim + 1 else logits_or_tokens
    keep = target != ignore_index
    return float((pred[keep] == target[keep]).float().mean()) if keep.any() else float("nan")


def token_nll(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100) -> float:
    """Mean negative log-likelihood (nats per token) of the target's image tokens; logits (B, T, V)."""
    return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1),
                                 ignore_index=ignore_index))


# ---- set-level feature metrics ------------------------------------------------------------------
def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two (N, D) feature sets."""
    from scipy import linalg  # heavy: scipy

    a, b = np.asarray(feats_a, dtype=np.float64), np.asarray(feats_b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("frechet_distance needs at least 2 samples per set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():  # near-singular product: regularise (as pytorch-fid does)
        eps = np.eye(len(s_a)) * 1e-6
        covmean = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    covmean = np.real(covmean)
    d = float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean))
    return max(d, 0.0)


def personalization(gen_feats: np.ndarray, target_feats: np.ndarray, queries: Sequence,
                    users: Sequence, target_items: Sequence) -> tuple[float, np.ndarray, int]:
    """Pairs (i, j) with queries[i] == queries[j], users differ and target items differ. For each
    direction, 1 if gen_i is closer (Euclidean) to target_i than to target_j, 1/2 on a tie, else 0.

    Returns (mean over all directed comparisons or NaN if none, per-instance mean (NaN where the
    instance has no pair), number of unordered pairs)."""
    g, t = np.asarray(gen_feats, np.float64), np.asarray(target_feats, np.float64)
    queries, users, target_items = list(queries), list(users), list(target_items)
    n = len(g)
    wins, counts = np.zeros(n), np.zeros(n)
    groups: dict[Any, list[int]] = {}
    for i, q in enumerate(queries):
        groups.setdefault(q, []).append(i)
    n_pairs = 0
    for idx in groups.values():
        if len(idx) < 2:
            continue
        idx = np.asarray(idx)
        d = np.linalg.norm(g[idx][:, None, :] - t[idx][None, :, :], axis=2)  # d[a, b] = |gen_a - tgt_b|
        own = np.diag(d)[:, None]
        u = np.asarray([users[i] for i in idx], dtype=object)
        it = np.asarray([target_items[i] for i in idx], dtype=object)
        valid = (u[:, None] != u[None, :]) & (it[:, None] != it[None, :])
        score = np.where(own < d, 1.0, np.where(own == d, 0.5, 0.0))
        wins[idx] += (score * valid).sum(1)
        counts[idx] += valid.sum(1)
        n_pairs += int(valid.sum()) // 2
    per = np.divide(wins, counts, out=np.full(n, np.nan), where=counts > 0)
    total = float(wins.sum() / counts.sum()) if counts.sum() else float("nan")
    return total, per, n_pairs


# ---- the attribute judge -------------------------------------------------------------------------
COLOUR_WORDS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "black", "white",
                "brown", "gray", "grey", "silver", "gold", "beige", "navy")
SHAPE_WORDS = {"round": "circle", "circle": "circle", "circular": "circle", "square": "square",
               "triangular": "triangle", "triangle": "triangle", "diamond": "diamond",
               "diamond-shaped": "diamond"}
PATTERN_WORDS = {"striped": "striped", "stripes": "striped", "dotted": "dotted", "polka": "dotted",
                 "checked": "checked", "plaid": "checked", "solid": "solid"}


def _first_word(text: str, vocab) -> str | None:
    if not isinstance(text, str):
        return None
    for word in re.findall(r"[a-z]+(?:-[a-z]+)?", text.lower()):
        if word in vocab:
            return vocab[word] if isinstance(vocab, dict) else word
    return None


def item_attributes(items: pd.DataFrame) -> pd.DataFrame:
    """Per item: category leaf, colour (title, else description), shape and pattern (title +
    description); None where the text does not say."""
    title = items["title"].astype(object).where(items["title"].notna(), "")
    desc = items["description"].astype(object).where(items["description"].notna(), "")
    both = title + " " + desc
    colour_vocab = {w: ("gray" if w == "grey" else w) for w in COLOUR_WORDS}
    return pd.DataFrame({
        "category": [c.split(">")[-1].strip() if isinstance(c, str) and c.strip() else None
                     for c in items["category"]],
        "colour": [_first_word(t, colour_vocab) or _first_word(d, colour_vocab) for t, d in zip(title, desc)],
        "shape": [_first_word(t, SHAPE_WORDS) for t in both],
        "pattern": [_first_word(t, PATTERN_WORDS) for t in both],
    }, index=items.index)


@dataclass
class JudgeConfig:
    size: int = 32            # images are centre-cropped and resized to size x size
    width: int = 16           # channels of the first conv; doubled twice; features = 4 * width
    epochs: int = 12
    min_steps: int = 200      # small catalogues get more epochs, so that at least this many steps run
    batch_size: int = 64
    lr: float = 2e-3
    min_count: int = 5        # classes with fewer labelled training items are dropped (label unknown)
    holdout: float = 0.1      # share of items held out to report the judge's accuracy
    seed: int = 0


class JudgeNet(torch.nn.Module):
    """Three conv blocks -> global average pool (the feature space) -> one linear head per attribute."""

    def __init__(self, width: int, n_classes: dict[str, int]):
        super().__init__()
        layers, c_in = [], 3
        for c in (width, 2 * width, 4 * width):
            layers += [torch.nn.Conv2d(c_in, c, 3, padding=1), torch.nn.BatchNorm2d(c), torch.nn.ReLU(),
                       torch.nn.Conv2d(c, c, 3, padding=1), torch.nn.BatchNorm2d(c), torch.nn.ReLU(),
                       torch.nn.MaxPool2d(2)]
            c_in = c
        self.body = torch.nn.Sequential(*layers)
        self.heads = torch.nn.ModuleDict({k: torch.nn.Linear(c_in, n) for k, n in n_classes.items()})

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))  # (B, 4*width)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.features(x)
        return {k: h(f) for k, h in self.heads.items()}


def judge_tensor(images: Sequence, size: int) -> torch.Tensor:
    """PIL images -> (B, 3, size, size) float in [0, 1]: RGB, centre-cropped, resized bicubically."""
    arr = [np.asarray(ImageOps.fit(im.convert("RGB"), (size, size), Image.Resampling.BICUBIC), np.float32)
           for im in images]
    return torch.from_numpy(np.stack(arr)).permute(0, 3, 1, 2) / 255.0


@contextlib.contextmanager
def _reproducible():
    """One torch thread (reductions in one fixed order), deterministic kernels, oneDNN off, and a forked
    global RNG (seeding inside does not touch the caller's); all restored on exit."""
    threads = torch.get_num_threads()
    det, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]), torch.backends.mkldnn.flags(enabled=False):
            yield
    finally:
        torch.use_deterministic_algorithms(det, warn_only=warn_only)
        torch.set_num_threads(threads)


def weights_sha256(net: torch.nn.Module) -> str:
    """sha256 over the state dict (names, dtypes, shapes, bytes, in name order): the judge's identity."""
    h = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        h.update(f"{k}:{v.dtype}:{tuple(v.shape)}:".encode())
        h.update(v.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


class AttributeJudge:
    """The trained judge: class vocabularies per attribute, the network, its held-out accuracy."""

    def __init__(self, net: JudgeNet, classes: dict[str, list[str]], config: JudgeConfig, info: dict):
        self.sha256 = weights_sha256(net)  # of the weights as trained (float32), before the float64 copy
        self.net, self.classes, self.config, self.info = net.to(JUDGE_DTYPE).eval(), classes, config, info

    def identity(self) -> dict:
        """What a run records so that a recomputation can tell a different judge from a changed score."""
        return {"weights_sha256": self.sha256, "version": JUDGE_VERSION, "config": asdict(self.config),
                "torch": torch.__version__}

    @torch.inference_mode()
    def run(self, images: Sequence, batch_size: int = 256) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(features (N, D), {attribute: predicted class name per image})."""
        feats, preds = [], {k: [] for k in self.classes}
        dev = device.current()  # inference only: the judge is trained on the CPU, so its weights never depend on it
        net = self.net.to(dev)
        for i in range(0, len(images), batch_size):
            x = judge_tensor(images[i:i + batch_size], self.config.size).to(device=dev, dtype=JUDGE_DTYPE)
            f = net.features(x)
            feats.append(f.cpu().numpy())
            for k, h in self.net.heads.items():
                preds[k].extend(self.classes[k][j] for j in h(f).argmax(1).tolist())
        self.net.to("cpu")
        d = 4 * self.config.width
        return (np.concatenate(feats) if feats else np.zeros((0, d)),
                {k: np.asarray(v, dtype=object) for k, v in preds.items()})

    def labels(self, attrs: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per attribute, the known label of each row, None where unknown or outside the vocabulary."""
        return {k: np.asarray([v if v in set(vocab) else None for v in attrs[k]], dtype=object)
                for k, vocab in self.classes.items()}

    # ---- training and cache -------------------------------------------------------------------
    @classmethod
    def for_dataset(cls, dataset, cache_dir: str | Path, config: JudgeConfig | None = None,
                    progress: bool = False) -> "AttributeJudge":
        """Load the cached judge for this dataset and config, or train it once and cache it."""
        config = config or JudgeConfig()
        key = hashlib.sha256(json.dumps([dataset.sha256, asdict(config), JUDGE_VERSION],
                                        sort_keys=True).encode()).hexdigest()[:16]
        stem = Path(cache_dir) / f"judge-{key}"
        weights, meta_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
        if weights.is_file() and meta_path.is_file():
            from safetensors.torch import load_file  # heavy: safetensors

            meta = json.loads(meta_path.read_text())
            net = JudgeNet(config.width, {k: len(v) for k, v in meta["classes"].items()})
            net.load_state_dict(load_file(str(weights)))
            return cls(net, meta["classes"], config, meta["info"])
        judge = cls.train(dataset, config, progress=progress)
        from safetensors.torch import save_file  # heavy: safetensors

        with io.atomic_path(weights) as tmp:
            save_file({k: v.float().contiguous() for k, v in judge.net.state_dict().items()}, str(tmp))
        io.write_json(meta_path, {"classes": judge.classes, "info": judge.info, "config": asdict(config),
                                  "dataset_sha256": dataset.sha256, "version": JUDGE_VERSION,
                                  "weights_sha256": judge.sha256})
        return judge

    @classmethod
    def train(cls, dataset, config: JudgeConfig, progress: bool = False) -> "AttributeJudge":
        """Train on every catalogue item with an image (a seeded `holdout` share kept for accuracy), in a
        child process with TRAIN_ENV (see there): the same judge on any machine and thread count."""
        from safetensors.torch import load_file  # heavy: safetensors

        root = str(Path(__file__).resolve().parents[2])  # the child imports this very copy of the package
        env = {**os.environ, **TRAIN_ENV, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
        with tempfile.TemporaryDirectory(prefix="judge-") as tmp:
            out = Path(tmp) / "judge"
            cmd = [sys.executable, "-m", "benchmark.metrics.image", str(dataset.root), json.dumps(asdict(config)),
                   str(out), "1" if progress else "0"]
            done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=None if progress else subprocess.PIPE,
                                  text=True)
            if done.returncode:
                raise RuntimeError(f"{dataset.root}: training the image judge failed:\n{(done.stderr or '')[-2000:]}")
            meta = json.loads(out.with_suffix(".json").read_text())
            net = JudgeNet(config.width, {k: len(v) for k, v in meta["classes"].items()})
            net.load_state_dict(load_file(str(out.with_suffix(".safetensors"))))
        return cls(net, meta["classes"], config, meta["info"])

    @classmethod
    def train_here(cls, dataset, config: JudgeConfig, progress: bool = False) -> "AttributeJudge":
        """`train`'s work in this process (reproducible across machines only under TRAIN_ENV)."""
        with _reproducible():
            return cls._train(dataset, config, progress)

    @classmethod
    def _train(cls, dataset, config: JudgeConfig, progress: bool) -> "AttributeJudge":
        items = dataset.items
        items = items[items["image"].notna()]
        attrs = item_attributes(items)
        rng = np.random.default_rng(config.seed)
        is_held = np.zeros(len(items), bool)
        is_held[rng.permutation(len(items))[: int(round(config.holdout * len(items)))]] = True
        classes: dict[str, list[str]] = {}
        for k in attrs.columns:
            counts = attrs[k][~is_held].value_counts()
            vocab = sorted(counts[counts >= config.min_count].index)
            if len(vocab) >= 2:
                classes[k] = vocab
        if not classes:
            raise ValueError(f"{dataset.root}: no attribute with 2+ classes to train the image judge on")
        y = {k: torch.tensor([vocab.index(v) if v in vocab else -100 for v in attrs[k]]) for k, vocab in classes.items()}
        x = judge_tensor([dataset.load_image(int(i)) for i in items.index], config.size)  # (N, 3, s, s)
        torch.manual_seed(config.seed)
        net = JudgeNet(config.width, {k: len(v) for k, v in classes.items()})
        opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
        train_idx = torch.from_numpy(np.flatnonzero(~is_held))
        gen = torch.Generator().manual_seed(config.seed)
        per_epoch = max(1, math.ceil(len(train_idx) / config.batch_size))
        epochs = max(config.epochs, math.ceil(config.min_steps / per_epoch))
        steps = epochs * per_epoch
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
        net.train()
        bar = tqdm(total=steps, desc="image judge", disable=not progress)
        for _ in range(epochs):
            perm = train_idx[torch.randperm(len(train_idx), generator=gen)]
            for b in range(0, len(perm), config.batch_size):
                idx = perm[b:b + config.batch_size]
                xb = x[idx]
                if torch.rand(1, generator=gen).item() < 0.5:  # flips keep colour, shape and category
                    xb = xb.flip(3)
                out = net(xb)
                loss = sum(F.cross_entropy(out[k], y[k][idx], ignore_index=-100)
                           for k in classes if (y[k][idx] != -100).any())
                opt.zero_grad()
                if torch.is_tensor(loss):
                    loss.backward()
                    opt.step()
                sched.step()
                bar.update(1)
        bar.close()
        net.eval()
        info: dict[str, Any] = {"n_train": int((~is_held).sum()), "n_holdout": int(is_held.sum()), "steps": steps,
                                "holdout_accuracy": {}, "n_classes": {k: len(v) for k, v in classes.items()}}
        held = torch.from_numpy(np.flatnonzero(is_held))
        if len(held):
            with torch.inference_mode():
                out = net(x[held])
            for k in classes:
                yk = y[k][held]
                keep = yk != -100
                if keep.any():
                    info["holdout_accuracy"][k] = float((out[k].argmax(1)[keep] == yk[keep]).float().mean())
        return cls(net, classes, config, info)


# ---- scoring the image task ------------------------------------------------------------------
class ImageScores(NamedTuple):
    """What `score_images` returns; unpacks as (scores, per_instance, extra) and also answers
    `.get("scores" | "per_instance" | "extra")` (the form `benchmark.eval.scoring` reads)."""

    scores: dict[str, float]              # set-level metrics (frechet, personalization, and any mean
                                          # that is undefined on some instance)
    per_instance: dict[str, np.ndarray]   # (n,) per metric, fully defined, whose mean is the score
    extra: dict[str, Any]

    def get(self, key: str, default=None):
        return getattr(self, key) if key in self._fields else default


def default_cache_dir() -> Path:
    return cache_root() / "image_judge"


def _load_generated(run_dir: Path, rec: dict):
    rel = rec.get("image")
    if not isinstance(rel, str):
        raise ValueError(f"image: prediction {rec.get('id')!r} has no \"image\" path")
    path = Path(run_dir) / rel
    if not path.is_file():
        raise DataError(path, None, f"generated image of {rec.get('id')!r} is missing")
    with Image.open(path) as im:
        return im.convert("RGB")


def _token_scores(instances: pd.DataFrame, by_id: dict) -> dict[str, np.ndarray]:
    """Per-instance token_nll / token_accuracy recorded by a token model (NaN where not recorded);
    nothing when no prediction records them."""
    out = {}
    for key in IMAGE_TOKEN_SCORES:
        values = [by_id[i].get(key) for i in instances["id"]]
        if all(v is None for v in values):
            continue
        for i, v in zip(instances["id"], values):
            if v is not None and (not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0
                                  or (key == "token_accuracy" and v > 1)):
                raise ValueError(f"image: prediction {i!r} has an invalid {key} {v!r}")
        out[key] = np.array([np.nan if v is None else float(v) for v in values])
    return out


def score_images(instances: pd.DataFrame, predictions: list[dict], dataset, run_dir: str | Path,
                 cache_dir: str | Path | None = None, judge: AttributeJudge | None = None) -> ImageScores:
    """`_score_images` with one torch thread, so recomputed scores match bit for bit on any machine."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _score_images(instances, predictions, dataset, run_dir, cache_dir, judge)
    finally:
        torch.set_num_threads(prev)


def _score_images(instances: pd.DataFrame, predictions: list[dict], dataset, run_dir: str | Path,
                  cache_dir: str | Path | None = None, judge: AttributeJudge | None = None) -> ImageScores:
    """Score generated images against the targets' images (metric names of benchmark.tasks.TASKS["image"]).

    predictions: one {"id", "image": path relative to run_dir} per instance, in any order.
    The judge is trained once per dataset and cached in `cache_dir` (default: $UNIMP_BENCH_CACHE or
    ~/.cache/unimp-bench, subfolder image_judge)."""
    instances = instances.reset_index(drop=True)
    by_id = {p["id"]: p for p in predictions}
    missing = [i for i in instances["id"] if i not in by_id]
    if missing:
        raise ValueError(f"image: {len(missing)} instances without a prediction, e.g. {missing[:3]}")
    judge = judge or AttributeJudge.for_dataset(dataset, cache_dir or default_cache_dir())
    gens = [_load_generated(Path(run_dir), by_id[i]) for i in instances["id"]]
    targets = [dataset.load_image(int(t)) for t in instances["target_item"]]
    n = len(instances)
    has_t = np.array([t is not None for t in targets])
    per: dict[str, np.ndarray] = {"psnr": np.full(n, np.nan), "ssim": np.full(n, np.nan)}
    for i, (g, t) in enumerate(zip(gens, targets)):
        if t is not None:
            g2 = _same_size(g, t)
            per["psnr"][i], per["ssim"][i] = psnr(g2, t), ssim(g2, t)
    g_feat, g_pred = judge.run(gens)
    t_idx = np.flatnonzero(has_t)
    t_feat = np.full_like(g_feat, np.nan)
    t_pred = {k: np.full(n, None, dtype=object) for k in judge.classes}
    if len(t_idx):
        f, p = judge.run([targets[i] for i in t_idx])
        t_feat[t_idx] = f
        for k in p:
            t_pred[k][t_idx] = p[k]
    attrs = item_attributes(dataset.items.loc[instances["target_item"].astype(int)].reset_index(drop=True))
    acc = judge.info.get("holdout_accuracy", {})
    used = [k for k in judge.classes if acc.get(k, 0.0) >= ATTRIBUTE_MIN_ACCURACY]
    labels = {k: v for k, v in judge.labels(attrs).items() if k in used}
    from_text = {k: int(sum(x is not None for x in v)) for k, v in labels.items()}
    for k, lab in labels.items():  # where the text is silent, the judge's reading of the real target
        silent = np.array([x is None for x in lab]) & has_t
        lab[silent] = t_pred[k][silent]
    by_attribute: dict[str, float] = {}

    def match(pred: dict[str, np.ndarray], record: bool = False) -> np.ndarray:
        hit, known = np.zeros(n), np.zeros(n)
        for k, lab in labels.items():
            ok = np.array([v is not None for v in lab])
            h = ok & (pred[k] == lab)
            hit += h
            known += ok
            if record and ok.any():
                by_attribute[k] = float(h.sum() / ok.sum())
        return np.divide(hit, known, out=np.full(n, np.nan), where=known > 0)

    per["attribute_match"] = match(g_pred, record=True)
    target_match = match(t_pred)
    scores: dict[str, float] = {}
    extra: dict[str, Any] = {
        "psnr_cap_db": PSNR_CAP, "ssim": f"gaussian {SSIM_WINDOW}x{SSIM_WINDOW} sigma {SSIM_SIGMA}, valid, RGB mean",
        "pixel_metrics_at": "target's size (generated resized bicubically)",
        "n_without_target_image": int((~has_t).sum()),
        "attribute_match_by_attribute": by_attribute,
        "attribute_labels_from_text": from_text,  # the rest: the judge's reading of the target image
        "judge": {"identity": judge.identity(), "classes": {k: len(v) for k, v in judge.classes.items()}, **judge.info,
                  "attributes_used": used, "min_holdout_accuracy": ATTRIBUTE_MIN_ACCURACY,
                  "attribute_match_of_targets": None if np.isnan(target_match).all() else float(np.nanmean(target_match))},
    }
    ok = has_t & np.isfinite(g_feat).all(1)
    if ok.sum() >= 2:
        scores["frechet"] = frechet_distance(g_feat[ok], t_feat[ok])
    pers, _, n_pairs = personalization(
        g_feat[ok], t_feat[ok], instances["query"][ok].tolist(), instances["user"][ok].tolist(),
        instances["target_item"][ok].tolist())
    extra["personalization_pairs"] = n_pairs
    if n_pairs:
        scores["personalization"] = pers
    per.update(_token_scores(instances, by_id))
    for m in ("psnr", "ssim", "attribute_match", *IMAGE_TOKEN_SCORES):  # undefined on some instance: set-level
        if m in per and np.isnan(per[m]).any():
            v = per.pop(m)
            extra[f"{m}_n"] = int(np.isfinite(v).sum())
            if np.isfinite(v).any():
                scores[m] = float(np.nanmean(v))
    return ImageScores(scores=scores, per_instance=per, extra=extra)


def _train_main(argv: list[str]) -> None:
    """Child process of `AttributeJudge.train`: DATASET CONFIG_JSON OUT_STEM PROGRESS -> OUT_STEM.safetensors/.json."""
    from safetensors.torch import save_file  # heavy: safetensors

    root, config, out, progress = argv
    judge = AttributeJudge.train_here(PreparedDataset(root), JudgeConfig(**json.loads(config)), progress=progress == "1")
    out = Path(out)
    save_file({k: v.float().contiguous() for k, v in judge.net.state_dict().items()}, str(out.with_suffix(".safetensors")))
    out.with_suffix(".json").write_text(json.dumps({"classes": judge.classes, "info": judge.info}))


if __name__ == "__main__":
    _train_main(sys.argv[1:])
