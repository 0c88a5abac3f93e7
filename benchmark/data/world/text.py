"""Words: item titles and descriptions, review texts and summaries.

A review's first sentence (the explanation target) is about the attribute that drove the rating:
the best-matched one for 4-5 stars, the worst for 1-2, both for 3 ("The blue color is nice, but it
is a bit pricey for a moisturizer."). Later sentences cover the next most telling attributes,
each with its own polarity, so the text is consistent with the latent match and the stars.
Reviews are filled from templates with vectorised string concatenation (object arrays).
"""
from __future__ import annotations

from string import Formatter

import numpy as np

from benchmark.data.world import taxonomy as tx
from benchmark.data.world.catalogue import Catalogue
from benchmark.data.world.sequences import COMPONENTS

# clause templates per (attribute, polarity); slots: colour, shape, noun, brand
CLAUSES: dict[str, tuple[str, ...]] = {
    "category+": ("this is exactly the kind of {noun} I use", "just the {noun} I was looking for",
                  "this {noun} fits my routine perfectly"),
    "category-": ("this is not the kind of {noun} I usually buy", "I did not really need this type of {noun}",
                  "this {noun} is not really for me"),
    "brand+": ("{brand} never disappoints", "another great one from {brand}", "I keep coming back to {brand}"),
    "brand-": ("I am not sold on {brand}", "first time trying {brand} and I am not convinced",
               "{brand} is not a brand I usually trust"),
    "price+": ("great value for the price", "the price is right for a {noun}", "it is worth every penny"),
    "price-high": ("it is a bit pricey for a {noun}", "it is too expensive for what you get",
                   "I expected more at this price"),
    "price-low": ("it feels cheaply made", "you get what you pay for with this {noun}",
                  "it looks cheaper than I hoped"),
    "colour+": ("the {colour} color is just what I wanted", "I love the {colour} shade",
                "the {colour} looks even better in person"),
    "colour-": ("the {colour} color is not really my style", "I was hoping for something other than {colour}",
                "honestly, {colour} is just not my color"),
    "shape+": ("the {shape} shape is really practical", "I like the {shape} design",
               "the {shape} form looks great"),
    "shape-": ("the {shape} shape feels awkward", "I do not care for the {shape} design",
               "the {shape} form is not for me"),
    "quality+": ("the quality is excellent", "it is very well made", "it has held up really well"),
    "quality-": ("the quality is disappointing", "it did not live up to the description",
                 "it is not as good as I expected"),
}
SUMMARIES: dict[str, tuple[str, ...]] = {
    "category+": ("Just what I needed", "Perfect {noun}"), "category-": ("Not for me", "Wrong kind of {noun}"),
    "brand+": ("Love {brand}", "{brand} does it again"), "brand-": ("Not impressed with {brand}", "Meh brand"),
    "price+": ("Great value", "Worth it"), "price-high": ("Too pricey", "Overpriced"),
    "price-low": ("Feels cheap", "Cheaply made"),
    "colour+": ("Love the color", "Beautiful {colour}"), "colour-": ("Wrong color for me", "Not a fan of {colour}"),
    "shape+": ("Nice design", "Love the shape"), "shape-": ("Awkward shape", "Odd design"),
    "quality+": ("Excellent quality", "Well made"), "quality-": ("Poor quality", "Disappointing"),
}
GENERIC_SUMMARIES = {1: ("Disappointed", "Do not buy"), 2: ("Not great", "Meh"), 3: ("It is okay", "Average"),
                     4: ("Pretty good", "Nice"), 5: ("Five stars", "Love it")}
CLOSINGS = {1: ("Returning it.", "Would not recommend."), 2: ("Probably will not buy again.", "Not worth it."),
            3: ("It is okay overall.", "Not bad, not great."), 4: ("Pretty happy overall.", "Would recommend."),
            5: ("Highly recommend.", "Would buy again.", "Five stars from me.")}
ATTRIBUTES = COMPONENTS + ("quality",)
SHAPE_WORDS = ("round", "square", "triangular", "diamond")


def fill(templates: list[str], choice: np.ndarray, slots: dict[str, np.ndarray]) -> np.ndarray:
    """templates[choice[i]] with its {slots} filled from slots[name][i] (object array of str)."""
    out = np.empty(len(choice), dtype=object)
    for t, template in enumerate(templates):
        rows = np.flatnonzero(choice == t)
        if not len(rows):
            continue
        acc = np.full(len(rows), "", dtype=object)
        for literal, name, _, _ in Formatter().parse(template):
            if literal:
                acc = acc + literal
            if name:
                acc = acc + slots[name][rows]
        out[rows] = acc
    return out


def _fill_where(where: np.ndarray, templates: list[str], choice: np.ndarray, slots: dict[str, np.ndarray]) -> np.ndarray:
    """`fill(templates, choice, slots)[where]`, the other rows' strings not built."""
    return fill(templates, choice[where], {name: values[where] for name, values in slots.items()})


