"""Train the image tokenizer with a plain PyTorch loop (taming's Lightning step does not run under
Lightning 2): reconstruction (L1 + MSE on [-1, 1] pixels) + taming's codebook/commitment loss; no LPIPS
(its VGG16 weights are not available offline) and no discriminator.

    python -m models.vq.train --data <prepared dataset> --out <folder> [--steps 2000] [--seed 0]

A seeded share of the images is held out; its reconstruction PSNR/SSIM is written into config.json.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from benchmark.api import PreparedDataset
from models.vq.config import VQConfig
from models.vq.tokenizer import VQTokenizer, build_vqmodel, images_to_tensor


def _load(paths: Sequence[Path]) -> list:
    out = []
    for p in paths:
        with Image.open(p) as im:
            out.append(im.convert("RGB"))
    return out


def evaluate_reconstruction(tokenizer: VQTokenizer, images: list) -> dict[str, float]:
    """Mean PSNR / SSIM of encode->decode at the tokenizer's resolution, and codebook usage."""
    from benchmark.metrics.image import psnr, ssim  # heavy: benchmark
    from models.vq.tokenizer import tensor_to_images  # heavy: torch

    if not images:
        return {"n": 0}
    tokens = tokenizer.encode(images)
    recon = tokenizer.decode(tokens)
    ref = tensor_to_images(images_to_tensor(images, tokenizer.resolution))  # the input as the model sees it
    return {
        "n": len(images),
        "psnr": float(np.mean([psnr(a, b) for a, b in zip(recon, ref)])),
        "ssim": float(np.mean([ssim(a, b) for a, b in zip(recon, ref)])),
        "codes_used": int(torch.unique(tokens).numel()),
    }


def split_holdout(n: int, seed: int, fraction: float = 0.05, max_holdout: int = 256) -> np.ndarray:
    """Boolean (n,) mask of held-out images (seeded); none when n < 10."""
    held = np.zeros(n, bool)
    if n >= 10:
        k = min(max_holdout, max(1, int(round(fraction * n))))
        held[np.random.default_rng(seed).permutation(n)[:k]] = True
    return held


@torch.no_grad()
def _restart_dead_codes(model, z_flat: torch.Tensor, usage: torch.Tensor, gen: torch.Generator) -> int:
    """Re-seed codes unused since the last restart with random encoder outputs of the current batch."""
    dead = torch.nonzero(usage == 0).view(-1)
    if len(dead) == 0 or len(z_flat) == 0:
        return 0
    pick = torch.randint(len(z_flat), (len(dead),), generator=gen)
    model.quantize.embedding.weight.data[dead] = z_flat[pick]
    return len(dead)


def lr_schedule(opt: torch.optim.Optimizer, name: str, steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning-rate factor per step: 1 throughout ("constant") or a half cosine from 1 to 0 ("cosine")."""
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    if name == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps)))
    raise ValueError(f"VQ lr_schedule must be 'constant' or 'cosine', got {name!r}")


def train_vq(image_paths: Sequence[str | Path], out_dir: str | Path, config: VQConfig | None = None,
             steps: int = 2000, seed: int = 0, holdout: float = 0.05, progress: bool = True,
             curve: Callable[[int, str, float], None] | None = None) -> Path:
    """Train a VQModel on the images and save it to `out_dir` (model.safetensors + config.json).
    `curve(step, name, value)` receives each step's reconstruction and codebook losses.

    Deterministic given (images, config, steps, seed) on one machine. Returns `out_dir`."""
    config = config or VQConfig()
    paths = [Path(p) for p in image_paths]
    if not paths:
        raise ValueError("train_vq: no images")
    held = split_holdout(len(paths), seed, holdout)
    train_paths = [p for p, h in zip(paths, held) if not h]
    x_all = ((images_to_tensor(_load(train_paths), config.resolution) + 1) * 127.5).round().to(torch.uint8)

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_vqmodel(config).train()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.9))
    sched = lr_schedule(opt, config.lr_schedule, steps)
    usage = torch.zeros(config.n_embed, dtype=torch.long)
    history: list[float] = []
    restarted = 0
    t0 = time.time()
    bar = tqdm(range(steps), desc="vq", disable=not progress)
    for step in bar:
        idx = torch.randint(len(x_all), (min(config.batch_size, len(x_all)),), generator=gen)
        x = x_all[idx].float() / 127.5 - 1.0                  # (B, 3, R, R)
        h = model.quant_conv(model.encoder(x))                  # (B, embed_dim, g, g)
        quant, qloss, (_, _, codes) = model.quantize(h)
        xrec = model.decode(quant)
        rec = config.l1_weight * (x - xrec).abs().mean() + config.l2_weight * F.mse_loss(xrec, x)
        loss = rec + config.codebook_weight * qloss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append(rec.item())
        if curve is not None:
            curve(step + 1, "rec_loss", history[-1])
            curve(step + 1, "codebook_loss", qloss.item())
        usage += torch.bincount(codes.view(-1), minlength=config.n_embed)
        every = config.restart_dead_codes_every
        if every and (step + 1) % every == 0 and step + 1 < steps * 0.8:  # let codes settle at the end
            restarted += _restart_dead_codes(model, h.detach().permute(0, 2, 3, 1).reshape(-1, config.embed_dim),
                                             usage, gen)
            usage.zero_()
        if step % 10 == 0:
            bar.set_postfix(rec=f"{rec.item():.4f}", q=f"{qloss.item():.4f}")
    train_time = time.time() - t0
    tokenizer = VQTokenizer(model.eval(), config, source=str(out_dir))
    heldout_paths = [p for p, h in zip(paths, held) if h]
    metrics = evaluate_reconstruction(tokenizer, _load(heldout_paths))
    k = max(1, min(10, len(history) // 10))
    training = {
        "steps": steps, "seed": seed, "n_train_images": len(train_paths), "n_heldout_images": len(heldout_paths),
        "train_time_s": round(train_time, 1), "rec_loss_first": float(np.mean(history[:k])) if history else None,
        "rec_loss_last": float(np.mean(history[-k:])) if history else None, "codes_restarted": restarted,
        "heldout": metrics, "loss": "l1 + mse + codebook/commitment (no LPIPS, no discriminator)",
    }
    tokenizer.save(out_dir, training=training)
    return Path(out_dir)


def dataset_image_paths(data_root: str | Path) -> list[Path]:
    """Every item image of a prepared dataset, in item-token order."""
    ds = PreparedDataset(data_root)
    items = ds.items[ds.items["image"].notna()]
    return [ds.root / rel for rel in items["image"]]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="prepared dataset folder")
    ap.add_argument("--out", required=True, help="output tokenizer folder")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resolution", type=int, default=VQConfig.resolution)
    ap.add_argument("--ch-mult", default=",".join(map(str, VQConfig.ch_mult)))
    ap.add_argument("--n-embed", type=int, default=VQConfig.n_embed)
    ap.add_argument("--batch-size", type=int, default=VQConfig.batch_size)
    args = ap.parse_args(argv)
    config = VQConfig(resolution=args.resolution, ch_mult=tuple(int(c) for c in args.ch_mult.split(",")),
                      n_embed=args.n_embed, batch_size=args.batch_size)
    out = train_vq(dataset_image_paths(args.data), args.out, config, steps=args.steps, seed=args.seed)

    print(json.dumps(json.loads((out / "config.json").read_text())["training"], indent=2))


if __name__ == "__main__":
    main()
