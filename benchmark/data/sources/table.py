"""Reader for plain tables: interactions (+ optional items) as CSV, TSV or Parquet.

Interactions need the columns user, item, timestamp; rating, review, summary and domain are optional
(no domain column: every row goes to `default_domain`; no rating: NaN). Timestamps are unix seconds
(numbers, fractions dropped) or ISO-8601 dates (read as UTC). The items file (CSV/TSV/Parquet/JSONL)
needs `item` and may have title, brand, price, category (a list, a JSON list or "a > b > c"),
description, image_url. RecBole atomic files and sequence files are converted first
(`benchmark.data.convert`).

`line` is the physical line where a CSV/TSV record starts (a quoted field may span lines) and the
1-based row for Parquet. Times and ratings outside their `Limits` are out of range (ratings default
to 1..5 stars; a table may declare its own range).
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from benchmark.data.errors import DataError, SkipReport
from benchmark.data.sources import RawDomain
from benchmark.data.sources.common import (
    DEFAULT_LIMITS,
    Limits,
    category_path,
    has_content,
    items_frame,
    iter_lines,
    meta_text,
    parse_price,
    read_records,
)

REQUIRED = ("user", "item", "timestamp")
ITEM_ATTRIBUTES = ("title", "brand", "price", "category", "description", "image_url")


def _format(path: Path) -> str:
    """"csv", "tsv", "parquet" or "jsonl" from the suffix (a trailing .gz is ignored)."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    formats = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
               ".jsonl": "jsonl", ".json": "jsonl"}
    if suffix not in formats:
        raise DataError(path, None, f"unknown table format {suffix or '(no suffix)'!r}: use .csv, .tsv, .parquet or .jsonl")
    return formats[suffix]


POSITIONS = {b"unimp_bench.timestamp": b"position"}  # parquet metadata `convert` writes when timestamps are positions


def timestamps_are_positions(path: Path) -> bool:
    """Whether a parquet interactions file says its timestamps are positions (an order, not times)."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except Exception:  # not parquet, or damaged: the reader reports it with its file
        return False
    return all(metadata.get(k) == v for k, v in POSITIONS.items())


def read_frame(path: Path, report: SkipReport, allowed: tuple[str, ...] = ("csv", "tsv", "parquet")) -> pd.DataFrame:
    """The table with a `line` column added. CSV/TSV cells are strings ("" when empty); CSV/TSV
    records with the wrong number of fields are left out and listed in `frame.attrs["problems"]` as
    (line, message, reason), for the caller to record in line order with its own findings."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, "file not found")
    fmt = _format(path)
    if fmt not in allowed:
        raise DataError(path, None, f"{fmt} is not accepted here: use one of {', '.join(allowed)}")
    if fmt == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises several types for a damaged file
            raise DataError(path, None, f"cannot read parquet: {e}") from e
        frame["line"] = np.arange(1, len(frame) + 1, dtype="int64")
        return frame
    if fmt == "jsonl":
        if not has_content(path):
            raise DataError(path, None, "empty file: no records")
        rows = [dict(r, line=n) for n, r in read_records(path, report, json.loads, "malformed json")]
        return pd.DataFrame(rows)
    return _read_delimited(path, report, "\t" if fmt == "tsv" else ",")


def _read_delimited(path: Path, report: SkipReport, delimiter: str) -> pd.DataFrame:
    """CSV/TSV through the csv module so every record keeps the number of the line where it starts (an
    unclosed quote is reported where it opens, not where the reader gives up)."""
    at = {"start": None, "last": 0}  # first and last line of the record being read

    def lines():
        for n, text in iter_lines(path, report, keep_blank=True):
            at["last"] = n
            if at["start"] is None:
                at["start"] = n
            yield text + "\n"

    # strict: a quote left open to the end of the file is an error, not a field that swallows the rest
    reader = csv.reader(lines(), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    problems: list[tuple[int, str, str]] = []
    kind = "TSV" if delimiter == "\t" else "CSV"
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            start, last = at["start"] or at["last"], at["last"]
            at["start"] = None
            if str(e) == "unexpected end of data":
                message = f"unterminated quote: a quoted field opened in the record on this line never closes (read to line {last}, the end of the file)"
            else:
                message = f"malformed {kind}: {e}" + (f" (the record runs to line {last}: an unclosed quote?)" if last > start else "")
            if header is None:
                raise DataError(path, start, message) from e
            report.record(DataError(path, start, message), "malformed " + kind.lower())
            continue
        start, at["start"] = at["start"], None
        if not record:
            continue
        if header is None:
            header = [name.strip() for name in record]
            continue
        if len(record) != len(header):
            problems.append((start, f"expected {len(header)} fields, found {len(record)}", "wrong field count"))
            continue
        rows.append(record)
        numbers.append(start)
    if header is None:
        raise DataError(path, None, "empty file: no header row")
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header, dtype=object)
    frame["line"] = np.asarray(numbers, dtype="int64")
    frame.attrs["problems"] = problems
    return frame


