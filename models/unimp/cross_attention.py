"""The exclusive image mask (paper eq. 3) and the tanh-gated masked cross-attention block.

Images of a prompt are numbered 0, 1, ... in the order of their [IMG] tokens. With the exclusive mask a
text token attends only to the image of its own item: the tokens from an item's [IMG] up to and
including its [EOC]. Tokens outside every item (the [CLS], the instruction, the answer) attend to
nothing, and the block leaves them unchanged. Without it (the ablation) every token attends to all
images whose [IMG] is at or before it. Slots of items without an image are masked out (`present`).
"""
from __future__ import annotations

import torch
from torch import nn

from .perceiver import feed_forward


def media_index(input_ids: torch.Tensor, img_id: int, eoc_id: int) -> torch.Tensor:
    """(B, T) long: the index of the image of the item each token belongs to, -1 outside any item.

    A pure function of the ids: token t is inside an item when the last [IMG] at or before t comes
    after the last [EOC] strictly before t; its image is then the (number of [IMG] so far - 1)-th.
    """
    B, T = input_ids.shape
    pos = torch.arange(T, device=input_ids.device).expand(B, T)
    none = torch.full_like(pos, -1)
    last_img = torch.where(input_ids == img_id, pos, none).cummax(dim=1).values        # (B, T)
    last_eoc = torch.where(input_ids == eoc_id, pos, none).cummax(dim=1).values        # (B, T)
    eoc_before = torch.cat([none[:, :1], last_eoc[:, :-1]], dim=1)                      # strictly before t
    inside = (last_img >= 0) & (last_img > eoc_before)
    count = (input_ids == img_id).long().cumsum(dim=1)                                  # [IMG]s up to t
    return torch.where(inside, count - 1, none)


def image_mask(input_ids: torch.Tensor, img_id: int, eoc_id: int, present: torch.Tensor,
               exclusive: bool = True) -> torch.Tensor:
    """(B, T, M) bool: may token t attend to image m. `present`: (B, M) bool, False for a slot whose
    item has no image (or padding)."""
    M = present.shape[1]
    m = torch.arange(M, device=input_ids.device)                                       # (M,)
    if exclusive:
        allowed = media_index(input_ids, img_id, eoc_id).unsqueeze(-1) == m            # (B, T, M)
    else:
        count = (input_ids == img_id).long().cumsum(dim=1)                              # (B, T)
        allowed = m < count.unsqueeze(-1)                                               # (B, T, M)
    return allowed & present.unsqueeze(1)


class MaskedCrossAttention(nn.Module):
    """Text queries attend to the visual tokens of the images their mask allows."""

    def __init__(self, dim: int, dim_visual: int, heads: int, dim_head: int):
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        inner = heads * dim_head
        self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim_visual, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor, media: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # x: (B, T, D) text, media: (B, M, L, Dv) visual tokens, mask: (B, T, M) bool
        B, T, _ = x.shape
        M, L = media.shape[1], media.shape[2]
        H = self.heads
        q = self.to_q(self.norm(x)).reshape(B, T, H, -1).transpose(1, 2)          # (B, H, T, d)
        k, v = self.to_kv(media.reshape(B, M * L, -1)).chunk(2, dim=-1)           # (B, M*L, H*d)
        k = k.reshape(B, M * L, H, -1).transpose(1, 2)                             # (B, H, M*L, d)
        v = v.reshape(B, M * L, H, -1).transpose(1, 2)
        keep = mask.repeat_interleave(L, dim=-1).unsqueeze(1)                      # (B, 1, T, M*L)
        scores = (q * self.scale) @ k.transpose(-1, -2)                            # (B, H, T, M*L)
        scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
        out = scores.softmax(dim=-1) @ v                                           # (B, H, T, d)
        out = self.to_out(out.transpose(1, 2).reshape(B, T, -1))                   # (B, T, D)
        return out * mask.any(dim=-1, keepdim=True).to(out.dtype)                  # zero: no image


class GatedCrossAttentionBlock(nn.Module):
    """x + tanh(a) * xattn(x) then + tanh(f) * ff(.), gates a = f = 0 at init (identity).
    Tokens allowed no image are left unchanged."""

    def __init__(self, dim: int, dim_visual: int, heads: int, dim_head: int, ff_mult: int = 2):
        super().__init__()
        self.attn = MaskedCrossAttention(dim, dim_visual, heads, dim_head)
        self.attn_gate = nn.Parameter(torch.zeros(()))
        self.ff = feed_forward(dim, ff_mult)
        self.ff_gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, media: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # x: (B, T, D), media: (B, M, L, Dv), mask: (B, T, M)
        has = mask.any(dim=-1, keepdim=True).to(x.dtype)                           # (B, T, 1)
        x = x + self.attn_gate.tanh() * self.attn(x, media, mask)
        x = x + self.ff_gate.tanh() * self.ff(x) * has
        return x
