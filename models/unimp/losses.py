"""Losses: token-level focal re-weighting (paper eq. 8) over the supervised tokens, which include the
history items' attribute tokens when context reconstruction (eq. 7) is on (see prompts.Encoded.weights)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None,
               gamma: float = 2.0, denominator: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted mean over tokens of -(1 - p_y)^gamma * log p_y. gamma = 0 is cross-entropy.

    logits: (N, V), labels: (N,), weights: (N,) non-negative (default 1). `denominator`: divide the
    weighted sum by this instead of the weights' sum (a part of a batch, see `loss_denominators`)."""
    logp = F.log_softmax(logits.float(), dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (N,)
    loss = -logp
    if gamma:
        loss = loss * (1.0 - logp.exp()).clamp(min=0).pow(gamma)
    if weights is None:
        return loss.mean()
    return (loss * weights).sum() / (weights.sum() if denominator is None else denominator).clamp(min=1e-8)


def token_weights(batch: dict, norm: str) -> torch.Tensor:
    """(B, T-1) weight of each next-token target of a collated batch: the prompt's token weights (each
    prompt's scaled to sum to 1 for norm "example") times its sample weight."""
    w = batch["weights"][:, 1:]
    if norm == "example":
        w = w / w.sum(dim=1, keepdim=True).clamp(min=1e-8)
    elif norm != "token":
        raise ValueError(f"loss norm must be 'token' or 'example', got {norm!r}")
    return w * batch["sample_weight"].unsqueeze(1)


def loss_denominators(batch: dict, token_w: torch.Tensor) -> dict[str, torch.Tensor]:
    """What `sequence_loss` divides its three weighted sums by: the whole batch's token weights, the sample
    weights of its transitions and of its prompts with a candidate group. A batch run as several parts
    (train.step_parts) passes the whole batch's to every part, so the parts' losses add up to its loss.
    `token_w`: the batch's `token_weights`."""
    sw = batch["sample_weight"]
    nxt, group = batch.get("next_item"), batch.get("cand_group")
    return {"token": token_w.sum(),
            "transition": (sw.unsqueeze(1).expand_as(nxt)[nxt >= 0].sum() if nxt is not None else sw.new_zeros(())),
            "candidate": (sw[group >= 0].sum() if group is not None else sw.new_zeros(()))}


def sequence_loss(model, batch: dict, gamma: float, norm: str = "token", transition_weight: float = 0.0,
                  candidate_masks: torch.Tensor | None = None, candidate_weight: float = 0.0,
                  denominators: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Focal loss of a collated batch (see train.collate): logits only at the supervised positions.

    norm "token": a weighted mean over all supervised tokens of the batch, so an example weighs by its
    number of supervised tokens (with context reconstruction a rating prompt's answer token is one of ~90).
    norm "example": each example's token weights are scaled to sum to 1 first, so every example
    weighs alike (times its task's sample weight) whatever its length.
    transition_weight > 0 adds that times the cross-entropy over the item-id rows at the positions
    with a `next_item` (every history item's [EOC]; mean over them, by sample weight).
    candidate_weight > 0 adds that times the cross-entropy at [ANS] over the item-id logits of the
    examples with a `cand_group`, restricted to that row of `candidate_masks` (the target always kept).
    `denominators`: see `loss_denominators` (default: this batch's own)."""
    w = token_weights(batch, norm)                                                     # (B, T-1)
    den = denominators if denominators is not None else loss_denominators(batch, w)
    media = model.encode_images(batch["images"])
    h, _ = model.hidden(batch["input_ids"], batch["attention_mask"], media)              # (B, T, D)
    sel = w > 0
    logits = model.head(h[:, :-1][sel])                                                # (N, V)
    labels = batch["input_ids"][:, 1:][sel]                                            # (N,)
    loss = focal_loss(logits, labels, w[sel], gamma, den["token"])
    nxt = batch.get("next_item")
    if transition_weight and nxt is not None and bool((nxt >= 0).any()):
        at = nxt >= 0                                                                   # (B, T)
        item_logp = F.log_softmax(model.item_logits(h[at]).float(), dim=-1)             # (K, n_items)
        nll = -item_logp.gather(-1, nxt[at].unsqueeze(-1)).squeeze(-1)                  # (K,)
        sw = batch["sample_weight"].unsqueeze(1).expand_as(nxt)[at]
        loss = loss + transition_weight * (nll * sw).sum() / den["transition"].clamp(min=1e-8)
    group = batch.get("cand_group")
    if candidate_weight and candidate_masks is not None and group is not None and bool((group >= 0).any()):
        loss = loss + candidate_weight * candidate_nll(model, h, batch, candidate_masks, den["candidate"])
    return loss


def candidate_nll(model, h: torch.Tensor, batch: dict, candidate_masks: torch.Tensor,
                  denominator: torch.Tensor | None = None) -> torch.Tensor:
    """Mean (by sample weight) of -log p(target | the example's candidates) at [ANS], over the examples
    with a candidate group (or their weighted sum divided by `denominator`); the target is the item token
    right after [ANS]."""
    rows = torch.nonzero(batch["cand_group"] >= 0).squeeze(-1)                         # (K,)
    pos = batch["answer_pos"][rows]
    target = batch["input_ids"][rows, pos + 1] - model.item_offset                     # (K,)
    allowed = candidate_masks[batch["cand_group"][rows]].clone()                       # (K, n_items)
    allowed[torch.arange(len(rows)), target] = True
    logits = model.item_logits(h[rows, pos]).float().masked_fill(~allowed, float("-inf"))
    nll = -F.log_softmax(logits, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    sw = batch["sample_weight"][rows]
    return (nll * sw).sum() / (sw.sum() if denominator is None else denominator).clamp(min=1e-8)
