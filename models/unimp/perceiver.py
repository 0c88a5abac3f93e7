"""Perceiver resampler (Alayrac et al. 2022): any number of patch features -> a fixed number of
visual tokens per image, by cross-attention from learned latents to [patches; latents]."""
from __future__ import annotations

import torch
from torch import nn


def feed_forward(dim: int, mult: int = 2) -> nn.Sequential:
    """Pre-norm MLP used by the resampler and the gated cross-attention block."""
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim * mult, bias=False), nn.GELU(),
                         nn.Linear(dim * mult, dim, bias=False))


class PerceiverAttention(nn.Module):
    """Latents attend to the concatenation of the image patches and the latents themselves."""

    def __init__(self, dim: int, dim_head: int, heads: int):
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        inner = dim_head * heads
        self.norm_media = nn.LayerNorm(dim)
        self.norm_latents = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        # x: (N, P, D) patches, latents: (N, L, D)
        x, latents = self.norm_media(x), self.norm_latents(latents)
        q = self.to_q(latents)                                   # (N, L, H*d)
        k, v = self.to_kv(torch.cat([x, latents], dim=1)).chunk(2, dim=-1)  # (N, P+L, H*d)
        N, H = q.shape[0], self.heads
        q, k, v = (t.reshape(N, t.shape[1], H, -1).transpose(1, 2) for t in (q, k, v))  # (N, H, *, d)
        attn = (q * self.scale) @ k.transpose(-1, -2)           # (N, H, L, P+L)
        out = attn.softmax(dim=-1) @ v                           # (N, H, L, d)
        return self.to_out(out.transpose(1, 2).reshape(N, -1, H * q.shape[-1]))  # (N, L, D)


class PerceiverResampler(nn.Module):
    """(N, P, D) patch features -> (N, n_latents, D) visual tokens."""

    def __init__(self, dim: int, n_latents: int, depth: int = 1, heads: int = 4, dim_head: int = 32,
                 ff_mult: int = 2, max_patches: int = 1024):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(n_latents, dim) * 0.02)
        self.pos = nn.Parameter(torch.zeros(max_patches, dim))  # learned patch-position embedding
        self.layers = nn.ModuleList(
            nn.ModuleList([PerceiverAttention(dim, dim_head, heads), feed_forward(dim, ff_mult)])
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, P, D)
        x = x + self.pos[: x.shape[1]]
        latents = self.latents.expand(x.shape[0], -1, -1)       # (N, L, D)
        for attn, ff in self.layers:
            latents = latents + attn(x, latents)
            latents = latents + ff(latents)
        return self.norm(latents)                                # (N, L, D)