def _missing(values: pd.Series) -> pd.Series:
    """True where a cell is absent: null, NaN or an empty / blank string."""
    text = values.astype(str).str.strip()
    return values.isna() | (text == "") | (text.str.lower() == "nan")


def _ids(values: pd.Series) -> pd.Series:
    """Ids as strings; integral floats (a Parquet int column with nulls) lose their ".0"."""
    if pd.api.types.is_float_dtype(values):
        return values.map(lambda v: str(int(v)) if float(v).is_integer() else str(v))
    return values.astype(str).str.strip()


def _timestamps(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 unix seconds, bad mask): numbers (fractions dropped) or ISO-8601 dates read as UTC. Floats,
    so a huge value stays itself for the range check instead of wrapping round in int64."""
    if pd.api.types.is_datetime64_any_dtype(values):  # a Parquet timestamp column
        seconds = (values - pd.Timestamp(0, tz=values.dt.tz)) // pd.Timedelta(seconds=1)
        bad = seconds.isna().to_numpy()
        return seconds.to_numpy(dtype="float64", na_value=np.nan), bad
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    out = np.floor(numbers.to_numpy())
    bad = ~np.isfinite(out)
    if bad.any():
        dates = pd.to_datetime(values[bad], errors="coerce", utc=True, format="ISO8601")
        seconds = (dates - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        out[bad] = seconds.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(out)
    return out, bad


def _check_rows(frame: pd.DataFrame, path: Path, report: SkipReport,
                limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(timestamps, ratings, keep mask); every bad row is recorded, in line order, so without
    `skip_bad` the error names the first bad line."""
    # line -> (message, reason), the first found wins; rows with the wrong field count are not in frame
    problems = {line: (message, reason) for line, message, reason in frame.attrs.get("problems", [])}
    lines = frame["line"].to_numpy()

    def flag(mask, message, reason):
        for i in np.flatnonzero(np.asarray(mask)):
            problems.setdefault(int(lines[i]), (message(int(i)), reason))

    for column in ("user", "item") + (("domain",) if "domain" in frame.columns else ()):
        flag(_missing(frame[column]), lambda i, c=column: f"missing value in column {c!r}", "missing field")
    flag(_missing(frame["timestamp"]), lambda i: "missing value in column 'timestamp'", "missing field")
    seconds, bad_time = _timestamps(frame["timestamp"])
    flag(bad_time, lambda i: f"timestamp must be unix seconds or an ISO-8601 date, got {frame['timestamp'].iat[i]!r:.40}", "wrong type")
    first, last = limits.time_bounds()
    with np.errstate(invalid="ignore"):
        outside = ~bad_time & ((seconds < first) | (seconds > last))
    hint = "change it with --time-range; `--time-range any` when timestamps only give an order, as `convert` writes them"
    flag(outside, lambda i: limits.time_problem("column 'timestamp'", frame["timestamp"].iat[i], seconds[i], hint), "out of range")
    timestamps = np.where(bad_time | outside, 0, seconds).astype("int64")
    if "rating" in frame.columns:
        empty = _missing(frame["rating"]).to_numpy()
        ratings = pd.to_numeric(frame["rating"].where(~empty), errors="coerce").astype("float64").to_numpy()
        flag(~empty & ~np.isfinite(ratings), lambda i: f"rating must be a number, got {frame['rating'].iat[i]!r:.40}", "wrong type")
        with np.errstate(invalid="ignore"):
            outside = (ratings < limits.rating[0]) | (ratings > limits.rating[1])  # NaN (no rating) is never outside
        flag(outside, lambda i: limits.rating_problem("column 'rating'", ratings[i]) + " (declare it with --rating-range)", "out of range")
    else:
        ratings = np.full(len(frame), math.nan)
    for line in sorted(problems):
        message, reason = problems[line]
        report.record(DataError(path, line, message), reason)
    return timestamps, ratings, ~np.isin(lines, list(problems))


