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

import numpy as np
import torch

from benchmark.tasks import RANKING_METRICS

KS = (3, 5, 10)
PAD = -1
_BATCH = 256


def _flat_exclude(exclude: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) index arrays for every excluded item, without a Python loop over rows."""
    if len(exclude) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lengths = np.fromiter(map(len, exclude), dtype=np.int64, count=len(exclude))
    if lengths.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in exclude if len(h)])
    rows = np.repeat(np.arange(len(exclude), dtype=np.int64), lengths)
    return rows, cols


def _masked(scores, exclude, allowed) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 copy of `scores` with removed items at -inf, and the (B, N) mask of rankable items."""
    s = torch.as_tensor(np.asarray(scores) if not isinstance(scores, torch.Tensor) else scores)
    s = s.to(torch.float32, copy=True)
    if s.ndim != 2:
        raise ValueError(f"scores must be (B, N), got shape {tuple(s.shape)}")
    lowest = torch.finfo(torch.float32).min
    torch.nan_to_num_(s, nan=lowest, neginf=lowest, posinf=torch.finfo(torch.float32).max)
    B, N = s.shape
    if len(exclude) != B:
        raise ValueError(f"exclude has {len(exclude)} rows, scores has {B}")
    if allowed is None:
        valid = torch.ones((B, N), dtype=torch.bool)
    else:
        allowed = torch.as_tensor(np.asarray(allowed, dtype=bool))
        if allowed.shape != (N,):
            raise ValueError(f"allowed must have shape ({N},), got {tuple(allowed.shape)}")
        valid = allowed.expand(B, N).clone()
    rows, cols = _flat_exclude(exclude)
    keep = (cols >= 0) & (cols < N)  # history tokens outside the score matrix cannot be ranked anyway
    valid[torch.from_numpy(rows[keep]), torch.from_numpy(cols[keep])] = False
    s.masked_fill_(~valid, float("-inf"))
    return s, valid


def _topk_block(s: torch.Tensor, valid: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k of one masked block, ties broken by the lower item token."""
    k_eff = min(k, s.shape[1])
    vals, idx = torch.topk(s, k_eff, dim=1, sorted=True)
    # A tie straddles the cut when more than k items score >= the k-th value: those rows (rare with
    # real-valued scores) are redone with a stable full sort, which keeps the lower token first.
    straddle = (s >= vals[:, -1:]).sum(dim=1) > k_eff
    if straddle.any():
        rows = straddle.nonzero().squeeze(1)
        _, order = torch.sort(s[rows], dim=1, descending=True, stable=True)
        idx[rows] = order[:, :k_eff]
    # Ties inside the top k: order by (score desc, token asc) with two stable sorts.
    idx, _ = torch.sort(idx, dim=1)
    _, by_score = torch.sort(s.gather(1, idx), dim=1, descending=True, stable=True)
    idx = idx.gather(1, by_score)
    idx[~valid.gather(1, idx)] = PAD
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
    allowed: (N,) bool catalogue mask (None = all). Returns int64 (B, k), padded with -1.
    """
    B = len(scores)
    out = np.empty((B, k), dtype=np.int64)
    for b0 in range(0, B, batch_size):
        b1 = min(b0 + batch_size, B)
        s, valid = _masked(scores[b0:b1], exclude[b0:b1], allowed)
        out[b0:b1] = _topk_block(s, valid, k).numpy()
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
    targets = np.asarray(targets, dtype=np.int64)
    B = len(scores)
    out = np.empty(B, dtype=np.int64)
    for b0 in range(0, B, batch_size):
        b1 = min(b0 + batch_size, B)
        s, valid = _masked(scores[b0:b1], exclude[b0:b1], allowed)
        t = torch.from_numpy(targets[b0:b1]).unsqueeze(1)                  # (b, 1)
        t_score = s.gather(1, t)                                            # (b, 1)
        ge = ((s >= t_score) & valid).sum(dim=1)                            # includes the target
        ok = valid.gather(1, t).squeeze(1)
        out[b0:b1] = torch.where(ok, ge, torch.full_like(ge, s.shape[1] + 1)).numpy()
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
