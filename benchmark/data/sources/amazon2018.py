"""Reader for the 2018 Amazon release (Ni, Li & McAuley, EMNLP 2019).

<Domain>_5.json.gz: JSON lines (reviewerID, asin, overall, unixReviewTime required; verified, style,
vote, image ignored). meta_<Domain>.json.gz: JSON lines with title, brand, price ("$12.99"),
category[], description[], imageURL[], imageURLHighRes[].

Duplicate (user, item) reviews are kept here, each with its `line`; the pipeline dedupes keeping the
earliest. Duplicate meta rows keep the first.
"""
from __future__ import annotations

import json
from pathlib import Path

from benchmark.data.errors import DataError, SkipReport
from benchmark.data.sources import RawDomain
from benchmark.data.sources.amazon2014 import read_reviews  # the review lines carry the 2014 fields
from benchmark.data.sources.common import (
    DEFAULT_LIMITS,
    Limits,
    assemble_domain,
    candidates,
    category_path,
    find_first,
    first_url,
    meta_attributes,
    read_meta_records,
    wanted_ids,
)

# The 2018 release renamed or dropped some 2014 domains: names tried in order. It has no Baby domain,
# and its Beauty items are split into All_Beauty and Luxury_Beauty (we take the first one present).
NAMES = {"Beauty": ("Beauty", "All_Beauty", "Luxury_Beauty")}


def find_files(raw_dir: Path, domain: str) -> tuple[Path, Path | None]:
    """`(reviews, meta or None)` for a canonical domain; DataError naming the expected names when no
    reviews file is present."""
    raw_dir = Path(raw_dir)
    names = NAMES.get(domain, (domain,))
    for name in names:
        reviews = find_first(raw_dir, [f"{name}_5"])
        if reviews is not None:
            return reviews, find_first(raw_dir, [f"meta_{name}"])
    hint = " (the 2018 release has no Baby domain)" if domain == "Baby" else ""
    raise DataError(
        raw_dir, None, f"no 2018 reviews file for {domain}{hint}: expected one of {candidates([f'{n}_5' for n in names])}"
    )


def load_domain(raw_dir: Path, domain: str, report: SkipReport, limits: Limits = DEFAULT_LIMITS) -> RawDomain:
    reviews_path, meta_path = find_files(raw_dir, domain)
    return assemble_domain(domain, reviews_path, meta_path, read_reviews, read_meta, report, limits)


def read_meta(path: Path, report: SkipReport, items: set[str] | None = None) -> dict[str, dict]:
    """raw id -> attributes, first row kept; only `items` when given (other lines are not parsed)."""
    keep = wanted_ids("asin", items) if items is not None else None
    return read_meta_records(path, report, items, parse=json.loads, reason="malformed json",
                             id_key="asin", keep=keep, attributes=_attributes)


def _attributes(r: dict) -> dict:
    return meta_attributes(r, brand=r.get("brand"), category=category_path(r.get("category")),
                           image_url=first_url(r.get("imageURLHighRes"), r.get("imageURL")))
