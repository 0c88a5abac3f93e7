"""The unified item attribute dictionary (paper section 2.1) and its flattened text form."""
from __future__ import annotations

import math
import re

# Order of keys in the flattened text; `image` is the [IMG] slot itself.
ATTRIBUTE_KEYS = ("title", "brand", "price", "category", "description")
MAX_WORDS = 20  # per value, as the official code truncates (protocol 1.4)
IMG, EOC = "[IMG]", "[EOC]"


def truncate_words(value: str, max_words: int = MAX_WORDS) -> str:
    return " ".join(str(value).split()[:max_words])


def format_price(price) -> str | None:
    if price is None or (isinstance(price, float) and math.isnan(price)):
        return None
    return f"{float(price):.2f}"


def attribute_dict(title, brand, price, category: str | None, description, max_words: int = MAX_WORDS) -> dict:
    """The item's attributes that have a value, text truncated to `max_words` words each."""
    values = {"title": title, "brand": brand, "price": format_price(price), "category": category,
              "description": description}
    out = {}
    for key in ATTRIBUTE_KEYS:
        v = values[key]
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        v = truncate_words(v, max_words)
        if v:
            out[key] = v
    return out


def flatten(attrs: dict) -> str:
    """`[IMG] k1 v1 k2 v2 ... [EOC]` (protocol 1.4)."""
    body = " ".join(f"{k} {attrs[k]}" for k in ATTRIBUTE_KEYS if k in attrs)
    return f"{IMG} {body} {EOC}" if body else f"{IMG} {EOC}"


_SENTENCE_END = re.compile(r"[.!?]\s")  # a sentence's last character and the whitespace after it


def explanation_target(review: str | None, summary: str | None, max_words: int = 30) -> str:
    """Decision v1 (protocol 2): the first sentence of the review, at most 30 words, else the summary."""
    text = (review or "").strip()
    if text:
        end = _SENTENCE_END.search(text)  # the first piece re.split on r"(?<=[.!?])\s+" would give
        first = text[:end.start() + 1] if end else text
        words = first.split()
        if words:
            return " ".join(words[:max_words])
    return " ".join((summary or "").split()[:max_words])
