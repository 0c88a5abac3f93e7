"""Shared pieces of the release readers: finding files, reading lines (gzip or plain) with line
numbers, and turning field values into the `RawDomain` column types.

Every problem becomes a `DataError(path, line, message)` passed to `SkipReport.record`, which raises it
unless `skip_bad` is set (then the record is counted and skipped).
"""
from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import numbers
import re
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from benchmark.data.errors import DataError, SkipReport
from benchmark.data.sources import RawDomain
from benchmark.data.sources.columnar import read_review_frame

JSON_SUFFIXES = (".json.gz", ".json", ".jsonl.gz", ".jsonl")
REVIEW_COLUMNS = ("user", "item", "timestamp", "rating", "review", "summary", "line")
ITEM_COLUMNS = ("item", "title", "brand", "description", "price", "category", "image_url")
_GZIP_MAGIC = b"\x1f\x8b"
TIME_MIN = 631152000  # 1990-01-01 UTC: before any web shop review
DAY = 86400
ANY_TIME = (-(2**62), 2**62)  # `--time-range any`: timestamps that only give an order (converted sequence files)


class OutOfRange(DataError):
    """A well-typed value outside its accepted range (recorded as "out of range")."""


def _date(seconds: float) -> str | None:
    """ISO date of unix seconds, or None when no calendar date has it."""
    try:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def parse_time(text: str) -> int:
    """Unix seconds from an integer or an ISO-8601 date / date-time (UTC unless it names an offset)."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    when = dt.datetime.fromisoformat(text)  # ValueError when it is neither
    return int((when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).timestamp())


def parse_time_range(text: str) -> tuple[int, int]:
    """"FIRST,LAST" (each unix seconds or an ISO date) -> (first, last) unix seconds, or "any" (only the
    order of timestamps matters, as in converted sequence files); ValueError otherwise."""
    if text.strip() == "any":
        return ANY_TIME
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"expected FIRST,LAST (unix seconds or ISO dates), got {text!r}")
    first, last = (parse_time(part) for part in parts)
    if first >= last:
        raise ValueError(f"the range {text!r} is empty: FIRST must come before LAST")
    return first, last


def parse_rating_range(text: str) -> tuple[float, float]:
    """"MIN,MAX" -> (min, max) finite numbers, min < max; ValueError otherwise."""
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"expected MIN,MAX, got {text!r}")
    lo, hi = (float(part) for part in parts)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"the range {text!r} must be two finite numbers, MIN below MAX")
    return lo, hi


@dataclass(frozen=True)
class Limits:
    """Accepted (inclusive) ranges of a review's rating and time.

    `time` None means from 1990-01-01 to one day after the moment of reading. That bound moves with the
    clock, so it is only checked: messages and the manifest state the rule, never the value, and the same
    raw files prepare to the same bytes on any day (unless they hold reviews dated in the future).
    """

    rating: tuple[float, float] = (1.0, 5.0)
    time: tuple[int, int] | None = None

    def time_bounds(self) -> tuple[int, int]:
        return self.time if self.time is not None else (TIME_MIN, int(time.time()) + DAY)

    def describe(self) -> dict:
        """The ranges as recorded in the manifest."""
        lo, hi = self.rating
        return {"rating": f"{lo:g}..{hi:g}", "timestamp": self._time_text()}

    def _time_text(self) -> str:
        if self.time is None:
            return "1990-01-01 .. one day after the time of preparation"
        if self.time == ANY_TIME:
            return "any"
        return " .. ".join(_date(t) if t % DAY == 0 and _date(t) else str(t) for t in self.time)

    def time_problem(self, label: str, shown: Any, seconds: float, hint: str = "change it with --time-range") -> str:
        date = _date(seconds)
        return f"{label} = {shown!s:.40}{f' ({date})' if date else ''} is outside the time range {self._time_text()} ({hint})"

    def rating_problem(self, label: str, value: Any) -> str:
        lo, hi = self.rating
        return f"{label} = {value!s:.40} is outside the rating range {lo:g}..{hi:g}"

    def check(self, seconds: int, rating: float, f: "ReviewFields", bounds: tuple[int, int], path: Path, line: int,
              raw_time: Any) -> None:
        """OutOfRange when a review's time (unix seconds, `bounds` from `time_bounds`) or rating is outside."""
        if not bounds[0] <= seconds <= bounds[1]:
            raise OutOfRange(path, line, self.time_problem(f"field {f.time!r}", raw_time, seconds))
        if not self.rating[0] <= rating <= self.rating[1]:
            raise OutOfRange(path, line, self.rating_problem(f"field {f.rating!r}", rating))


DEFAULT_LIMITS = Limits()


