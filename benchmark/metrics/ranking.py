"""Full-ranking top-k and HR / NDCG / MRR @k (recommendation and search, protocol section 2).

Conventions, declared once:
- Items outside the split's catalogue (`allowed` False) and the user's history items (`exclude`) are
  never ranked. NaN and -inf model scores count as the lowest possible real score, so they still rank
  above removed items.
- `topk_after_masking` breaks ties by the lower item token (fully deterministic); a row with fewer than
  k rankable items is padded with -1.
- `target_ranks` breaks ties pessimistically: rank = 1 + #{other rankable items with score >= the
  target's}. A target that is itself excluded or outside the catalogue gets rank N + 1 (a miss).
- One relevant item per instance, so NDCG@k = 1 / log2(rank + 1) and MRR@k = 1 / rank when rank <= k,
  else 0 (RecBole's definitions with a single positive).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from benchmark.metrics.registry import KS, RANKING_METRICS

if TYPE_CHECKING:
    import torch

PAD = -1
_BATCH = 256


def _flat_exclude(exclude: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) index arrays for every excluded item, without a Python loop over rows."""
    if len(exclude) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lengths = np.fromiter(map(len, exclude), dtype=np.int64, count=len(exclude))
    if lengths.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cols = np.concatenate(list(exclude)).astype(np.int64, copy=False)
    rows = np.repeat(np.arange(len(exclude), dtype=np.int64), lengths)
    return rows, cols


def _masked(scores, exclude, allowed) -> torch.Tensor:
    """Float32 copy of `scores` with NaN/-inf lifted to the lowest finite float and removed items at
    -inf, so that after masking "rankable" is exactly "score > -inf"."""
    import torch  # heavy: torch
    s = scores if isinstance(scores, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(scores))
    if s.ndim != 2:
        raise ValueError(f"scores must be (B, N), got shape {tuple(s.shape)}")
    f32 = torch.finfo(torch.float32)
    s = torch.nan_to_num(s.to(torch.float32), nan=f32.min, neginf=f32.min, posinf=f32.max)  # a copy
    B, N = s.shape
    if len(exclude) != B:
        raise ValueError(f"exclude has {len(exclude)} rows, scores has {B}")
    if allowed is not None:
        allowed = torch.from_numpy(np.asarray(allowed, dtype=bool))
        if allowed.shape not in ((N,), (B, N)):
            raise ValueError(f"allowed must have shape ({N},) or ({B}, {N}), got {tuple(allowed.shape)}")
        s.masked_fill_(~allowed, float("-inf"))  # a (N,) mask broadcasts over rows
    rows, cols = _flat_exclude(exclude)
    keep = (cols >= 0) & (cols < N)  # history tokens outside the score matrix cannot be ranked anyway
    s[torch.from_numpy(rows[keep]), torch.from_numpy(cols[keep])] = float("-inf")
    return s


def _rows(allowed, b0: int, b1: int):
    """The rows b0:b1 of a per-row (B, N) mask; a shared (N,) mask as is."""
    return allowed[b0:b1] if allowed is not None and np.ndim(allowed) == 2 else allowed


