"""Losses: token-level focal re-weighting (paper eq. 8) over the supervised tokens, which include the
history items' attribute tokens when context reconstruction (eq. 7) is on (see prompts.Encoded.weights)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None,
               gamma: float = 2.0) -> torch.Tensor:
    """Weighted mean over tokens of -(1 - p_y)^gamma * log p_y. gamma = 0 is cross-entropy.

    logits: (N, V), labels: (N,), weights: (N,) non-negative (default 1)."""
    logp = F.log_softmax(logits.float(), dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (N,)
    loss = -logp
    if gamma:
        loss = loss * (1.0 - logp.exp()).clamp(min=0).pow(gamma)
    if weights is None:
        return loss.mean()
    return (loss * weights).sum() / weights.sum().clamp(min=1e-8)


def sequence_loss(model, batch: dict, gamma: float, norm: str = "token", transition_weight: float = 0.0,
                  candidate_masks: torch.Tensor | None = None, candidate_weight: float = 0.0) -> torch.Tensor:
    """Focal loss of a collated batch (see train.collate): logits only at the supervised positions.

    norm "token": a weighted mean over all supervised tokens of the batch, so an example weighs by its
    number of supervised tokens (with context reconstruction a rating prompt's answer token is one of ~90).
    norm "example": each example's token weights are scaled to sum to 1 first, so every example
    weighs alike (times its task's sample weight) whatever its length.
    transition_weight > 0 adds that times the cross-entropy over the item-id rows at the positions
    with a `next_item` (every history item's [EOC]; mean over them, by sample weight).
    candidate_weight > 0 adds that times the cross-entropy at [ANS] over the item-id logits of the
    examples with a `cand_group`, restricted to that row of `candidate_masks` (the target always kept)."""
    media = model.encode_images(batch["images"])
    h, _ = model.hidden(batch["input_ids"], batch["attention_mask"], media)              # (B, T, D)
    w = batch["weights"][:, 1:]                                                        # (B, T-1)
    if norm == "example":
        w = w / w.sum(dim=1, keepdim=True).clamp(min=1e-8)
    elif norm != "token":
        raise ValueError(f"loss norm must be 'token' or 'example', got {norm!r}")
    w = w * batch["sample_weight"].unsqueeze(1)
    sel = w > 0
    logits = model.head(h[:, :-1][sel])                                                # (N, V)
    labels = batch["input_ids"][:, 1:][sel]                                            # (N,)
    loss = focal_loss(logits, labels, w[sel], gamma)
    nxt = batch.get("next_item")
    if transition_weight and nxt is not None and bool((nxt >= 0).any()):
        at = nxt >= 0                                                                   # (B, T)
        item_logp = F.log_softmax(model.item_logits(h[at]).float(), dim=-1)             # (K, n_items)
        nll = -item_logp.gather(-1, nxt[at].unsqueeze(-1)).squeeze(-1)                  # (K,)
        sw = batch["sample_weight"].unsqueeze(1).expand_as(nxt)[at]
        loss = loss + transition_weight * (nll * sw).sum() / sw.sum().clamp(min=1e-8)
    group = batch.get("cand_group")
    if candidate_weight and candidate_masks is not None and group is not None and bool((group >= 0).any()):
        loss = loss + candidate_weight * candidate_nll(model, h, batch, candidate_masks)
    return loss


def candidate_nll(model, h: torch.Tensor, batch: dict, candidate_masks: torch.Tensor) -> torch.Tensor:
    """Mean (by sample weight) of -log p(target | the example's candidates) at [ANS], over the examples
    with a candidate group; the target is the item token right after [ANS]."""
    rows = torch.nonzero(batch["cand_group"] >= 0).squeeze(-1)                         # (K,)
    pos = batch["answer_pos"][rows]
    target = batch["input_ids"][rows, pos + 1] - model.item_offset                     # (K,)
    allowed = candidate_masks[batch["cand_group"][rows]].clone()                       # (K, n_items)
    allowed[torch.arange(len(rows)), target] = True
    logits = model.item_logits(h[rows, pos]).float().masked_fill(~allowed, float("-inf"))
    nll = -F.log_softmax(logits, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    sw = batch["sample_weight"][rows]
    return (nll * sw).sum() / sw.sum().clamp(min=1e-8)