def find_first(raw_dir: Path, stems: Iterable[str], suffixes: Iterable[str] = JSON_SUFFIXES) -> Path | None:
    """The first existing `raw_dir/<stem><suffix>`, stems in order, then suffixes in order."""
    for stem in stems:
        for suffix in suffixes:
            path = Path(raw_dir) / f"{stem}{suffix}"
            if path.is_file():
                return path
    return None


def candidates(stems: Iterable[str], suffixes: Iterable[str] = JSON_SUFFIXES) -> str:
    """Human-readable list of the file names `find_first` tries, for error messages."""
    return ", ".join(f"{stem}{suffix}" for stem in stems for suffix in suffixes)


def is_gzip(path: Path) -> bool:
    """Decided by the magic bytes, not the name (a `.json.gz` that was already unpacked still reads)."""
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def iter_lines(path: Path, report: SkipReport, desc: str | None = None, keep_blank: bool = False) -> Iterator[tuple[int, str]]:
    """Yield `(line_number, text)` for each line of a plain or gzip file, 1-based, newline stripped.

    Lines that are not UTF-8 are recorded ("not utf-8") and skipped. A truncated or corrupt gzip stream
    is recorded once ("truncated gzip" / "corrupt gzip", naming the last good line) and ends the file.
    Blank lines are skipped unless `keep_blank`.
    """
    path = Path(path)
    opener = gzip.open if is_gzip(path) else open
    n = 0
    try:
        with opener(path, "rb") as f, tqdm(
            desc=desc or path.name, unit=" lines", unit_scale=True, leave=False, mininterval=1.0, disable=None
        ) as bar:
            for n, raw in enumerate(f, 1):
                if n % 65536 == 0:
                    bar.update(65536)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    report.record(DataError(path, n, f"not UTF-8 ({e.reason} at byte {e.start})"), "not utf-8")
                    continue
                text = text.rstrip("\r\n")
                if n == 1:
                    text = text.removeprefix("\ufeff")  # a byte-order mark (spreadsheet exports)
                if keep_blank or text.strip():
                    yield n, text
    except EOFError:
        report.record(DataError(path, None, f"truncated gzip file: the stream ends early; last good line {n}"), "truncated gzip")
    except (gzip.BadGzipFile, zlib.error) as e:
        report.record(DataError(path, None, f"corrupt gzip file after line {n}: {e}"), "corrupt gzip")


def required(record: dict, key: str, path: Path, line: int) -> Any:
    """`record[key]`, or a DataError when it is absent or null."""
    value = record.get(key)
    if value is None:
        raise DataError(path, line, f"missing required field {key!r}")
    return value


def as_id(value: Any, key: str, path: Path, line: int) -> str:
    """A user or item id: a non-empty string (integers are accepted and written in decimal)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(path, line, f"field {key!r} must be a string id, got {type(value).__name__} {value!r:.40}")
    text = str(value).strip()
    if not text:
        raise DataError(path, line, f"field {key!r} is empty")
    return text


def as_float(value: Any, key: str, path: Path, line: int) -> float:
    """A finite number (JSON int or float; not a string, not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(path, line, f"field {key!r} must be a finite number, got {value!r:.40}")
    return float(value)


def as_int(value: Any, key: str, path: Path, line: int) -> int:
    """An integer (a float with no fractional part is accepted)."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(path, line, f"field {key!r} must be an integer, got {value!r:.40}")
    return value


def as_text(value: Any, key: str, path: Path, line: int) -> str:
    """Optional review text: "" when absent, else a string."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DataError(path, line, f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def meta_text(value: Any) -> str | None:
    """Lenient text for metadata fields: None for absent/empty, lists joined by " ", numbers as str."""
    if value is None or value is pd.NA or isinstance(value, (bool, dict)):
        return None
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy values from parquet
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        value = " ".join(part.strip() for part in value if isinstance(part, str) and part.strip())
    elif isinstance(value, float) and not math.isfinite(value):
        return None
    text = str(value).strip()
    return text or None


_PRICE = re.compile(r"^\$?\s*(\d[\d,]*(?:\.\d+)?)$")


def parse_price(value: Any) -> float:
    """A price as float: numbers as they are, strings like "$1,299.99" parsed; ranges
    ("$5.99 - $9.99"), negatives, junk and absent values give NaN."""
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) and value >= 0 else math.nan
    if isinstance(value, str):
        match = _PRICE.match(value.strip())
        if match:
            return float(match.group(1).replace(",", ""))
    return math.nan