def _topk_block(s: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k of one masked block, ties broken by the lower item token, -1 for removed items."""
    import torch  # heavy: torch
    n = s.shape[1]
    k_eff = min(k, n)
    vals, idx = torch.topk(s, min(k_eff + 1, n), dim=1, sorted=True)
    # A tie straddles the cut iff the (k+1)-th best equals the k-th: those rows (rare with real-valued
    # scores, or rows with fewer than k rankable items) are redone with a stable full sort, which puts
    # the lower token first.
    idx = idx[:, :k_eff]
    if k_eff < n:
        straddle = vals[:, k_eff] == vals[:, k_eff - 1]
        if straddle.any():
            rows = straddle.nonzero().squeeze(1)
            _, order = torch.sort(s[rows], dim=1, descending=True, stable=True)
            idx[rows] = order[:, :k_eff]
    # Ties inside the top k: order by (score desc, token asc) with two stable sorts.
    idx, _ = torch.sort(idx, dim=1)
    top = s.gather(1, idx)
    by_score = torch.sort(top, dim=1, descending=True, stable=True).indices
    idx = idx.gather(1, by_score)
    idx[top.gather(1, by_score) == float("-inf")] = PAD
    if k_eff < k:
        idx = torch.cat([idx, idx.new_full((idx.shape[0], k - k_eff), PAD)], dim=1)
    return idx


def topk_after_masking(
    scores: np.ndarray | torch.Tensor,
    k: int,
    exclude: Sequence[Sequence[int]],
    allowed: np.ndarray | None = None,
    batch_size: int = _BATCH,
) -> np.ndarray:
    """Top-k item tokens per row, best first, after removing `exclude[b]` and items not `allowed`.

    scores: (B, N) float, one score per item token; exclude: B lists of item tokens (history);
    allowed: (N,) bool mask shared by every row, or (B, N) one per row (None = all). Returns int64 (B, k),
    padded with -1.
    """
    B = len(scores)
    out = np.empty((B, k), dtype=np.int64)
    for b0 in range(0, B, batch_size):
        b1 = min(b0 + batch_size, B)
        out[b0:b1] = _topk_block(_masked(scores[b0:b1], exclude[b0:b1], _rows(allowed, b0, b1)), k).numpy()
    return out


def target_ranks(
    scores: np.ndarray | torch.Tensor,
    targets: Sequence[int] | np.ndarray,
    exclude: Sequence[Sequence[int]],
    allowed: np.ndarray | None = None,
    batch_size: int = _BATCH,
) -> np.ndarray:
    """1-based rank of each row's target among the rankable items, ties broken pessimistically.

    rank = 1 + #{rankable items j != target with score_j >= score_target}; a target that is excluded or
    outside the catalogue gets N + 1. Returns int64 (B,).
    """
    import torch  # heavy: torch
    targets = np.asarray(targets, dtype=np.int64)
    B = len(scores)
    out = np.empty(B, dtype=np.int64)
    for b0 in range(0, B, batch_size):
        b1 = min(b0 + batch_size, B)
        s = _masked(scores[b0:b1], exclude[b0:b1], _rows(allowed, b0, b1))
        t_score = s.gather(1, torch.from_numpy(targets[b0:b1]).unsqueeze(1))   # (b, 1)
        # removed items (-inf) never count; the count includes the target itself. (numpy's boolean row
        # sum is several times faster than torch's on CPU.)
        ge = (s.numpy() >= t_score.numpy()).sum(axis=1)
        ok = t_score.squeeze(1).numpy() > -np.inf
        out[b0:b1] = np.where(ok, ge, s.shape[1] + 1)
    return out


def ranking_metrics_from_ranks(ranks: np.ndarray, ks: Sequence[int] = KS) -> dict[str, np.ndarray]:
    """Per-instance hr@k, ndcg@k, mrr@k from 1-based ranks (0 or > k = miss). Keys as RANKING_METRICS."""
    r = np.asarray(ranks, dtype=np.float64)
    found = r >= 1
    safe = np.where(found, r, 1.0)
    out = {}
    for k in ks:
        hit = found & (r <= k)
        out[f"hr@{k}"] = hit.astype(np.float64)
        out[f"ndcg@{k}"] = np.where(hit, 1.0 / np.log2(safe + 1.0), 0.0)
        out[f"mrr@{k}"] = np.where(hit, 1.0 / safe, 0.0)
    return {m: out[m] for m in RANKING_METRICS if m in out}


def ranking_metrics_from_topk(
    ranked: np.ndarray, targets: Sequence[int] | np.ndarray, ks: Sequence[int] = KS
) -> dict[str, np.ndarray]:
    """Per-instance metrics from (B, K) ranked lists (best first, -1 padding) and (B,) targets.

    The first occurrence of the target gives its rank; a target absent from the list is a miss.
    """
    ranked = np.asarray(ranked, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    if ranked.ndim != 2 or ranked.shape[0] != targets.shape[0]:
        raise ValueError(f"ranked {ranked.shape} and targets {targets.shape} do not match")
    eq = ranked == targets[:, None]
    ranks = np.where(eq.any(axis=1), eq.argmax(axis=1) + 1, 0)
    return ranking_metrics_from_ranks(ranks, ks)
