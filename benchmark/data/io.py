"""Atomic, deterministic file writing and hashing, and staged folders: the one place for it."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.data.memory import release_freed_memory


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; outputs are meant to be shared and served
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# A folder is built in a hidden sibling named after it and the building process, `.<name>.partial-<pid>`,
# and renamed into place when complete; a replaced folder is first renamed aside to `.<name>.replaced-<pid>`;
# `prepare` keeps its review texts in `.<name>.spill-<pid>` meanwhile (benchmark.data.spill).
_STAGING = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|replaced|spill)-(?P<pid>[0-9]{1,9})$")


@contextmanager
def staged_dir(final: str | Path, replace: bool = False, resume_from: Path | None = None,
               keep_on_interrupt: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder beside `final`; when the block succeeds it becomes `final`, else it is
    removed. An existing `final` is an error unless `replace`: then it is renamed aside, the new folder renamed
    into place, and only then the old one removed, so `final` always names a complete folder.
    `resume_from`: the staging folder of a dead process, taken over (renamed to ours) instead of a new one.
    `keep_on_interrupt`: Ctrl-C leaves the staging folder (resumable work), as a kill would."""
    final = Path(final)
    stage = final.parent / f".{final.name}.partial-{os.getpid()}"
    aside = final.parent / f".{final.name}.replaced-{os.getpid()}"
    for leftover in (stage, aside):  # a dead process that had our pid left them: ours
        if leftover.exists():
            shutil.rmtree(leftover)
    if resume_from is not None:
        os.replace(resume_from, stage)
    else:
        stage.mkdir(parents=True)
    interrupted = False
    try:
        try:
            yield stage
        except KeyboardInterrupt:
            interrupted = keep_on_interrupt
            raise
        if os.path.lexists(final):
            if not replace:
                raise FileExistsError(f"{final} appeared while it was being built; the new one was discarded")
            os.replace(final, aside)
            try:
                os.replace(stage, final)
            except BaseException:
                os.replace(aside, final)
                raise
            shutil.rmtree(aside)
        else:
            os.replace(stage, final)
    finally:
        if stage.exists() and not interrupted:
            shutil.rmtree(stage)


