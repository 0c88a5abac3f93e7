"""Decoding. Recommendation and search rank the whole catalogue from one forward pass (the logits at
the answer position restricted to the item tokens); selection scores its candidates the same way over
the selection tokens; selection, rating and explanation decode greedily with a KV cache under
constraints (only selection tokens / rating tokens / text tokens where the format requires them);
image generation decodes a fixed number of image tokens (greedy or sampled) the same way."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .prompts import Encoded, PromptBuilder
from .train import collate


def rows_of(requests: pd.DataFrame) -> list[dict]:
    """The requests as one dict per row (column -> value): what PromptBuilder.build reads, without the pandas
    Series per row that `iterrows` makes."""
    return requests.to_dict("records")


def _batches(encs: Sequence[Encoded], batch_size: int, desc: str):
    """(positions in `encs`, prompts) of batches of prompts of similar length. A batch is padded to its
    longest prompt, so batching the prompts in length order computes fewer padding tokens; no scored or
    greedily decoded prompt's result depends on the other prompts of its batch (sampled image tokens draw from
    one generator in batch order). Callers put results back with `_in_order`."""
    order = np.argsort([len(e.input_ids) for e in encs], kind="stable")
    for s in tqdm(range(0, len(encs), batch_size), desc=desc, leave=False, mininterval=5,
                  disable=len(encs) <= batch_size):
        idx = order[s:s + batch_size]
        yield idx, [encs[i] for i in idx]


def _in_order(parts: list[tuple[np.ndarray, torch.Tensor]]) -> torch.Tensor:
    """The rows of `_batches`' per-batch results, back in the prompts' order."""
    idx = np.concatenate([i for i, _ in parts])
    return torch.cat([t for _, t in parts])[torch.from_numpy(np.argsort(idx, kind="stable"))]


@torch.no_grad()
def answer_hidden(model, batch: dict) -> torch.Tensor:
    """Final hidden state at the [ANS] position of each right-padded prompt: (B, D)."""
    media = model.encode_images(batch["images"])
    h, _ = model.hidden(batch["input_ids"], batch["attention_mask"], media)              # (B, T, D)
    return h[torch.arange(h.shape[0]), batch["answer_pos"]]                             # (B, D)


@torch.no_grad()
def rank_items(model, builder: PromptBuilder, requests: pd.DataFrame, task: str, batch_size: int = 32,
               encs: Sequence[Encoded] | None = None) -> np.ndarray:
    """(B, n_items) float32 log-probabilities of each item token as the answer."""
    model.eval()
    encs = encs if encs is not None else [builder.build(task, r, with_target=False) for r in rows_of(requests)]
    out = []
    for idx, chunk in _batches(encs, batch_size, f"unimp rank {task}"):
        batch = collate(chunk, builder.vocab["[PAD]"])
        out.append((idx, torch.log_softmax(model.item_logits(answer_hidden(model, batch)).float(), -1)))
    return _in_order(out).numpy().astype(np.float32) if out else np.zeros((0, model.n_items), np.float32)


@torch.no_grad()
def selection_scores(model, builder: PromptBuilder, requests: pd.DataFrame, batch_size: int = 32) -> np.ndarray:
    """(B, n_candidates): log-probability of each candidate's selection token as the first answer."""
    model.eval()
    rows = rows_of(requests)
    encs = [builder.build("selection", r, with_target=False) for r in rows]
    n_c = max(len(list(r["candidates"])) for r in rows) if rows else 0
    sel = torch.tensor(builder.vocab.select_ids[:n_c])
    out = []
    for idx, chunk in _batches(encs, batch_size, "unimp selection"):
        batch = collate(chunk, builder.vocab["[PAD]"])
        logits = model.head(answer_hidden(model, batch))[:, sel].float()               # (B, n_c)
        out.append((idx, torch.log_softmax(logits, -1)))
    return _in_order(out).numpy().astype(np.float32) if out else np.zeros((0, n_c), np.float32)


