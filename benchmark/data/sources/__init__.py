"""Readers for the raw releases. Each turns one domain's files into a `RawDomain`.

Contract shared by every source (and by the embedded world, which writes the 2014 format):

reviews: pandas DataFrame, one row per review as read (duplicates NOT yet removed), columns
    user (str), item (str raw id), timestamp (int64 unix seconds), rating (float64; NaN only from a table
    without ratings), both within the reader's `common.Limits` (default 1..5 stars, 1990-01-01 to a day after now),
    review (str, "" if absent), summary (str, "" if absent), line (int64, 1-based line in its file)
items: pandas DataFrame, one row per distinct raw item id (first occurrence kept), columns
    item (str raw id), title, brand, description (str or None), price (float64, NaN if absent),
    category (list[str]: the deepest category path, may be empty), image_url (str or None)

Loaders raise `benchmark.data.errors.DataError` naming file and line, or with a `SkipReport` whose
`skip_bad` is set, count the bad record and go on. An empty reviews or metadata file is an error (a
counted skip naming the domain with `skip_bad`), never a domain silently without data.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# The one list of raw sources: the Amazon releases (one module each, read per domain) and a plain table.
RELEASES = ("amazon2014", "amazon2018", "amazon2023")
SOURCES = (*RELEASES, "table")


@dataclass
class RawDomain:
    domain: str
    reviews: pd.DataFrame
    items: pd.DataFrame
    reviews_file: str = ""
    meta_file: str = ""