def load_table(
    interactions_path: Path,
    items_path: Path | None = None,
    report: SkipReport | None = None,
    default_domain: str = "Beauty",
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, RawDomain]:
    """domain -> RawDomain (domains sorted by name). Rows with a bad cell (or a time or rating outside
    `limits`) are DataErrors naming file and line, or counted skips under `report.skip_bad`."""
    report = report if report is not None else SkipReport()
    path = Path(interactions_path)
    frame = read_frame(path, report)
    for column in REQUIRED:
        if column not in frame.columns:
            found = ", ".join(c for c in frame.columns if c != "line")
            raise DataError(path, None, f"missing required column {column!r} (columns found: {found})")

    timestamps, ratings, keep = _check_rows(frame, path, report, limits)

    def text(column: str) -> pd.Series:
        if column not in frame.columns:
            return pd.Series([""] * len(frame), dtype=object)
        values = frame[column]
        return values.where(values.notna(), "").astype(str)

    reviews = pd.DataFrame(
        {
            "user": _ids(frame["user"]).to_numpy(dtype=object),
            "item": _ids(frame["item"]).to_numpy(dtype=object),
            "timestamp": timestamps,
            "rating": ratings,
            "review": text("review").to_numpy(dtype=object),
            "summary": text("summary").to_numpy(dtype=object),
            "line": frame["line"].to_numpy(dtype="int64"),
        }
    )
    domains = frame["domain"].astype(str).str.strip().to_numpy() if "domain" in frame.columns else np.full(len(frame), default_domain, dtype=object)
    reviews, domains = reviews[keep].reset_index(drop=True), domains[keep]

    if not keep.any():
        raise DataError(path, None, "no interactions to read")
    meta = read_items(Path(items_path), report) if items_path is not None else {}
    out: dict[str, RawDomain] = {}
    for domain in sorted(set(domains)):
        part = reviews[domains == domain].reset_index(drop=True)
        out[domain] = RawDomain(
            domain=domain,
            reviews=part,
            items=items_frame(part["item"], meta),
            reviews_file=path.name,
            meta_file=Path(items_path).name if items_path is not None else "",
        )
    return out


def _category(value) -> list[str]:
    """A list / array, a JSON list string, or "a > b > c"."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            return category_path(json.loads(value))
        except ValueError:
            pass
    if isinstance(value, float) and math.isnan(value):
        return []
    return category_path(value)


def read_items(path: Path, report: SkipReport) -> dict[str, dict]:
    """raw id -> attributes from an items table; the first row of an id is kept."""
    frame = read_frame(path, report, allowed=("csv", "tsv", "parquet", "jsonl"))
    if "item" not in frame.columns:
        raise DataError(path, None, "missing required column 'item'")
    for line, message, reason in frame.attrs.get("problems", []):
        report.record(DataError(path, line, message), reason)
    missing = _missing(frame["item"]).to_numpy()
    ids = _ids(frame["item"]).to_numpy(dtype=object)
    columns = {name: frame[name].to_numpy(dtype=object) if name in frame.columns else None for name in ITEM_ATTRIBUTES}
    meta: dict[str, dict] = {}
    for i, item in enumerate(ids):
        if missing[i]:
            report.record(DataError(path, int(frame["line"].iat[i]), "missing value in column 'item'"), "missing field")
            continue
        if item in meta:
            continue
        get = lambda name: columns[name][i] if columns[name] is not None else None  # noqa: E731
        meta[item] = {
            "title": meta_text(get("title")),
            "brand": meta_text(get("brand")),
            "description": meta_text(get("description")),
            "price": parse_price(get("price")),
            "category": _category(get("category")),
            "image_url": meta_text(get("image_url")),
        }
    return meta
