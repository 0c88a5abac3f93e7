"""Convert other recommendation-data formats into the plain tables `benchmark.data.sources.table` reads.

- "sequence": `user item item ...` lines (S3-Rec / P5 `sequential_data.txt`, space or tab separated),
  already in time order; the timestamp of an item is its 1-based position in the line.
- "recbole": RecBole atomic files, a tab-separated `.inter` file with a `name:type` header
  (user_id:token item_id:token rating:float timestamp:float ...) and an optional `.item` file
  (item_id:token title:token_seq categories:token_seq brand:token price:float ...). Without a
  timestamp field the timestamp is the row's 1-based position among its user's rows (file order).

`convert` writes `interactions.parquet` (+ `items.parquet`) into a folder. When the timestamps are positions,
the parquet file says so in its metadata (POSITIONS) and `prepare` takes them as an order (`--time-range any`).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import pandas as pd

from benchmark.data.errors import DataError, SkipReport
from benchmark.data.io import write_parquet
from benchmark.data.sources.common import category_path, iter_lines, meta_text, parse_price
from benchmark.data.sources.table import POSITIONS

FORMATS = ("sequence", "recbole")
RECBOLE_TYPES = ("token", "token_seq", "float", "float_seq")
# our column <- RecBole field names accepted for it, first match wins
INTER_FIELDS = {
    "user": ("user_id", "user", "uid"),
    "item": ("item_id", "item", "iid"),
    "rating": ("rating",),
    "timestamp": ("timestamp",),
    "review": ("review", "review_text", "text"),
    "summary": ("summary", "review_title"),
}
ITEM_FIELDS = {
    "item": ("item_id", "item", "iid"),
    "title": ("title",),
    "brand": ("brand",),
    "price": ("price",),
    "category": ("categories", "category"),
    "description": ("description",),
    "image_url": ("image_url", "img_url", "image"),
}


def sequence_to_table(path: Path, report: SkipReport | None = None) -> pd.DataFrame:
    """user, item, timestamp (= 1-based position in the line) for each item of each line. A line
    with no item, or a user seen on an earlier line, is a DataError (or a counted skip)."""
    path, report = Path(path), report if report is not None else SkipReport()
    users, items, positions = [], [], []
    seen: dict[str, int] = {}
    for line, text in iter_lines(path, report):
        tokens = text.split()
        if len(tokens) < 2:
            report.record(DataError(path, line, "a sequence line needs a user and at least one item"), "empty sequence")
            continue
        user = tokens[0]
        if user in seen:
            report.record(DataError(path, line, f"user {user!r} already has a sequence on line {seen[user]}"), "repeated user")
            continue
        seen[user] = line
        users.extend([user] * (len(tokens) - 1))
        items.extend(tokens[1:])
        positions.extend(range(1, len(tokens)))
    frame = pd.DataFrame(
        {"user": pd.Series(users, dtype=object), "item": pd.Series(items, dtype=object),
         "timestamp": pd.Series(positions, dtype="int64")}
    )
    frame.attrs["timestamps"] = "positions"
    return frame


def _read_atomic(path: Path, report: SkipReport) -> tuple[list[tuple[str, str]], Iterator[tuple[int, list[str]]]]:
    """(header fields as (name, type), an iterator of (line, cells)) of a RecBole atomic file; a row
    with the wrong number of fields is recorded when the iterator reaches it."""
    lines = iter_lines(path, report)
    first = next(lines, None)
    if first is None:
        raise DataError(path, None, "empty file: no header line")
    header_line, header_text = first
    fields = []
    for cell in header_text.split("\t"):
        name, _, kind = cell.strip().partition(":")
        if kind not in RECBOLE_TYPES:
            raise DataError(path, header_line, f"header field {cell.strip()!r} is not name:type with type in {RECBOLE_TYPES}")
        fields.append((name, kind))

    def rows() -> Iterator[tuple[int, list[str]]]:
        for line, text in lines:
            cells = text.split("\t")
            if len(cells) != len(fields):
                report.record(DataError(path, line, f"expected {len(fields)} tab-separated fields, found {len(cells)}"), "wrong field count")
                continue
            yield line, cells

    return fields, rows()


def _pick(fields: list[tuple[str, str]], names: tuple[str, ...]) -> int | None:
    """Index of the first field whose name is in `names` (in the order of `names`)."""
    index = {name: i for i, (name, _) in enumerate(fields)}
    return next((index[n] for n in names if n in index), None)


def _number(text: str, path: Path, line: int, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(path, line, f"field {name!r} must be a number, got {text!r:.40}")
    return value


def recbole_atomic_to_table(
    inter_path: Path, item_path: Path | None = None, report: SkipReport | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(interactions, items or None) from RecBole atomic files, in the columns `table` reads."""
    path, report = Path(inter_path), report if report is not None else SkipReport()
    fields, rows = _read_atomic(path, report)
    where = {ours: _pick(fields, names) for ours, names in INTER_FIELDS.items()}
    for ours in ("user", "item"):
        if where[ours] is None:
            raise DataError(path, 1, f"no {ours} field: expected one of {', '.join(n + ':token' for n in INTER_FIELDS[ours])}")
    out = {name: [] for name in ("user", "item", "timestamp", "rating", "review", "summary")}
    per_user: dict[str, int] = {}
    for line, cells in rows:
        user, item = cells[where["user"]].strip(), cells[where["item"]].strip()
        try:
            if not user or not item:
                raise DataError(path, line, "missing required field: empty user or item")
            rating = _number(cells[where["rating"]], path, line, "rating") if where["rating"] is not None and cells[where["rating"]].strip() else math.nan
            if where["timestamp"] is not None:
                timestamp = int(math.floor(_number(cells[where["timestamp"]], path, line, "timestamp")))
            else:  # no time field: the row's position among its user's rows, in file order
                timestamp = per_user.get(user, 0) + 1
        except DataError as e:
            report.record(e, "missing field" if e.message.startswith("missing") else "wrong type")
            continue
        per_user[user] = per_user.get(user, 0) + 1
        for name, value in (("user", user), ("item", item), ("timestamp", timestamp), ("rating", rating)):
            out[name].append(value)
        for name in ("review", "summary"):
            out[name].append(cells[where[name]] if where[name] is not None else "")
    interactions = pd.DataFrame(
        {"user": pd.Series(out["user"], dtype=object), "item": pd.Series(out["item"], dtype=object),
         "timestamp": pd.Series(out["timestamp"], dtype="int64"), "rating": pd.Series(out["rating"], dtype="float64")}
    )
    for name in ("review", "summary"):
        if where[name] is not None:
            interactions[name] = pd.Series(out[name], dtype=object)
    if where["timestamp"] is None:
        interactions.attrs["timestamps"] = "positions"
    items = _recbole_items(Path(item_path), report) if item_path is not None else None
    return interactions, items


