"""Reader for the 2014 McAuley Amazon release (He & McAuley, WWW 2016; McAuley et al., SIGIR 2015).

reviews_<Domain>_5.json.gz: strict JSON lines (reviewerID, asin, overall, unixReviewTime required).
meta_<Domain>.json.gz: one Python literal dict per line (single quotes), parsed with
`ast.literal_eval`, never `eval`.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

from benchmark.data.errors import DataError, SkipReport
from benchmark.data.sources import RawDomain
from benchmark.data.sources.common import (
    DEFAULT_LIMITS,
    Limits,
    ReviewFields,
    assemble_domain,
    candidates,
    category_path,
    find_first,
    meta_attributes,
    meta_text,
    read_meta_records,
    read_review_lines,
    wanted_ids,
)


def find_files(raw_dir: Path, domain: str) -> tuple[Path, Path | None]:
    """`(reviews, meta or None)` for a canonical domain; DataError naming the expected names when the
    reviews file is missing."""
    raw_dir = Path(raw_dir)
    reviews = find_first(raw_dir, [f"reviews_{domain}_5"])
    if reviews is None:
        raise DataError(raw_dir, None, f"no 2014 reviews file for {domain}: expected one of {candidates([f'reviews_{domain}_5'])}")
    return reviews, find_first(raw_dir, [f"meta_{domain}"])


def load_domain(raw_dir: Path, domain: str, report: SkipReport, limits: Limits = DEFAULT_LIMITS) -> RawDomain:
    reviews_path, meta_path = find_files(raw_dir, domain)
    return assemble_domain(domain, reviews_path, meta_path, read_reviews, read_meta, report, limits)


REVIEW_FIELDS = ReviewFields("reviewerID", "asin", "unixReviewTime", "overall", "reviewText", "summary")


def read_reviews(path: Path, report: SkipReport, limits: Limits = DEFAULT_LIMITS):
    return read_review_lines(path, report, REVIEW_FIELDS, limits)


def _longest(categories) -> list[str]:
    """The longest category path of a 2014 `categories` list of lists (ties: the first)."""
    best: list[str] = []
    for path in categories if isinstance(categories, list) else []:
        path = category_path(path)
        if len(path) > len(best):
            best = path
    return best


_PYTHON_WORDS = (("True", "true"), ("False", "false"), ("None", "null"))


def _no_constant(name: str):
    raise ValueError(f"{name} is not a Python literal")


def parse_literal(text: str):
    """`ast.literal_eval(text)`, 5-10x faster for the lines `repr` writes without escapes: when the line has no
    double quote and no backslash, its single quotes only delimit strings, so outside them it is JSON once
    True/False/None are spelt as JSON; whatever JSON rejects (tuples, NaN, trailing commas ...) is parsed
    by `ast.literal_eval`, which gives the value or the error it always did (also for nesting deeper than
    Python's parser takes, hence the bracket count)."""
    if '"' not in text and "\\" not in text and text.count("[") + text.count("{") < 100:
        if any(word in text for word, _ in _PYTHON_WORDS):
            parts = text.split("'")
            for k in range(0, len(parts), 2):  # outside the strings
                for word, spelt in _PYTHON_WORDS:
                    parts[k] = parts[k].replace(word, spelt)
            text_json = '"'.join(parts)
        else:  # nothing to spell (most lines): the same text without splitting it
            text_json = text.replace("'", '"')
        try:
            return json.loads(text_json, parse_constant=_no_constant)
        except ValueError:
            pass
    return ast.literal_eval(text)


def read_meta(path: Path, report: SkipReport, items: set[str] | None = None) -> dict[str, dict]:
    """raw id -> attributes, first row kept; only `items` when given (other lines are not parsed)."""
    keep = wanted_ids("asin", items, double_quoted=True, single_quoted=True) if items is not None else None
    return read_meta_records(path, report, items, parse=parse_literal, reason="malformed literal",
                             id_key="asin", keep=keep, attributes=_attributes)


def _attributes(r: dict) -> dict:
    return meta_attributes(r, brand=r.get("brand"), category=_longest(r.get("categories")),
                           image_url=meta_text(r.get("imUrl")))
