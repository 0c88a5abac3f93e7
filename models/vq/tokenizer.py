"""`VQTokenizer`: images <-> image tokens with a taming-transformers VQModel.

A tokenizer folder holds ``model.safetensors`` (the VQModel state dict) and ``config.json``
(``{"format": "unimp-bench-vq", "vq": VQConfig fields, "training": {...}}``), as written by
`models.vq.train.train_vq`. `VQTokenizer.load` also accepts a user's own pretrained VQGAN: a
Lightning ``.ckpt`` (read with ``torch.load(weights_only=True)``) with its taming yaml config beside it
(``<name>.yaml``, ``config.yaml`` or ``model.yaml``; or pass ``yaml_path``).

Tokens are row-major over the latent grid: ``encode`` returns (B, grid*grid) int64 in 0..n_embed-1.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from PIL import Image

from benchmark.api import compat, io
from models.vq.config import VQConfig

FORMAT = "unimp-bench-vq"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
_DUMMY_LOSS = {"target": "taming.modules.losses.vqperceptual.DummyLoss"}


def build_vqmodel(config: VQConfig) -> torch.nn.Module:
    """A taming VQModel with a dummy loss (no LPIPS: its VGG16 weights are not available offline)."""
    compat.apply_taming()
    from taming.models.vqgan import VQModel  # heavy: taming

    return VQModel(ddconfig=config.ddconfig(), lossconfig=_DUMMY_LOSS,
                   n_embed=config.n_embed, embed_dim=config.embed_dim)


def images_to_tensor(images: Iterable, resolution: int) -> torch.Tensor:
    """PIL images -> float tensor (B, 3, R, R) in [-1, 1]: RGB, centre-cropped to a square, resized (bicubic)."""
    arrays = []
    for im in images:
        im = im.convert("RGB")
        w, h = im.size
        side = min(w, h)
        if w != h:
            left, top = (w - side) // 2, (h - side) // 2
            im = im.crop((left, top, left + side, top + side))
        if side != resolution:
            im = im.resize((resolution, resolution), Image.Resampling.BICUBIC)
        arrays.append(np.asarray(im, dtype=np.uint8))
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()  # (B, 3, R, R) in 0..255
    return x / 127.5 - 1.0


def tensor_to_images(x: torch.Tensor) -> list:
    """Float tensor (B, 3, H, W) in [-1, 1] -> PIL RGB images (values clamped)."""
    arr = ((x.detach().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)  # (B, 3, H, W)
    return [Image.fromarray(a.permute(1, 2, 0).cpu().numpy(), "RGB") for a in arr]


class VQTokenizer:
    """Encode images to token ids and decode token ids to images."""

    def __init__(self, model: torch.nn.Module, config: VQConfig, source: str = ""):
        self.model = model.eval()
        self.config = config
        self.source = source  # where the weights came from (recorded in results)

    # ---- properties ------------------------------------------------------------------------------
    @property
    def n_codes(self) -> int:
        return self.config.n_embed

    @property
    def grid(self) -> int:
        return self.config.grid

    @property
    def n_tokens(self) -> int:
        return self.config.n_tokens

    @property
    def resolution(self) -> int:
        return self.config.resolution

    def describe(self) -> dict[str, Any]:
        # the home folder written "~": results are published, and name no machine's user folder
        home = str(Path.home())
        source = "~" + self.source[len(home):] if self.source.startswith(home + os.sep) else self.source
        return {"source": source, "n_codes": self.n_codes, "grid": self.grid, "resolution": self.resolution}

    # ---- I/O -------------------------------------------------------------------------------------
    def save(self, out_dir: str | Path, training: dict[str, Any] | None = None) -> Path:
        """Write model.safetensors and config.json into `out_dir` (atomically, file by file)."""
        from safetensors.torch import save_file  # heavy: safetensors

        out_dir = Path(out_dir)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()
                 if not k.startswith("loss.")}
        with io.atomic_path(out_dir / WEIGHTS) as tmp:
            save_file(state, str(tmp), metadata={"format": FORMAT})
        io.write_json(out_dir / CONFIG, {"format": FORMAT, "version": 1, "vq": self.config.to_dict(),
                                         "training": training or {}})
        return out_dir

    @classmethod
    def load(cls, path: str | Path, yaml_path: str | Path | None = None) -> "VQTokenizer":
        """Load a tokenizer folder (or its config.json / model.safetensors), or a taming `.ckpt`."""
        path = Path(path)
        if path.suffix == ".ckpt":
            return cls._load_ckpt(path, yaml_path)
        folder = path if path.is_dir() else path.parent
        if not (folder / CONFIG).is_file() or not (folder / WEIGHTS).is_file():
            raise FileNotFoundError(f"{folder}: not a VQ tokenizer folder (needs {CONFIG} and {WEIGHTS})")
        meta = json.loads((folder / CONFIG).read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder / CONFIG}: format is {meta.get('format')!r}, expected {FORMAT!r}")
        from safetensors.torch import load_file  # heavy: safetensors

        config = VQConfig.from_dict(meta["vq"])
        model = build_vqmodel(config)
        missing, unexpected = model.load_state_dict(load_file(str(folder / WEIGHTS)), strict=False)
        missing = [k for k in missing if not k.startswith("loss.")]
        if missing or unexpected:
            raise ValueError(f"{folder / WEIGHTS}: missing keys {missing[:5]}, unexpected {unexpected[:5]}")
        return cls(model, config, source=str(folder))

    @classmethod
    def _load_ckpt(cls, ckpt: Path, yaml_path: str | Path | None) -> "VQTokenizer":
        """A pretrained taming VQGAN: Lightning checkpoint + the yaml config it was trained with."""
        from omegaconf import OmegaConf  # heavy: omegaconf

        if yaml_path is None:
            candidates = [ckpt.with_suffix(".yaml"), ckpt.parent / "config.yaml", ckpt.parent / "model.yaml"]
            found = [c for c in candidates if c.is_file()]
            if not found:
                raise FileNotFoundError(f"{ckpt}: no yaml config beside it (tried {[c.name for c in candidates]})")
            yaml_path = found[0]
        cfg = OmegaConf.to_container(OmegaConf.load(yaml_path), resolve=True)
        model_cfg = cfg.get("model", cfg)
        target = model_cfg.get("target", "taming.models.vqgan.VQModel")
        if target.rsplit(".", 1)[-1] != "VQModel":
            raise ValueError(f"{yaml_path}: model target {target!r} is not supported (only taming's VQModel)")
        params = model_cfg["params"]
        dd = params["ddconfig"]
        config = VQConfig(resolution=int(dd["resolution"]), ch=int(dd["ch"]), ch_mult=tuple(dd["ch_mult"]),
                          num_res_blocks=int(dd["num_res_blocks"]),
                          attn_resolutions=tuple(dd.get("attn_resolutions", ())),
                          z_channels=int(dd["z_channels"]), n_embed=int(params["n_embed"]),
                          embed_dim=int(params["embed_dim"]), dropout=float(dd.get("dropout", 0.0)),
                          extra={"pretrained_ckpt": str(ckpt)})
        if dd.get("double_z", False) or int(dd.get("in_channels", 3)) != 3 or int(dd.get("out_ch", 3)) != 3:
            raise ValueError(f"{yaml_path}: expected double_z false and 3 input/output channels")
        try:
            blob = torch.load(ckpt, map_location="cpu", weights_only=True)
        except Exception as e:  # pickled non-tensor objects are refused on purpose
            raise ValueError(f"{ckpt}: cannot be read with torch.load(weights_only=True): {e}") from e
        state = blob.get("state_dict", blob) if isinstance(blob, dict) else None
        if not isinstance(state, dict):
            raise ValueError(f"{ckpt}: no state_dict inside")
        state = {k: v for k, v in state.items() if not k.startswith("loss.")}  # discriminator, LPIPS
        model = build_vqmodel(config)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("loss.")]
        if missing or unexpected:
            raise ValueError(f"{ckpt}: missing keys {missing[:5]}, unexpected {unexpected[:5]}")
        return cls(model, config, source=str(ckpt))

    # ---- the two verbs -------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, images: list, batch_size: int = 64) -> torch.Tensor:
        """PIL images -> LongTensor (B, grid*grid) of codebook indices, row-major over the grid."""
        out = []
        for i in range(0, len(images), batch_size):
            x = images_to_tensor(images[i:i + batch_size], self.resolution)  # (b, 3, R, R)
            _, _, (_, _, idx) = self.model.encode(x)                           # idx: (b*g*g, 1)
            out.append(idx.view(x.shape[0], -1).long())
        if not out:
            return torch.zeros((0, self.n_tokens), dtype=torch.long)
        return torch.cat(out)

    @torch.inference_mode()
    def decode(self, tokens: torch.Tensor | np.ndarray | list, batch_size: int = 64) -> list:
        """LongTensor (B, grid*grid) -> PIL images of size resolution x resolution."""
        tokens = torch.as_tensor(np.asarray(tokens) if isinstance(tokens, list) else tokens).long()
        if tokens.ndim == 1:
            tokens = tokens[None]
        if tokens.shape[1] != self.n_tokens:
            raise ValueError(f"expected {self.n_tokens} tokens per image, got {tokens.shape[1]}")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.n_codes):
            raise ValueError(f"token ids must lie in 0..{self.n_codes - 1}")
        images = []
        for i in range(0, tokens.shape[0], batch_size):
            t = tokens[i:i + batch_size]
            b = t.shape[0]
            # taming's decode_code is broken: look the codes up, then decode
            quant = self.model.quantize.get_codebook_entry(
                t.reshape(-1), shape=(b, self.grid, self.grid, self.config.embed_dim))  # (b, C, g, g)
            images.extend(tensor_to_images(self.model.decode(quant)))
        return images

    @torch.inference_mode()
    def reconstruct(self, images: list) -> list:
        """encode then decode."""
        return self.decode(self.encode(images))