def category_path(value: Any) -> list[str]:
    """A category path as a list of non-empty strings (a string "a > b > c" is split on ">")."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(">")
    if not isinstance(value, (list, tuple)) and hasattr(value, "tolist"):  # numpy array from parquet
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        return []
    return [str(part).strip() for part in value if part is not None and str(part).strip()]


def first_url(*lists: Any) -> str | None:
    """The first non-empty string of the first list that has one."""
    for values in lists:
        if isinstance(values, str):
            values = [values]
        if isinstance(values, (list, tuple)):
            for value in values:
                if isinstance(value, str) and value.strip():
                    return value.strip()
    return None


_ADDRESS = re.compile(r" object at 0x[0-9a-fA-F]+>")


def has_content(path: Path) -> bool:
    """False for a file with no non-blank line (0 bytes, an empty gzip, only newlines)."""
    try:
        with (gzip.open if is_gzip(path) else open)(path, "rb") as f:
            return any(raw.strip() for raw in f)
    except (EOFError, gzip.BadGzipFile, zlib.error):
        return True  # damaged, not empty: the reader reports it with its line


def read_records(
    path: Path,
    report: SkipReport,
    parse: Callable[[str], Any],
    reason: str,
    keep: Callable[[str], bool] | None = None,
) -> Iterator[tuple[int, dict]]:
    """Yield `(line, dict)` for each line of a line-per-record file parsed with `parse`.

    A line `parse` rejects, or that is not a dict, is recorded under `reason`. `keep(text)` may reject
    a line cheaply before parsing (the meta readers skip items that have no review this way).
    """
    for line, text in iter_lines(path, report):
        if keep is not None and not keep(text):
            continue
        try:
            record = parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
            # ast.literal_eval names the offending node by its repr (`<ast.Call object at 0x7f..>`): drop the
            # address so the message, and the data card that quotes it, is the same on every run
            message = _ADDRESS.sub(">", str(e))[:120]
            report.record(DataError(path, line, f"{reason}: {type(e).__name__}: {message}"), reason)
            continue
        if not isinstance(record, dict):
            report.record(DataError(path, line, f"{reason}: expected an object, got {type(record).__name__}"), reason)
            continue
        yield line, record


def text_column(values) -> pd.Series:
    """A reviews frame's texts (review, summary) as Arrow strings: one buffer, not a Python object per row
    (memory: the texts are most of a reviews file)."""
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, pa.string())))


class ReviewBuilder:
    """Collects review rows column-wise (fast for millions of rows)."""

    def __init__(self) -> None:
        self.columns: dict[str, list] = {name: [] for name in REVIEW_COLUMNS}

    def append(self, row: tuple, line: int) -> None:
        """Add (user, item, timestamp, rating, review, summary) read from `line`."""
        for values, value in zip(self.columns.values(), row + (line,)):
            values.append(value)

    def frame(self) -> pd.DataFrame:
        c = self.columns
        return pd.DataFrame(
            {
                "user": pd.Series(c["user"], dtype=object),
                "item": pd.Series(c["item"], dtype=object),
                "timestamp": pd.Series(c["timestamp"], dtype="int64"),
                "rating": pd.Series(c["rating"], dtype="float64"),
                "review": text_column(c["review"]),
                "summary": text_column(c["summary"]),
                "line": pd.Series(c["line"], dtype="int64"),
            }
        )


@dataclass(frozen=True)
class ReviewFields:
    """The JSON keys of one release's review lines (required: user, item, time, rating); timestamps are
    divided by `time_divisor` to give seconds (2023 stores milliseconds)."""

    user: str
    item: str
    time: str
    rating: str
    review: str
    summary: str
    time_divisor: int = 1


def read_review_lines(path: Path, report: SkipReport, f: ReviewFields, limits: Limits = DEFAULT_LIMITS) -> pd.DataFrame:
    """A JSON-lines reviews file -> the REVIEW_COLUMNS frame; bad lines and fields (including times and
    ratings outside `limits`) are reported (named by file and line) or skipped under the report's policy."""
    bounds = limits.time_bounds()
    fast = read_review_frame(path, f, bounds, limits.rating, is_gzip(path), REVIEW_COLUMNS)
    if fast is not None:  # every line clean: the columnar scan's frame is this loop's, bit for bit
        return fast
    rows = ReviewBuilder()
    for line, r in read_records(path, report, json.loads, "malformed json"):
        try:
            raw_time = required(r, f.time, path, line)
            row = (
                as_id(required(r, f.user, path, line), f.user, path, line),
                as_id(required(r, f.item, path, line), f.item, path, line),
                as_int(raw_time, f.time, path, line) // f.time_divisor,
                as_float(required(r, f.rating, path, line), f.rating, path, line),
                as_text(r.get(f.review), f.review, path, line),
                as_text(r.get(f.summary), f.summary, path, line),
            )
            limits.check(row[2], row[3], f, bounds, path, line, raw_time)  # before int64: 10**30 must not wrap
        except DataError as e:
            record_field_error(report, e)
            continue
        rows.append(row, line)
    return rows.frame()


