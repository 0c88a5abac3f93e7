"""Task instance -> interleaved prompt: token ids, the ordered images, the answer position and the
per-token loss weights.

Prompt: `[CLS] <item> ... <item> <instruction, its [Query]/[Candidates]/[Item] filled in> [ANS] <target> [EOS]`
where each item is `[IMG] <attribute text> <item_n> [EOC]` (the flattened attribute dictionary of
items.text with the item's own token before [EOC]) and each selection candidate is preceded by its
selection token <sel_j>. Images are listed in [IMG] order; an item without an image keeps its [IMG]
and its image slot is masked out by the model. Targets: recommendation/search `<item_n>`, selection the
positives' <sel_j> in candidate order, rating `<rate_r>`, explanation the text; all end with [EOS].
Image generation (eq. 9, second stage): the retrieved items' blocks, each with its image's VQ codes
as <img_k> tokens before its [EOC], fill [Retrieved Images]; the query is already in the instruction, and the target is the target item's VQ codes as <img_k> tokens
(no [EOS]: the number of codes is fixed). `history=False` leaves the history out (the comparison
"generation without history").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from benchmark.api import instruction as task_instruction
from benchmark.api import truncate_words

from .vocab import Vocab

PLACEHOLDERS = {"search": "[Query]", "selection": "[Candidates]", "rating": "[Item]", "explanation": "[Item]",
                "image": "[Retrieved Images]"}


@dataclass
class Encoded:
    """One prompt (+ target), ready to batch."""

    task: str
    input_ids: list[int]             # prompt, [ANS], target (empty at inference)
    weights: list[float]             # weights[t] > 0: token t is supervised (predicted from t - 1)
    images: list[int]                # item tokens whose images fill the [IMG] slots, in order
    answer_pos: int                  # index of [ANS]: its logits predict the first target token
    target: list[int] = field(default_factory=list)
    # (position of a history item's [EOC], the next item's token): every history transition, the last
    # one to the instance's own next item (with the target only; used by config.transition_loss)
    transitions: list[tuple[int, int]] = field(default_factory=list)
    # row of the training candidate-mask table (config.candidate_loss; set by the adapter), -1: none
    cand_group: int = -1


def _is_null(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _inner_text(text: str) -> str:
    """items.text without its leading [IMG] and trailing [EOC]."""
    text = str(text or "").strip()
    if text.startswith("[IMG]"):
        text = text[len("[IMG]"):]
    if text.endswith("[EOC]"):
        text = text[: -len("[EOC]")]
    return text.strip()


def category_segment(category) -> str | None:
    """The `category <path>` piece of an item's flattened text (benchmark.data.item_text), or None."""
    if _is_null(category) or not str(category).strip():
        return None
    return "category " + truncate_words(category)


def category_first_text(text: str, category) -> str:
    """The item's inner text with its category segment moved to the front; unchanged when the text
    does not carry it (no category, or dropped by a text perturbation)."""
    seg = category_segment(category)
    if seg is None:
        return text
    words, seg_words = text.split(), seg.split()
    n = len(seg_words)
    for i in range(len(words) - n + 1):
        if words[i:i + n] == seg_words:
            return " ".join(seg_words + words[:i] + words[i + n:])
    return text


def next_item(task: str, row) -> int | None:
    """The item the user interacted with right after the instance's history (None if unknown)."""
    if task in ("recommendation", "search", "image"):
        return int(row["target_item"])
    if task in ("rating", "explanation"):
        return int(row["item"])
    if task == "selection":  # positives are the last k interactions in time order, the first follows the history
        positives = list(row["target_items"])
        return int(positives[0]) if positives else None
    return None