@torch.no_grad()
def greedy(model, builder: PromptBuilder, encs: Sequence[Encoded],
           allowed: Callable[[int, list[int]], list[int]], max_new: int, batch_size: int = 32,
           desc: str = "unimp generate", temperature: float = 0.0, top_k: int = 0,
           generator: torch.Generator | None = None, static_cache: bool = True) -> list[list[int]]:
    """Decoding with a KV cache (preallocated to the batch's final length unless `static_cache` is False);
    `allowed(step, generated)` gives the token ids allowed next (a list, converted to a mask and cached per
    distinct list object). Stops a sequence at [EOS] (not included in the output). temperature 0: greedy; else
    sampling from softmax(logits / temperature) over the allowed tokens, restricted to the `top_k` most likely
    when top_k > 0, drawn with `generator`."""
    from transformers import StaticCache  # heavy: transformers

    model.eval()
    v = builder.vocab
    eos, pad = v["[EOS]"], v["[PAD]"]
    results: list[list[int]] = [[] for _ in encs]
    masks: dict[int, tuple[list[int], torch.Tensor]] = {}

    def mask_of(ids: list[int]) -> torch.Tensor:
        hit = masks.get(id(ids))
        if hit is None or hit[0] is not ids:
            m = torch.zeros(model.lm.get_output_embeddings().weight.shape[0], dtype=torch.bool)
            m[torch.tensor(ids, dtype=torch.long)] = True
            hit = masks[id(ids)] = (ids, m)
        return hit[1]

    for idx, chunk in _batches(encs, batch_size, desc):
        batch = collate(chunk, pad, left=True)
        ids, attn = batch["input_ids"], batch["attention_mask"]
        media = model.encode_images(batch["images"])
        # keys and values written in place into tensors of the final length; a dynamic cache copies the whole
        # cache at every step (bench/bench_unimp_decoding.py --image times both)
        past = StaticCache(config=model.lm.config, max_cache_len=ids.shape[1] + max_new) if static_cache else None
        h, past = model.hidden(ids, attn, media, past_key_values=past, use_cache=True)
        B = ids.shape[0]
        gen: list[list[int]] = [[] for _ in range(B)]
        done = [False] * B
        for step in range(max_new):
            logits = model.head(h[:, -1]).float()                                          # (B, V)
            nxt = torch.full((B,), pad, dtype=torch.long)
            for b in range(B):
                if done[b]:
                    continue
                row = logits[b].masked_fill(~mask_of(allowed(step, gen[b])), float("-inf"))
                tok = int(row.argmax()) if temperature <= 0 else _sample(row, temperature, top_k, generator)
                nxt[b] = tok
                if tok == eos:
                    done[b] = True
                else:
                    gen[b].append(tok)
            if all(done) or step + 1 == max_new:
                break
            ids = torch.cat([ids, nxt.unsqueeze(1)], 1)
            attn = torch.cat([attn, torch.ones(B, 1, dtype=attn.dtype)], 1)
            h, past = model.hidden(nxt.unsqueeze(1), attn, media, past_key_values=past, use_cache=True,
                                   full_ids=ids)
        for i, g in zip(idx, gen):
            results[i] = g
    return results


def _sample(logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None) -> int:
    """One token from softmax(logits / temperature), optionally among the top_k logits only."""
    logits = logits / temperature
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return int(torch.multinomial(logits.softmax(-1), 1, generator=generator))


def generate_selection(model, builder: PromptBuilder, requests: pd.DataFrame, batch_size: int = 32) -> list[list[int]]:
    """Chosen candidates: distinct selection tokens of the candidates, at least one, then [EOS]
    (rows batched by their number of candidates)."""
    rows = rows_of(requests)
    eos = builder.vocab["[EOS]"]
    out: list[list[int]] = [[] for _ in rows]
    by_n: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        by_n.setdefault(len(list(r["candidates"])), []).append(i)
    for n, idx in by_n.items():
        sel = builder.vocab.select_ids[:n]
        cache: dict[tuple, list[int]] = {}

        def allowed(step: int, gen: list[int]) -> list[int]:
            key = (step == 0, tuple(sorted(gen)))
            if key not in cache:  # the same list object for the same state: its mask is cached
                rest = [s for s in sel if s not in gen]
                cache[key] = rest if step == 0 else rest + [eos]
            return cache[key]

        encs = [builder.build("selection", rows[i], with_target=False) for i in idx]
        gens = greedy(model, builder, encs, allowed, max_new=n + 1, batch_size=batch_size, desc="unimp selection")
        for i, gen in zip(idx, gens):
            cands = [int(c) for c in rows[i]["candidates"]]
            out[i] = [cands[sel.index(t)] for t in gen]
    return out


RATING_READOUTS = ("token", "expectation", "median")


def rating_probabilities(model, builder: PromptBuilder, requests: pd.DataFrame, batch_size: int = 32) -> np.ndarray:
    """(B, 5) probabilities of <rate_1>..<rate_5> as the answer (renormalised over the five tokens)."""
    model.eval()
    encs = [builder.build("rating", r, with_target=False) for r in rows_of(requests)]
    ids = torch.tensor(builder.vocab.rating_ids)
    out = []
    with torch.no_grad():
        for idx, chunk in _batches(encs, batch_size, "unimp rating"):
            logits = model.head(answer_hidden(model, collate(chunk, builder.vocab["[PAD]"])))[:, ids].float()
            out.append((idx, logits.softmax(-1)))
    return _in_order(out).numpy().astype(np.float64) if out else np.zeros((0, 5))