def _recbole_items(path: Path, report: SkipReport) -> pd.DataFrame:
    fields, rows = _read_atomic(path, report)
    where = {ours: _pick(fields, names) for ours, names in ITEM_FIELDS.items()}
    if where["item"] is None:
        raise DataError(path, 1, f"no item field: expected one of {', '.join(n + ':token' for n in ITEM_FIELDS['item'])}")
    present = [name for name in ITEM_FIELDS if where[name] is not None]
    out: dict[str, list] = {name: [] for name in present}
    seen: set[str] = set()
    for line, cells in rows:
        item = cells[where["item"]].strip()
        if not item:
            report.record(DataError(path, line, "missing required field: empty item"), "missing field")
            continue
        if item in seen:  # first row of an item wins
            continue
        seen.add(item)
        for name in present:
            cell = cells[where[name]]
            if name == "item":
                value = item
            elif name == "price":
                value = parse_price(cell.strip()) if cell.strip() else math.nan
            elif name == "category":
                value = category_path(cell)
            else:
                value = meta_text(cell)
            out[name].append(value)
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in out.items()})
    if "price" in frame:
        frame["price"] = frame["price"].astype("float64")
    return frame


def _recbole_files(src: Path) -> tuple[Path, Path | None]:
    """(.inter, .item or None) from a .inter file or a folder holding exactly one .inter file."""
    if src.is_dir():
        inters = sorted(src.glob("*.inter"))
        if len(inters) != 1:
            raise DataError(src, None, f"expected exactly one .inter file in the folder, found {len(inters)}")
        src = inters[0]
    if not src.is_file():
        raise DataError(src, None, "file not found")
    item = src.with_suffix(".item")
    return src, item if item.is_file() else None


def convert(src: Path, out_dir: Path, fmt: str, report: SkipReport | None = None) -> Path:
    """Convert `src` (format `fmt`: "sequence" or "recbole") into `<out_dir>/interactions.parquet`
    (+ `items.parquet` when RecBole item data exists); returns the interactions path."""
    src, out_dir = Path(src), Path(out_dir)
    report = report if report is not None else SkipReport()
    if fmt == "sequence":
        interactions, items = sequence_to_table(src, report), None
    elif fmt == "recbole":
        interactions, items = recbole_atomic_to_table(*_recbole_files(src), report=report)
    else:
        raise ValueError(f"unknown format {fmt!r}; known: {FORMATS}")
    if interactions.empty:
        raise DataError(src, None, "no interactions to convert")
    target = out_dir / "interactions.parquet"
    # positions, not times: said in the file, so `prepare` reads them as an order without --time-range any
    write_parquet(target, interactions, POSITIONS if interactions.attrs.get("timestamps") == "positions" else None)
    if items is not None:
        write_parquet(out_dir / "items.parquet", items)
    return target
