"""Configuration of the image tokenizer: a small taming-transformers VQModel (Esser et al. 2021)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

LR_SCHEDULES = ("constant", "cosine")


@dataclass
class VQConfig:
    """Architecture and training settings. The token grid is resolution / 2**(len(ch_mult)-1) a side."""

    resolution: int = 32                  # images are centre-cropped to a square and resized to this
    ch: int = 32                          # base channel count of encoder and decoder
    ch_mult: tuple[int, ...] = (1, 2, 2)  # one entry per level; 3 levels: 32 px -> 8x8 tokens
    num_res_blocks: int = 1               # residual blocks per level
    attn_resolutions: tuple[int, ...] = ()  # feature-map sizes that get self-attention (none: cheap)
    z_channels: int = 64                  # encoder output channels before the 1x1 quant_conv
    n_embed: int = 256                    # codebook size: image tokens are 0..n_embed-1
    embed_dim: int = 64                   # codebook vector size
    dropout: float = 0.0
    beta: float = 0.25                    # commitment weight (fixed at 0.25 inside taming's VectorQuantizer)
    # training (plain PyTorch loop; no LPIPS, no discriminator)
    lr: float = 1e-3
    lr_schedule: str = "constant"         # "constant" | "cosine" (to 0 over the run: fewer steps to the same loss)
    batch_size: int = 32
    l1_weight: float = 1.0                # reconstruction = l1_weight * L1 + l2_weight * MSE, on [-1, 1] pixels
    l2_weight: float = 1.0
    codebook_weight: float = 1.0          # weight of taming's codebook + commitment loss
    restart_dead_codes_every: int = 100   # steps; 0 disables re-seeding unused codes from encoder outputs
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes recorded with the checkpoint

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"VQ lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")

    @property
    def grid(self) -> int:
        """Tokens per side of the latent grid."""
        return self.resolution // 2 ** (len(self.ch_mult) - 1)

    @property
    def n_tokens(self) -> int:
        """Tokens per image (grid * grid)."""
        return self.grid * self.grid

    def ddconfig(self) -> dict[str, Any]:
        """The `ddconfig` of taming's Encoder/Decoder."""
        return {
            "double_z": False,
            "z_channels": self.z_channels,
            "resolution": self.resolution,
            "in_channels": 3,
            "out_ch": 3,
            "ch": self.ch,
            "ch_mult": list(self.ch_mult),
            "num_res_blocks": self.num_res_blocks,
            "attn_resolutions": list(self.attn_resolutions),
            "dropout": self.dropout,
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ch_mult"] = list(self.ch_mult)
        d["attn_resolutions"] = list(self.attn_resolutions)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VQConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown VQConfig keys: {sorted(unknown)}")
        d = dict(d)
        for k in ("ch_mult", "attn_resolutions"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)

    @classmethod
    def load(cls, path: str | Path) -> "VQConfig":
        return cls.from_dict(json.loads(Path(path).read_text())["vq"])
