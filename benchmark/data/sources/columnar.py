"""The fast path of the JSON-lines review readers: one DuckDB scan of the file, every check vectorised.

It returns exactly the frame the line-by-line reader (`common.read_review_lines`) would return, or None
whenever any line might need that reader's handling (a blank or malformed line, a field of another JSON
type, a missing value, an id with surrounding spaces, a value out of range, a file that is not UTF-8 ...):
the line-by-line reader then reads the file again and reports the problem with its file and line, or
skips it under --skip-bad, as before. Clean files (the common case) never reach the Python loop.

DuckDB rather than Polars: both parse JSON lines in C, but only DuckDB tells the JSON type of each value
(`json_type`), so the checks are the line-by-line reader's own (a number is not silently cast to an id).
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from benchmark.data.memory import release_freed_memory

_IDS = ("VARCHAR",)
_INTS = ("UBIGINT", "BIGINT")
_NUMBERS = ("DOUBLE", "UBIGINT", "BIGINT")
_TEXT = ("VARCHAR", "NULL")  # absent or JSON null: ""
MIN_BYTES = 1 << 18  # smaller files: the line reader is as fast (a DuckDB connection costs ~50 ms)
_PLAIN_ENDS = r"^[!-~]$|^[!-~].*[!-~]$"  # printable ASCII, not a space, at both ends: nothing to strip


SCAN_BATCH = 1 << 16  # rows per batch of the scan
MAX_LINE = 1 << 24  # DuckDB's default; its read buffers grow with it (a longer line: the line reader's)
VALUES = ("user", "item", "timestamp", "rating", "review", "summary")  # the scan's columns kept (not the types)


def _typed_right(batch: pa.RecordBatch) -> bool:
    """Every value of the batch has the JSON type its field needs (and is present where required)."""
    col = batch.column
    return all(col(c).null_count == 0 and pc.all(pc.is_in(col(c), pa.array(allowed))).as_py() is True
               for c, allowed in (("tu", _IDS), ("ti", _IDS), ("tt", _INTS), ("tr", _NUMBERS), ("tx", _TEXT),
                                  ("ts", _TEXT)))


def _count_lines(path: Path, gzipped: bool) -> int | None:
    """Lines of the file as the line reader numbers them (None: not readable to the end). DuckDB skips
    blank lines, so a count that differs from its rows sends the file to the line reader."""
    n, last = 0, b"\n"
    try:
        with (gzip.open if gzipped else open)(path, "rb") as f:
            while block := f.read(1 << 24):
                n += block.count(b"\n")
                last = block[-1:]
    except (OSError, EOFError, zlib.error):
        return None
    return n + (last != b"\n")


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _shared_strings(values: pa.ChunkedArray) -> np.ndarray:
    """The values as an object array of Python strings, one string per distinct value that its rows share
    (memory: an id repeats on many rows, and a string per row costs about 60 bytes a row)."""
    coded = values.combine_chunks().dictionary_encode()
    return coded.dictionary.to_numpy(zero_copy_only=False)[coded.indices.to_numpy()]


def read_review_frame(path: Path, fields, bounds: tuple[int, int], rating: tuple[float, float],
                      gzipped: bool, columns: tuple[str, ...]) -> pd.DataFrame | None:
    """The reviews of a JSON-lines file when every line passes every check, else None (see module doc)."""
    if path.stat().st_size < MIN_BYTES:
        return None
    keys = (fields.user, fields.item, fields.time, fields.rating, fields.review, fields.summary)
    if len(set(keys)) != len(keys):
        return None
    n_lines = _count_lines(path, gzipped)
    if not n_lines:
        return None
    spec = ", ".join(f"{_sql_string(k)}: 'JSON'" for k in keys)
    u, i, t, r, x, s = (f'"{k}"' for k in keys)
    query = f"""
        SELECT json_type({u}) AS tu, json_type({i}) AS ti, json_type({t}) AS tt, json_type({r}) AS tr,
               coalesce(json_type({x}), 'NULL') AS tx, coalesce(json_type({s}), 'NULL') AS ts,
               {u}->>'$' AS user, {i}->>'$' AS item, try_cast({t} AS BIGINT) AS timestamp,
               try_cast({r} AS DOUBLE) AS rating, coalesce({x}->>'$', '') AS review, coalesce({s}->>'$', '') AS summary
        FROM read_json({_sql_string(str(path))}, format = 'newline_delimited', columns = {{{spec}}},
                       compression = '{"gzip" if gzipped else "none"}', maximum_object_size = {MAX_LINE})"""
    try:
        con = duckdb.connect(config={"threads": 1, "preserve_insertion_order": True})
        try:  # streamed a batch at a time, each checked and its JSON types dropped (memory: never the whole scan)
            batches = []
            for batch in con.sql(query).to_arrow_reader(SCAN_BATCH):
                if batch.num_rows and not _typed_right(batch):
                    return None
                # copied out of DuckDB's memory, where a batch's columns (its JSON types too) live until all go
                batches.append(pa.record_batch([pa.concat_arrays([batch.column(c)]) for c in VALUES], names=list(VALUES)))
                del batch
            if not batches:
                return None
            table = pa.Table.from_batches(batches)
            del batches
        finally:
            con.close()
    except (duckdb.Error, UnicodeError):
        return None
    release_freed_memory()  # what the scan freed (DuckDB's buffers), before the frame is made
    if table.num_rows != n_lines:  # a blank line (skipped)
        return None
    col = table.column
    if col("timestamp").null_count or col("rating").null_count:
        return None
    for c in ("user", "item"):  # ids are stripped (or refused when empty) by the line reader: let it do so
        unsure = pc.invert(pc.match_substring_regex(col(c), _PLAIN_ENDS))
        if any(not v or v != v.strip() for v in col(c).filter(unsure).to_pylist()):
            return None
    timestamp = col("timestamp").to_numpy() // fields.time_divisor
    rate = col("rating").to_numpy()
    if not (np.isfinite(rate).all() and (timestamp >= bounds[0]).all() and (timestamp <= bounds[1]).all()
            and (rate >= rating[0]).all() and (rate <= rating[1]).all()):
        return None
    out = {"timestamp": pd.Series(timestamp, dtype="int64"), "rating": pd.Series(rate, dtype="float64"),
           "line": pd.Series(np.arange(1, n_lines + 1), dtype="int64")}
    for c in ("user", "item"):
        out[c] = pd.Series(_shared_strings(col(c)), dtype=object)
    for c in ("review", "summary"):  # the scan's own Arrow strings, as the line reader's (`common.text_column`)
        out[c] = pd.Series(pd.arrays.ArrowExtensionArray(col(c).cast(pa.string())))
    del table, col  # the checks' columns go; the texts' buffers stay, held by the frame
    frame = pd.DataFrame({c: out[c] for c in columns})
    del out
    release_freed_memory()  # the checks' and conversions' arrays (about 0.2 GiB for 1.4 M reviews), before the caller's work
    return frame