class PromptBuilder:
    """Builds `Encoded` prompts for all text/rank tasks; item blocks and instructions are cached."""

    def __init__(self, vocab: Vocab, items: pd.DataFrame, history: int = 5, max_item_tokens: int = 32,
                 max_query_tokens: int = 24, max_target_tokens: int = 40, context_weight: float = 1.0,
                 context_norm: str = "token", category_first: bool = False):
        self.vocab, self.history = vocab, history
        self.max_item, self.max_query, self.max_target = max_item_tokens, max_query_tokens, max_target_tokens
        self.context_weight, self.context_norm = context_weight, context_norm
        texts = items["text"].tolist() if "text" in items else [""] * len(items)
        self._texts = dict(zip(items["item"].astype(int).tolist(), texts))
        self.category_first = category_first
        self._categories = dict(zip(items["item"].astype(int).tolist(), items["category"].tolist())) \
            if "category" in items else {}
        self._blocks: dict[int, list[int]] = {}
        self._text_cache: dict[str, list[int]] = {}
        self.image_codes: dict[int, list[int]] = {}  # item -> VQ codes of its image (image generation)
        self.image_history = True                     # False: image prompts without the user's history
        self.retrieved_codes = True                   # retrieved items carry their VQ codes in the prompt

    # ---- pieces -------------------------------------------------------------------------------------
    def text(self, s: str, limit: int | None = None) -> list[int]:
        ids = self._text_cache.get(s)
        if ids is None:
            ids = self.vocab.encode(s) if s.strip() else []
            if len(self._text_cache) < 200_000:
                self._text_cache[s] = ids
        return ids[:limit] if limit else ids

    def item_block(self, item: int) -> list[int]:
        """[IMG] attribute-text item-token [EOC]."""
        block = self._blocks.get(item)
        if block is None:
            v = self.vocab
            attrs = self.text(self.item_text(item), self.max_item)
            block = [v["[IMG]"]] + attrs + [v.item(item), v["[EOC]"]]
            self._blocks[item] = block
        return block

    def item_text(self, item: int) -> str:
        """The attribute text UniMP renders for an item (category first when `category_first`)."""
        text = _inner_text(self._texts.get(item, ""))
        return category_first_text(text, self._categories.get(item)) if self.category_first else text

    def truncation(self) -> dict:
        """Share of catalogue items whose attribute text is cut at max_item_tokens, and share of the
        items with a category whose category is (partly) cut."""
        cut = cat_cut = n_cat = 0
        for item in self._texts:
            text = self.item_text(item)
            cut += len(self.text(text)) > self.max_item
            seg = category_segment(self._categories.get(item))
            if seg is None or seg not in text:
                continue
            n_cat += 1
            cat_cut += len(self.vocab.encode(text[: text.index(seg) + len(seg)])) > self.max_item
        n = max(1, len(self._texts))
        return {"items": len(self._texts), "max_item_tokens": self.max_item, "text_cut": cut / n,
                "category_cut": cat_cut / max(1, n_cat), "with_category": n_cat}

    def retrieved_block(self, item: int) -> list[int]:
        """A retrieved item in an image prompt: its block with its image's VQ codes before [EOC] (when
        `retrieved_codes` and the item has an image), so the generator can reuse them token by token."""
        block = self.item_block(item)
        codes = self.image_codes.get(item) if self.retrieved_codes else None
        if not codes:
            return block
        return block[:-1] + [self.vocab.image(c) for c in codes] + block[-1:]

    # ---- a whole prompt -------------------------------------------------------------------------------
    def build(self, task: str, row, with_target: bool = True, context: bool = True) -> Encoded:
        """`row`: an instance (mapping with the layout's INSTANCE_COLUMNS). `context`: supervise the
        history items' attribute text and item token (context reconstruction, eq. 7)."""
        v = self.vocab
        ids, weights, images = [v["[CLS]"]], [0.0], []
        history = [int(h) for h in list(row["history"])[-self.history:]]
        if task == "image" and not self.image_history:
            history = []
        eocs = []
        for h in history:
            block = self.item_block(h)
            ids += block
            eocs.append(len(ids) - 1)
            cw = self.context_weight if context else 0.0
            weights += [0.0] + [cw] * (len(block) - 2) + [0.0]  # attributes and the item token
            images.append(h)
        instruction = row.get("instruction")
        instruction = task_instruction(task) if _is_null(instruction) or not instruction else str(instruction)
        if task == "image" and "[Query]" in instruction and not _is_null(row.get("query")):
            instruction = instruction.replace("[Query]", str(row["query"]))
        filler, filler_images = self._filler(task, row)
        ph = PLACEHOLDERS.get(task)
        if task == "search" and ph not in instruction and not _is_null(row.get("query")) \
                and str(row.get("query")) in instruction:
            filler = []  # the instance's instruction already carries its query
        if ph and ph in instruction:
            before, after = instruction.split(ph, 1)
            body = self.text(before) + filler + self.text(after)
        else:
            body = filler + self.text(instruction)
        ids += body
        weights += [0.0] * len(body)
        images += filler_images
        answer_pos = len(ids)
        ids.append(v["[ANS]"])
        weights.append(0.0)
        target = self.target(task, row) if with_target else []
        ids += target
        weights += [1.0] * len(target)
        if self.context_norm == "instance" and target:
            # the reconstruction tokens share context_weight x len(target) in all, so the answer is not
            # outweighed by the ~17 attribute tokens of each history item
            n_ctx = sum(w > 0 for w in weights[:answer_pos])
            if n_ctx:
                weights[:answer_pos] = [w * len(target) / n_ctx for w in weights[:answer_pos]]
        transitions = []
        if with_target:
            nexts = history[1:] + [next_item(task, row)]
            transitions = [(p, n) for p, n in zip(eocs, nexts) if n is not None]
        return Encoded(task, ids, weights, images, answer_pos, target, transitions)

    def _filler(self, task: str, row) -> tuple[list[int], list[int]]:
        if task == "search":
            q = row.get("query")
            return (self.text(str(q), self.max_query) if not _is_null(q) else []), []
        if task == "selection":
            ids, images = [], []
            for j, c in enumerate(list(row["candidates"])):
                ids += [self.vocab.select(j)] + self.item_block(int(c))
                images.append(int(c))
            return ids, images
        if task in ("rating", "explanation"):
            item = int(row["item"])
            return self.item_block(item), [item]
        if task == "image":  # the items the first stage retrieved ("retrieved" column)
            retrieved = [int(i) for i in list(row["retrieved"])]
            return [t for i in retrieved for t in self.retrieved_block(i)], retrieved
        return [], []

    def target(self, task: str, row) -> list[int]:
        v = self.vocab
        if task in ("recommendation", "search"):
            return [v.item(int(row["target_item"])), v["[EOS]"]]
        if task == "selection":
            positives = {int(t) for t in list(row["target_items"])}
            sel = [v.select(j) for j, c in enumerate(list(row["candidates"])) if int(c) in positives]
            return sel + [v["[EOS]"]]
        if task == "rating":
            r = int(np.clip(round(float(row["target_rating"])), 1, 5))
            return [v.rating(r), v["[EOS]"]]
        if task == "explanation":
            return self.text(str(row["target_text"] or ""), self.max_target) + [v["[EOS]"]]
        if task == "image":
            codes = self.image_codes.get(int(row["target_item"]))
            if codes is None:
                raise ValueError(f"image: target item {int(row['target_item'])} has no image codes")
            return [v.image(c) for c in codes]
        raise ValueError(f"no text target for task {task!r}")

    def render(self, enc: Encoded) -> str:
        """Human-readable prompt (added tokens by name), for tests and debugging."""
        return self.vocab.decode(enc.input_ids)
