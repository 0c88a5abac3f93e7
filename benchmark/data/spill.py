"""The review texts of `prepare`, kept on disk instead of in its processes' memory.

The texts (review, summary and the explanation target made from them) are most of the interactions' bytes
and are read only twice: into the interaction split files and into the explanation task sets. The process that
reads a domain writes them to `<domain>.arrow` (Arrow IPC, uncompressed) in a private folder, rows sorted by
(user, time, raw item id), the domain's order within the merged sequences; the merge, order and splits carry
only the domain and the row. Writers gather a chunk of rows at a time from memory maps that are closed after
each chunk, so only the page cache (the kernel's, given back under pressure) holds the whole text.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from benchmark.data.item_text import explanation_target

TEXTS = ("review", "summary")  # the interaction columns that are spilled
EXPLANATION = "explanation"    # the explanation target, spilled beside them
ROW, DOMAIN_CODE, HAS_EXPLANATION = "text_row", "text_domain", "has_explanation"  # what the frames carry instead
SOURCE_ROW = "source_row"  # a reviews frame's row, while the dedupe and k-core run on the other columns


@contextmanager
def spill_dir(out: Path) -> Iterator[Path]:
    """A private folder beside `out` for the spilled texts, removed when the block ends, also on error (a killed
    run's is removed by `io.remove_stale_staging`, like its staging folder)."""
    folder = Path(out).parent / f".{Path(out).name}.spill-{os.getpid()}"
    if folder.exists():  # a dead process that had our pid left it
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def spill_path(folder: Path, domain: str) -> Path:
    """The file of `domain` (named by a hash: a table's domain names are any text)."""
    return Path(folder) / f"{hashlib.sha256(domain.encode()).hexdigest()[:16]}.arrow"


SPILL_ROWS = 1 << 16  # rows whose explanation targets are made and written together (memory)


def take_rows(values: pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """Row `rows[i]` of `values`, for each i, as one array, taken from each chunk separately.
    Arrow's own `ChunkedArray.take` (pyarrow 26) first joins every chunk into one array, a copy of the whole
    column for any number of rows (and, past 2 GiB of strings, an offset overflow)."""
    chunks, rows = values.chunks, np.asarray(rows, dtype=np.int64)
    starts = np.cumsum([0, *(len(c) for c in chunks)])
    if len(rows) and (rows.min() < 0 or rows.max() >= starts[-1]):
        raise IndexError(f"rows out of range: {rows.min()}..{rows.max()} of {starts[-1]}")
    which = np.searchsorted(starts, rows, side="right") - 1
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(len(chunks) + 1))
    parts = [chunks[c].take(pa.array(rows[order[bounds[c]:bounds[c + 1]]] - starts[c]))
             for c in np.flatnonzero(np.diff(bounds))]
    if not parts:
        return pa.array([], values.type)
    taken = pa.concat_arrays(parts)
    if (np.diff(order) > 0).all():  # the rows' chunks already in order (spilled rows are read in order)
        return taken
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return taken.take(pa.array(inverse))


def spill_texts(keys: pd.DataFrame, reviews: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Write the texts of `keys`' rows (row `keys[SOURCE_ROW]` of `reviews`; missing: "") and their explanation
    targets to `path`, rows in (user, timestamp, item) order; returns `keys` in that order without SOURCE_ROW,
    with each row's number in the file (ROW) and whether its explanation target is non-empty."""
    order = keys[["user", "timestamp", "item"]].reset_index(drop=True).sort_values(
        ["user", "timestamp", "item"], kind="stable").index.to_numpy()  # labels = positions
    source = keys[SOURCE_ROW].to_numpy()[order]
    texts = {col: pa.Table.from_pandas(reviews[[col]], preserve_index=False).column(0).cast(pa.string())
             for col in TEXTS}  # Python strings or Arrow ones (not copied); None and NaN are missing
    has_explanation = np.zeros(len(order), dtype=bool)
    schema = pa.schema([(name, pa.string()) for name in (*TEXTS, EXPLANATION)])
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for lo in range(0, len(order), SPILL_ROWS):
            rows = source[lo:lo + SPILL_ROWS]
            part = [pc.fill_null(take_rows(texts[col], rows), "") for col in TEXTS]
            pairs = zip(*(values.to_numpy(zero_copy_only=False).tolist() for values in part))
            part.append(pa.array([explanation_target(r, s) for r, s in pairs], pa.string()))
            has_explanation[lo:lo + SPILL_ROWS] = pc.greater(pc.binary_length(part[-1]), 0).to_numpy(zero_copy_only=False)
            writer.write_batch(pa.record_batch(part, schema=schema))
    frame = keys.take(order)  # one copy (`drop` then `take` made two)
    del frame[SOURCE_ROW]
    frame.index = pd.RangeIndex(len(frame))
    frame[ROW] = np.arange(len(frame), dtype=np.int64)
    frame[HAS_EXPLANATION] = has_explanation
    return frame


def _take_one(path: Path, column: str, rows: np.ndarray) -> pa.Array:
    """`column`'s values at `rows` of one spill file (a copy: the map is closed on return)."""
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_file(source)
        index = reader.schema.get_field_index(column)  # the batches read as they are mapped (no copy)
        batches = [reader.get_batch(i).column(index) for i in range(reader.num_record_batches)]
        return take_rows(pa.chunked_array(batches, reader.schema.field(index).type), rows)


def gather(folder: Path, domains: list[str], domain_code: np.ndarray, rows: np.ndarray, column: str) -> pa.Array:
    """(n,) string: `column` of spilled row `rows[i]` of domain `domains[domain_code[i]]`, for each i."""
    domain_code = np.asarray(domain_code)
    if len(domain_code) == 0:
        return pa.array([], pa.string())
    order = np.argsort(domain_code, kind="stable")
    codes, starts = np.unique(domain_code[order], return_index=True)
    bounds = [*starts.tolist(), len(order)]
    parts = [_take_one(spill_path(folder, domains[c]), column, np.asarray(rows)[order[bounds[j]:bounds[j + 1]]])
             for j, c in enumerate(codes.tolist())]
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return pa.concat_arrays(parts).take(pa.array(inverse))
