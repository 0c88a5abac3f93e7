"""Reader for the 2023 Amazon release (McAuley Lab, Hou et al. 2024).

<Name>.jsonl[.gz]: JSON lines with user_id, parent_asin, rating, timestamp (milliseconds), text
(the review) and title (its headline). meta_<Name>.jsonl[.gz]: parent_asin, title, store, details{},
price (nullable), categories[], main_category, description[], images[{thumb, large, hi_res}].
Interactions are keyed on parent_asin, as the release recommends (asin names a variant).
"""
from __future__ import annotations

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
    first_url,
    meta_attributes,
    meta_text,
    read_meta_records,
    read_review_lines,
    wanted_ids,
)

# canonical (2014) domain -> 2023 file names, tried in order
NAMES = {
    "Baby": ("Baby_Products",),
    "Beauty": ("Beauty_and_Personal_Care", "All_Beauty"),
    "Clothing_Shoes_and_Jewelry": ("Clothing_Shoes_and_Jewelry",),
    "Grocery_and_Gourmet_Food": ("Grocery_and_Gourmet_Food",),
    "Sports_and_Outdoors": ("Sports_and_Outdoors",),
    "Toys_and_Games": ("Toys_and_Games",),
    "Office_Products": ("Office_Products",),
}
SUFFIXES = (".jsonl.gz", ".jsonl", ".json.gz", ".json")


def find_files(raw_dir: Path, domain: str) -> tuple[Path, Path | None]:
    """`(reviews, meta or None)` for a canonical domain; DataError naming the expected names when no
    reviews file is present."""
    raw_dir = Path(raw_dir)
    names = NAMES.get(domain, (domain,))
    for name in names:
        reviews = find_first(raw_dir, [name], SUFFIXES)
        if reviews is not None:
            return reviews, find_first(raw_dir, [f"meta_{name}"], SUFFIXES)
    raise DataError(raw_dir, None, f"no 2023 reviews file for {domain}: expected one of {candidates(names, SUFFIXES)}")


def load_domain(raw_dir: Path, domain: str, report: SkipReport, limits: Limits = DEFAULT_LIMITS) -> RawDomain:
    reviews_path, meta_path = find_files(raw_dir, domain)
    return assemble_domain(domain, reviews_path, meta_path, read_reviews, read_meta, report, limits)


REVIEW_FIELDS = ReviewFields("user_id", "parent_asin", "timestamp", "rating", "text", "title", time_divisor=1000)  # ms -> s


def read_reviews(path: Path, report: SkipReport, limits: Limits = DEFAULT_LIMITS):
    return read_review_lines(path, report, REVIEW_FIELDS, limits)


def _image(images) -> str | None:
    """The first image's "large" URL (about 500 px, enough for the normalised size), else hi_res."""
    if isinstance(images, list) and images and isinstance(images[0], dict):
        return first_url(images[0].get("large"), images[0].get("hi_res"))
    return None


def read_meta(path: Path, report: SkipReport, items: set[str] | None = None) -> dict[str, dict]:
    """raw id -> attributes, first row kept; only `items` when given (other lines are not parsed)."""
    keep = wanted_ids("parent_asin", items) if items is not None else None
    return read_meta_records(path, report, items, parse=json.loads, reason="malformed json",
                             id_key="parent_asin", keep=keep, attributes=_attributes)


def _attributes(r: dict) -> dict:
    details = r.get("details") if isinstance(r.get("details"), dict) else {}
    # categories is often empty in 2023: fall back to the one-level main_category
    category = category_path(r.get("categories")) or category_path([r.get("main_category")])
    return meta_attributes(r, brand=meta_text(details.get("Brand")) or r.get("store"), category=category,
                           image_url=_image(r.get("images")))