def record_field_error(report: SkipReport, error: DataError) -> None:
    """Record a field-level DataError under "missing field", "out of range" or "wrong type"."""
    if isinstance(error, OutOfRange):
        report.record(error, "out of range")
    else:
        report.record(error, "missing field" if error.message.startswith("missing required") else "wrong type")


def wanted_ids(key: str, ids: set[str], double_quoted: bool = True, single_quoted: bool = False) -> Callable[[str], bool]:
    """A cheap pre-filter for meta lines: True when the line may describe one of `ids`.

    It looks for every `"key": "value"` (json.dumps' spacing) and/or `'key': 'value'` (Python repr's)
    in the raw text; a line where the key is found but no value is wanted is dropped unparsed, a line
    where it is not found is kept (and parsed, so a malformed line still gets reported). Meta files
    hold many more items than a 5-core review file, so this saves most of the parsing.
    """
    quotes = ('"',) * double_quoted + ("'",) * single_quoted
    markers = [(f"{q}{key}{q}: {q}", q) for q in quotes]

    def keep(text: str) -> bool:
        found = False
        for marker, quote in markers:
            start = text.find(marker)
            while start >= 0:
                start += len(marker)
                end = text.find(quote, start)
                if end < 0:
                    break
                value = text[start:end]
                if value in ids or "\\" in value:  # an escaped value cannot be compared raw: parse it
                    return True
                found = True
                start = text.find(marker, end)
        return not found

    return keep


def items_frame(review_items: Iterable[str], meta: dict[str, dict]) -> pd.DataFrame:
    """One row per distinct reviewed item, in order of first review, with its meta attributes
    (None / NaN / [] when the meta file lacks the item or is absent)."""
    rows = {name: [] for name in ITEM_COLUMNS}
    for item in dict.fromkeys(review_items):
        attrs = meta.get(item, {})
        rows["item"].append(item)
        for name in ("title", "brand", "description", "image_url"):
            rows[name].append(attrs.get(name))
        rows["price"].append(attrs.get("price", math.nan))
        rows["category"].append(attrs.get("category", []))
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in rows.items()})
    frame["price"] = frame["price"].astype("float64")
    return frame


def assemble_domain(domain: str, reviews_path: Path, meta_path: Path | None, read_reviews, read_meta,
                    report: SkipReport, limits: Limits = DEFAULT_LIMITS):
    """A release's RawDomain from its readers: reviews first, then only the metadata of reviewed items.
    An empty file (often a failed download) is a problem, not a domain without data."""
    if has_content(reviews_path):
        reviews = read_reviews(reviews_path, report, limits)
    else:
        report.record(DataError(reviews_path, None, f"empty file: no reviews, so domain {domain} is left out"), "empty file")
        reviews = ReviewBuilder().frame()
    meta = {}
    if meta_path is not None and not has_content(meta_path):
        report.record(DataError(meta_path, None, f"empty file: no metadata, so the items of {domain} have no "
                                "title, category or image"), "empty file")
    elif meta_path is not None:
        meta = read_meta(meta_path, report, set(reviews["item"]))
    return RawDomain(domain=domain, reviews=reviews, items=items_frame(reviews["item"], meta),
                     reviews_file=reviews_path.name, meta_file=meta_path.name if meta_path is not None else "")


def meta_attributes(r: dict, *, brand: Any, category: list[str], image_url: str | None) -> dict:
    """The item attributes every release gives the same way (title, description, price) plus the three
    each release finds in its own place."""
    return {
        "title": meta_text(r.get("title")),
        "brand": meta_text(brand),
        "description": meta_text(r.get("description")),
        "price": parse_price(r.get("price")),
        "category": category,
        "image_url": image_url,
    }


def read_meta_records(path: Path, report: SkipReport, items: set[str] | None, *, parse, reason: str, id_key: str,
                      keep, attributes) -> dict[str, dict]:
    """raw id -> attributes(record), first row per id kept; only `items` when given. The loop every release
    shares; `parse`, `id_key` and `attributes` are what differ between releases."""
    meta: dict[str, dict] = {}
    for line, r in read_records(path, report, parse, reason, keep):
        try:
            raw_id = as_id(required(r, id_key, path, line), id_key, path, line)
        except DataError as e:
            record_field_error(report, e)
            continue
        if raw_id in meta or (items is not None and raw_id not in items):
            continue
        meta[raw_id] = attributes(r)
    return meta
