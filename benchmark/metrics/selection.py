"""Selection task: per-instance precision / recall / F1 of the chosen set, and threshold choice.

Conventions: sets are compared as sets (duplicates in a selection count once); an empty selection has
precision 0 (declared convention: abstaining earns nothing), hence F1 0; recall is |S & T| / |T| with
|T| >= 1 by construction of the task. F1 is 0 when precision + recall is 0.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_MAX_CUTS = 2048  # exact search up to this many distinct scores, quantile cuts beyond


def _prf(tp: np.ndarray, n_sel: np.ndarray, n_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 from counts (any broadcastable shapes), with the zero conventions above."""
    precision = np.divide(tp, n_sel, out=np.zeros(np.broadcast(tp, n_sel).shape), where=n_sel > 0)
    recall = np.divide(tp, n_pos, out=np.zeros(np.broadcast(tp, n_pos).shape), where=n_pos > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return precision, recall, f1


def selection_metrics(
    selected: Sequence[Sequence[int]], positives: Sequence[Sequence[int]]
) -> dict[str, np.ndarray]:
    """Per-instance "precision", "recall", "f1" arrays of shape (B,)."""
    if len(selected) != len(positives):
        raise ValueError(f"{len(selected)} selections for {len(positives)} instances")
    sel = [set(map(int, s)) for s in selected]
    pos = [set(map(int, p)) for p in positives]
    tp = np.fromiter((len(s & p) for s, p in zip(sel, pos)), dtype=np.float64, count=len(sel))
    n_sel = np.fromiter(map(len, sel), dtype=np.float64, count=len(sel))
    n_pos = np.fromiter(map(len, pos), dtype=np.float64, count=len(pos))
    precision, recall, f1 = _prf(tp, n_sel, n_pos)
    return {"precision": precision, "recall": recall, "f1": f1}


def _padded(scores_list, positives_list, candidates_list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, C) scores (-inf padding), (B, C) positive mask, (B,) number of positives."""
    B = len(scores_list)
    C = max((len(s) for s in scores_list), default=0)
    S = np.full((B, C), -np.inf)
    P = np.zeros((B, C), dtype=bool)
    for b, (s, pos, cand) in enumerate(zip(scores_list, positives_list, candidates_list)):
        if len(s) != len(cand):
            raise ValueError(f"row {b}: {len(s)} scores for {len(cand)} candidates")
        S[b, : len(s)] = s
        P[b, : len(cand)] = np.isin(np.asarray(cand), np.asarray(list(pos), dtype=np.int64))
    n_pos = np.fromiter((len(set(p)) for p in positives_list), dtype=np.float64, count=B)
    return S, P, n_pos


def choose_threshold(
    scores_list: Sequence[Sequence[float]],
    positives_list: Sequence[Sequence[int]],
    candidates_list: Sequence[Sequence[int]],
) -> float:
    """Threshold t maximising mean F1 when selecting the candidates with score > t (validation data).

    Cuts are -inf (select all) and the midpoints between consecutive distinct scores (at most
    `_MAX_CUTS`, evenly spaced quantiles of them beyond that). Ties in mean F1 go to the lowest cut.
    """
    S, P, n_pos = _padded(scores_list, positives_list, candidates_list)
    finite = np.unique(S[np.isfinite(S)])
    mids = (finite[:-1] + finite[1:]) / 2
    if len(mids) > _MAX_CUTS:
        mids = np.unique(np.quantile(mids, np.linspace(0, 1, _MAX_CUTS)))
    cuts = np.concatenate([[-np.inf], mids])
    best_f1, best_cut = -1.0, -np.inf
    for c0 in range(0, len(cuts), 256):  # blocks bound memory at 256 x B x C
        c = cuts[c0:c0 + 256, None, None]
        sel = S[None] > c                                                   # (T, B, C)
        tp = (sel & P[None]).sum(axis=2)
        _, _, f1 = _prf(tp, sel.sum(axis=2), n_pos[None])
        mean_f1 = f1.mean(axis=1)
        i = int(np.argmax(mean_f1))
        if mean_f1[i] > best_f1:
            best_f1, best_cut = float(mean_f1[i]), float(cuts[c0 + i])
    return best_cut


def apply_threshold(
    scores_list: Sequence[Sequence[float]], candidates_list: Sequence[Sequence[int]], threshold: float
) -> list[list[int]]:
    """The candidates whose score is > threshold, in candidate order."""
    return [
        [int(c) for c, s in zip(cand, scores) if s > threshold]
        for scores, cand in zip(scores_list, candidates_list)
    ]