def read_rating(probs: np.ndarray, readout: str) -> np.ndarray:
    """A rating per row of (B, 5) probabilities: "token" the most likely rating token (what constrained
    greedy decoding emits), "expectation" the mean, "median" the distribution's median (the value that
    minimises the expected absolute error)."""
    if readout == "token":
        return probs.argmax(1).astype(np.float64) + 1
    if readout == "expectation":
        return probs @ np.arange(1, 6, dtype=np.float64)
    if readout == "median":
        return (probs.cumsum(1) >= 0.5).argmax(1).astype(np.float64) + 1
    raise ValueError(f"unknown rating read-out {readout!r}; known: {RATING_READOUTS}")


def readout_maes(probs: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """MAE of every read-out against the true ratings."""
    return {r: float(np.abs(read_rating(probs, r) - truth).mean()) for r in RATING_READOUTS}


def generate_rating(model, builder: PromptBuilder, requests: pd.DataFrame, batch_size: int = 32) -> list[str]:
    """The rating token decoded under the constraint (only <rate_1>..<rate_5>), as "1".."5": the paper's
    decoding, kept as the reference that the "token" read-out is tested against."""
    encs = [builder.build("rating", r, with_target=False) for r in rows_of(requests)]
    ids = builder.vocab.rating_ids
    gen = greedy(model, builder, encs, lambda step, g: ids, max_new=1, batch_size=batch_size, desc="unimp rating")
    return [str(ids.index(g[0]) + 1) for g in gen]


def generate_explanation(model, builder: PromptBuilder, requests: pd.DataFrame, max_new: int = 40,
                         batch_size: int = 32) -> list[str]:
    """Greedy text over the base vocabulary (+[EOS]); added tokens are excluded."""
    v = builder.vocab
    text_ids = list(range(v.n_base)) + [v["[EOS]"]]
    encs = [builder.build("explanation", r, with_target=False) for r in rows_of(requests)]
    first = text_ids[:-1]  # no empty explanation
    gen = greedy(model, builder, encs, lambda step, g: text_ids if step else first, max_new,
                 batch_size=batch_size, desc="unimp explanation")
    return [v.decode(g) for g in gen]


def generate_image_tokens(model, builder: PromptBuilder, encs: Sequence[Encoded], n_tokens: int,
                          batch_size: int = 32, temperature: float = 0.0, top_k: int = 0,
                          seed: int = 0, static_cache: bool = True) -> list[list[int]]:
    """`n_tokens` VQ codes per prompt (0..n_codes-1), only image tokens allowed at every step."""
    v = builder.vocab
    ids = v.image_ids
    gen = greedy(model, builder, encs, lambda step, g: ids, n_tokens, batch_size=batch_size,
                 desc="unimp image", temperature=temperature, top_k=top_k,
                 generator=torch.Generator().manual_seed(seed), static_cache=static_cache)
    return [[t - v.image_offset for t in g] for g in gen]


@torch.no_grad()
def image_token_scores(model, builder: PromptBuilder, encs: Sequence[Encoded], batch_size: int = 32
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Teacher-forced scores of each prompt's target image tokens (encs built with their targets):
    per prompt, the mean negative log-likelihood in nats per token under the distribution restricted
    to the image tokens, and the share of tokens that are the most likely image token."""
    model.eval()
    v = builder.vocab
    lo, hi = v.image_offset, v.image_offset + v.n_image_codes
    nll, acc = np.zeros(len(encs)), np.zeros(len(encs))
    for idx, chunk in _batches(encs, batch_size, "unimp image likelihood"):
        batch = collate(chunk, v["[PAD]"])
        h, _ = model.hidden(batch["input_ids"], batch["attention_mask"], model.encode_images(batch["images"]))
        for b, (i, e) in enumerate(zip(idx, chunk)):
            n = len(e.target)
            pos = torch.arange(e.answer_pos, e.answer_pos + n)             # each predicts the next token
            logp = torch.log_softmax(model.head(h[b, pos])[:, lo:hi].float(), -1)   # (n, n_codes)
            tgt = torch.tensor(e.target) - lo
            nll[i] = float(-logp.gather(1, tgt[:, None]).mean())
            acc[i] = float((logp.argmax(1) == tgt).float().mean())
    return nll, acc