class _Bank:
    """A flat list of templates grouped by key, with a random pick per row inside a group."""

    def __init__(self, groups: dict[str, tuple[str, ...]], capitalise: bool = False):
        self.keys = list(groups)
        self.templates = [t[:1].upper() + t[1:] if capitalise else t for g in groups.values() for t in g]
        sizes = np.array([len(g) for g in groups.values()])
        self.offset, self.size = np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes

    def pick(self, key: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.offset[key] + (rng.random(len(key)) * self.size[key]).astype(np.int64)


_LOWER = _Bank(CLAUSES)
_UPPER = _Bank(CLAUSES, capitalise=True)
_SUMMARY = _Bank({**SUMMARIES, **{f"generic{r}": g for r, g in GENERIC_SUMMARIES.items()}})
_CLOSING = _Bank({str(r): g for r, g in CLOSINGS.items()})
_KEY = {k: i for i, k in enumerate(_LOWER.keys)}
assert _SUMMARY.keys[: len(_KEY)] == _LOWER.keys


def _clause_keys(signal: np.ndarray, price_high: np.ndarray) -> np.ndarray:
    """Group index of each (row, attribute) clause given the sign of its signal: (n, A)."""
    pos = np.array([_KEY[f"{a}+"] for a in ATTRIBUTES])
    neg = np.array([_KEY.get(f"{a}-", -1) for a in ATTRIBUTES])
    keys = np.where(signal >= 0, pos[None, :], neg[None, :])
    price = ATTRIBUTES.index("price")
    keys[:, price] = np.where(signal[:, price] >= 0, _KEY["price+"],
                              np.where(price_high, _KEY["price-high"], _KEY["price-low"]))
    return keys


def reviews(signal: np.ndarray, price_high: np.ndarray, rating: np.ndarray, slots: dict[str, np.ndarray],
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Review texts and summaries.

    signal: (n, len(ATTRIBUTES)) how much each attribute pushed this rating up (+) or down (-);
    price_high: the item is dearer than the user likes; rating: 1..5; slots: colour, shape, noun, brand.
    """
    n = len(rating)
    rows = np.arange(n)
    keys = _clause_keys(signal, price_high)
    best, worst = signal.argmax(1), signal.argmin(1)
    best_key = keys[rows, best]
    worst_key = keys[rows, worst]
    lead_key = np.where(rating >= 3, best_key, worst_key)
    lead = fill(_UPPER.templates, _UPPER.pick(lead_key, rng), slots)
    mixed = rating == 3  # "good thing, but bad thing."
    tail = _fill_where(mixed, _LOWER.templates, _LOWER.pick(worst_key, rng), slots)
    text = lead + "."
    text[mixed] = lead[mixed] + ", but " + tail + "."
    # then the next most telling attributes (0-2 of them), each with its own polarity
    used_a, used_b = np.where(rating >= 3, best, worst), np.where(mixed, worst, -1)
    strength = np.abs(signal)
    strength[rows, used_a] = -1
    strength[mixed, used_b[mixed]] = -1
    order = np.argsort(-strength, axis=1, kind="stable")
    n_more = rng.choice(3, size=n, p=[0.25, 0.45, 0.30])
    for j in range(2):
        attr = order[:, j]
        more = (j < n_more) & (strength[rows, attr] > 0.05)
        sentence = _fill_where(more, _UPPER.templates, _UPPER.pick(keys[rows, attr], rng), slots)
        text[more] = text[more] + " " + sentence + "."
    closing_choice = _CLOSING.pick(rating - 1, rng)
    closed = rng.random(n) < 0.6
    text[closed] = text[closed] + " " + _fill_where(closed, _CLOSING.templates, closing_choice, slots)
    # summary: about the lead attribute, or generic for the stars
    generic = len(_KEY) + rating - 1
    summary_key = np.where((rating != 3) & (rng.random(n) < 0.65), lead_key, generic)
    summary = fill(_SUMMARY.templates, _SUMMARY.pick(summary_key, rng), slots)
    return text, summary


def slot_arrays(cat: Catalogue, item: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "colour": np.array(tx.COLOURS, dtype=object)[cat.colour[item]],
        "shape": np.array(SHAPE_WORDS, dtype=object)[cat.shape[item]],
        "noun": np.array(cat.leaf_noun, dtype=object)[cat.leaf[item]],
        "brand": cat.brand_name[cat.brand[item]],
    }


def _cap(words: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in words.split())


def titles(cat: Catalogue) -> list[str]:
    """'<Brand> <Style> [<Colour>] <Noun> <Variant> <number>'; the colour only where shown."""
    colour = [c.capitalize() for c in tx.COLOURS]
    nouns = [_cap(n) for n in cat.leaf_noun]
    return [f"{cat.brand_name[b]} {tx.STYLE_WORDS[s]} {colour[c] + ' ' if shown else ''}{nouns[l]} "
            f"{tx.VARIANT_WORDS[v]} {m}"
            for b, s, c, shown, l, v, m in zip(cat.brand.tolist(), cat.style.tolist(), cat.colour.tolist(),
                                               cat.colour_shown.tolist(), cat.leaf.tolist(),
                                               cat.variant.tolist(), cat.model_number.tolist())]


def descriptions(cat: Catalogue, rng: np.random.Generator) -> list[str]:
    """A sentence on style (colour only where shown, shape only where shape_shown) and 1-2 features."""
    feats = rng.integers(0, len(tx.FEATURES), (cat.n_items, 2))
    n_feats = rng.integers(1, 3, cat.n_items)
    out = []
    for s, l, c, cs, sh, ss, p, f, nf in zip(
            cat.style.tolist(), cat.leaf.tolist(), cat.colour.tolist(), cat.colour_shown.tolist(),
            cat.shape.tolist(), cat.shape_shown.tolist(), cat.pattern.tolist(), feats.tolist(), n_feats.tolist()):
        design = f"{tx.PATTERNS[p]} {SHAPE_WORDS[sh]} design" if ss else f"{tx.PATTERNS[p]} finish"
        colour = f" in {tx.COLOURS[c]}" if cs else ""
        extra = " ".join(tx.FEATURES[k] for k in f[:nf])
        out.append(f"{tx.STYLE_WORDS[s]} {cat.leaf_noun[l]}{colour} with a {design}. {extra}")
    return out