def process_exists(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate it on Windows: never call a folder stale there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # someone else's process (or no pid we can test): keep its folder
        return True
    return True


def remove_stale_staging(parent: str | Path, name: str | None = None, keep_marker: str | None = None) -> list[Path]:
    """Remove the staging folders in `parent` (of the folder `name` only, when given) whose process is gone,
    printing each; folders of live processes are kept. A folder renamed aside for a replacement that never
    happened is renamed back when its original name is free. A staging folder holding the file `keep_marker`
    is the resumable work of a killed process: kept, and said so, never removed here."""
    parent, done = Path(parent), []
    if not parent.is_dir():
        return done
    for path in sorted(parent.iterdir()):
        m = _STAGING.match(path.name)
        if (not m or (name is not None and m["name"] != name) or path.is_symlink() or not path.is_dir()
                or process_exists(int(m["pid"]))):
            continue
        original = parent / m["name"]
        if keep_marker is not None and m["kind"] == "partial" and (path / keep_marker).is_file():
            print(f"kept {path}: a killed run (process {m['pid']} is gone); continue it with `unimp-bench run "
                  f"--resume {m['name']} --out {parent}`, or delete the folder")
            continue
        if m["kind"] == "replaced" and not os.path.lexists(original):
            os.replace(path, original)
            print(f"restored {original} from {path} (process {m['pid']} is gone)")
        else:
            shutil.rmtree(path)
            print(f"removed stale staging folder {path} (process {m['pid']} is gone)")
        done.append(path)
    return done


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj) -> None:
    """Stable JSON: sorted keys, 2-space indent, trailing newline (byte-identical for equal objects)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_jsonl(path: str | Path, rows) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")


def write_parquet(path: str | Path, df, metadata: dict | None = None) -> None:
    """Parquet without pandas' index and without the writer's creation metadata, so equal frames give
    byte-identical files."""
    write_arrow(path, pa.Table.from_pandas(df, preserve_index=False), metadata)


PARQUET_OPTIONS = {"compression": "zstd", "write_statistics": False}
ROW_GROUP_ROWS = 1 << 20  # rows per Parquet row group: pyarrow's default, so part of every file's bytes


def write_arrow(path: str | Path, table, metadata: dict | None = None) -> None:
    """A pyarrow Table as Parquet, schema metadata dropped (or replaced by `metadata`) so output bytes
    depend only on the data."""
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(metadata), tmp, row_group_size=ROW_GROUP_ROWS,
                       **PARQUET_OPTIONS)


class RowGroupWriter:
    """A Parquet file written from tables as they come (any sizes), cut into row groups of ROW_GROUP_ROWS rows:
    the bytes `write_arrow` gives their concatenation. The rows not yet written wait in an Arrow IPC file beside
    the output (`<tmp>.pending`, removed on close), and a row group is joined from it a column at a time through a
    memory map closed after each column: only the row group being written is in memory (measured at 4x paper
    scale: a task worker held its pending rows, 0.4 GiB, on top of the row group being joined and encoded)."""

    def __init__(self, path: Path):
        self.path, self.writer, self.rows = Path(path), None, 0
        self.spool, self.spool_writer, self.schema = self.path.with_name(self.path.name + ".pending"), None, None
        self.tail = self.spool.with_name(self.spool.name + ".tail")  # the next group's first rows, while they move

    def write(self, table: pa.Table, flush: bool = True) -> None:
        """Add `table`'s rows; with `flush` False the whole row groups are written only by `flush_full`, which the
        caller calls once it holds `table` no more (memory: the table is not alive beside the group joined)."""
        table = table.replace_schema_metadata(None)
        if self.spool_writer is None:
            self.schema = table.schema
            self.spool_writer = pa.ipc.new_file(str(self.spool), table.schema)
        self.spool_writer.write_table(table)
        self.rows += table.num_rows
        if flush:
            self.flush_full()

    def flush_full(self) -> None:
        """Write every whole row group of the rows waiting."""
        while self.rows >= ROW_GROUP_ROWS:
            self._flush(ROW_GROUP_ROWS)

    def _pending(self, fn):
        """fn(the pending rows as a table over a memory map of the spool), the map closed on return."""
        with pa.memory_map(str(self.spool)) as source:
            return fn(pa.ipc.open_file(source).read_all())

    def _flush(self, rows: int) -> None:
        if self.spool_writer is None:
            raise ValueError(f"{self.path}: no table was written (not even an empty one, which gives the schema)")
        self.spool_writer.close()
        release_freed_memory()  # what the tables written so far left in the pools, before the group is joined
        # one array per column (the writer cuts its pages by the arrays' chunks: one chunk, as a whole table has),
        # each copied out of the map before it is closed
        group = pa.table({name: self._pending(lambda t, name=name: _joined(t.column(name).slice(0, rows)))
                          for name in self.schema.names}, schema=self.schema)
        self.rows -= rows
        self.spool_writer = pa.ipc.new_file(str(self.tail), self.schema)  # the rows past this group wait for the next
        self._pending(lambda t: self.spool_writer.write_table(t.slice(rows)))
        os.replace(self.tail, self.spool)  # the open writer goes on writing the same file
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, group.schema, **PARQUET_OPTIONS)
        self.writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
        del group
        # the pools keep what the joined columns and the encoding freed (measured at 4x paper scale: a task worker
        # held 1.6-1.7 GiB between row groups, 1.0 GiB once it was handed back)
        release_freed_memory()

    def close(self) -> None:
        if self.rows or self.writer is None:  # the last group (a file of no rows: as write_arrow writes it)
            self._flush(self.rows)
        self.writer.close()
        self.discard()

    def discard(self) -> None:
        """Remove the pending rows' file (done on close; after a failure, the caller's)."""
        if self.spool_writer is not None:
            self.spool_writer.close()
            self.spool_writer = None
        for path in (self.spool, self.tail):
            path.unlink(missing_ok=True)


def _joined(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array in memory (a copy even of a single chunk: the chunks are in a memory map)."""
    return pa.concat_arrays(column.chunks) if column.num_chunks else pa.array([], column.type)


@contextmanager
def row_group_writer(path: str | Path) -> Iterator[RowGroupWriter]:
    """A `RowGroupWriter` onto `path`, written atomically: the file appears only if the block succeeds."""
    with atomic_path(path) as tmp:
        writer = RowGroupWriter(tmp)
        try:
            yield writer
            writer.close()
        except BaseException:
            if writer.writer is not None:
                writer.writer.close()  # the file is removed with the temporary path
            raise
        finally:
            writer.discard()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
