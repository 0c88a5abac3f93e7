"""prepare's fast paths give exactly what the general paths give, or step aside.

Images: `is_plain_png` accepts only PNGs that Pillow's check would keep byte for byte.

Reviews: the DuckDB scan (`benchmark.data.sources.columnar`) must return the line reader's frame bit for bit
on clean files, and None (so that the line reader names or skips the problem) on any line it cannot vouch
for. Metadata: `parse_literal` must equal `ast.literal_eval` in value, type and error.

Task sets: the work done a chunk at a time to bound memory (histories, selection negatives) gives what one
pass gives.
"""
from __future__ import annotations

import ast
import gzip
import io
import json
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from benchmark.data import images, layout, sequences
from benchmark.data.errors import SkipReport
from benchmark.data.sources import amazon2014, columnar, common
from benchmark.data.world import generate_world
from benchmark.tasks import TASKS, selection

GOOD = {"reviewerID": "A1", "asin": "B1", "overall": 5.0, "unixReviewTime": 1300000000, "reviewText": "ok",
        "summary": "fine"}


def _line_reader(path):
    """The line-by-line reader alone (the fast path switched off)."""
    fast, columnar_min = common.read_review_frame, columnar.MIN_BYTES
    common.read_review_frame = lambda *a, **k: None
    try:
        return amazon2014.read_reviews(path, SkipReport(skip_bad=True))
    finally:
        common.read_review_frame, columnar.MIN_BYTES = fast, columnar_min


def _fast(path):
    return columnar.read_review_frame(path, amazon2014.REVIEW_FIELDS, common.DEFAULT_LIMITS.time_bounds(), (1.0, 5.0),
                                      common.is_gzip(path), common.REVIEW_COLUMNS)


@pytest.fixture(autouse=True)
def every_size(monkeypatch):
    monkeypatch.setattr(columnar, "MIN_BYTES", 0)  # the fast path also for these small files


def test_fast_reviews_equal_the_line_reader_on_a_generated_world(tmp_path):
    raw = generate_world(tmp_path / "raw", scale="tiny", seed=3)
    for path in sorted(raw.glob("reviews_*.json.gz")):
        fast, slow = _fast(path), _line_reader(path)
        assert fast is not None, path.name
        assert fast.equals(slow) and list(fast.dtypes) == list(slow.dtypes), path.name
        for c in ("user", "item"):  # one Python string per distinct id, shared by its rows (memory)
            assert fast[c].map(id).nunique() == fast[c].nunique() < len(fast), path.name


@pytest.mark.parametrize("bad", [
    "",                                                   # a blank line: the line numbers would shift
    "   ",
    json.dumps({**GOOD, "reviewerID": 17}),               # an integer id (the line reader writes it in decimal)
    json.dumps({**GOOD, "reviewerID": " A2 "}),           # an id the line reader strips
    json.dumps({**GOOD, "asin": ""}),
    json.dumps({k: v for k, v in GOOD.items() if k != "overall"}),
    json.dumps({**GOOD, "overall": "5"}),
    json.dumps({**GOOD, "overall": 9.0}),                 # out of range
    json.dumps({**GOOD, "unixReviewTime": 1.3e9}),        # a float time (accepted by the line reader)
    json.dumps({**GOOD, "unixReviewTime": 10**30}),
    json.dumps({**GOOD, "reviewText": 3}),
    '{"reviewerID": "A1", "asin": "B1", "overall": NaN, "unixReviewTime": 1300000000}',
    "[1, 2]",
    "not json",
])
def test_fast_reviews_step_aside_on_any_doubtful_line(tmp_path, bad):
    lines = [json.dumps({**GOOD, "reviewerID": f"U{i}"}) for i in range(5)]
    lines.insert(2, bad)
    path = tmp_path / "reviews_Beauty_5.json.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    assert _fast(path) is None


def test_fast_reviews_keep_null_texts_and_unicode(tmp_path):
    lines = [json.dumps({**GOOD, "reviewerID": f"U{i}", "reviewText": None, "summary": "caf\u00e9 \u2603 \"q\" \\"})
             for i in range(3)] + [json.dumps({k: v for k, v in GOOD.items() if k != "summary"})]
    path = tmp_path / "reviews_Beauty_5.json"
    path.write_text("\n".join(lines))  # plain, no final newline
    fast, slow = _fast(path), _line_reader(path)
    assert fast is not None and fast.equals(slow)
    assert fast["summary"].tolist()[:1] == ["caf\u00e9 \u2603 \"q\" \\"] and fast["review"].tolist()[0] == ""


@pytest.mark.parametrize("text", [
    "{'a': True, 'b': None, 'c': [1, 2.5, -3, 1e5, 1e999], 'd': {'e': 'None of it, True'}}",
    "{'asin': 'B1', 'categories': [['Sports & Outdoors', 'Yoga']], 'price': 11.47}",
    "{'a': (1, 2)}", "{'a': NaN}", "{'a': inf}", "{'a': [1,]}", "{'a': 00}", "{'a': 'x' 'y'}", "{1: 'a'}",
    "{'a': u'x'}", "{'a': 'it''s'}", "{'a': \"it's\"}", "{'a': 'tab\\there'}", "[" * 300 + "]" * 300, "nope",
])
def test_parse_literal_is_literal_eval(text):
    def outcome(parse):
        try:
            value = parse(text)
        except Exception as e:  # the same exception type (messages hold object addresses)
            return type(e)
        return repr(value), json.dumps(value, default=repr)
    assert outcome(amazon2014.parse_literal) == outcome(ast.literal_eval)


def _png(size=8, **save):
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (10, 200, 30)).save(buf, format="PNG", **save)
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def _pillow_keeps(data: bytes, size: int) -> bool:
    """What normalize_image decided before the fast check: decodable, PNG, RGB, the size, no EXIF."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.format == "PNG" and im.mode == "RGB" and im.size == (size, size) and not im.info.get("exif")
    except Exception:
        return False


def test_plain_png_check_agrees_with_pillow(tmp_path):
    good = _png()
    head, iend = good[:-12], good[-12:]
    idat_at = good.index(b"IDAT") - 4
    broken_stream = good[:idat_at] + _chunk(b"IDAT", b"\x78\x9c\x00garbage") + iend
    cases = {"good": good, "truncated": good[:-20], "bad crc": good[:-5] + bytes([good[-5] ^ 1]) + good[-4:],
             "other size": _png(9), "text chunk": head + _chunk(b"tEXt", b"k\x00v") + iend,
             "broken stream": broken_stream, "trailing bytes": good + b"x", "not png": b"GIF89a" + good}
    for name, data in cases.items():
        fast = images.is_plain_png(data, 8)
        assert not fast or _pillow_keeps(data, 8), name  # never accepts what Pillow would not keep as is
    assert images.is_plain_png(good, 8) and not images.is_plain_png(good[:-20], 8)
    assert not images.is_plain_png(broken_stream, 8) and not images.is_plain_png(good + b"x", 8)
    path = tmp_path / "a.png"
    path.write_bytes(good)
    assert images.normalize_image(path, 8) == good
    raw = generate_world(tmp_path / "raw", scale="tiny", seed=1)
    for png in sorted((raw / "images").glob("*.png"))[:20]:  # the world's renders are all plain
        assert images.is_plain_png(png.read_bytes(), 32) and _pillow_keeps(png.read_bytes(), 32)


def test_gather_lists_by_chunks_equals_slicing(monkeypatch):
    """The task tables' lists are gathered a chunk at a time (memory): chunk boundaries change nothing."""
    rng = np.random.default_rng(3)
    values = rng.integers(0, 1000, 500).astype(np.int64)
    ends = np.sort(rng.integers(0, 500, 300))
    starts = np.maximum(0, ends - rng.integers(0, 12, 300))
    expected = [values[s:e].tolist() for s, e in zip(starts, ends)]
    for chunk in (1, 7, 300, 1 << 16):
        monkeypatch.setattr(sequences, "GATHER_CHUNK", chunk)
        got = sequences.gather_lists(values, starts, ends)
        assert got.type == pa.list_(pa.int64()) and got.to_pylist() == expected


def test_selection_negatives_by_chunks_are_the_same_draws(tmp_path, monkeypatch):
    """Selection's negatives are drawn a chunk of rows at a time (memory): the same numbers as one draw,
    so the same task set, whatever the chunk size (also with rows that run short and are drawn again)."""
    from benchmark.prepare import prepare_default

    tables = []
    for chunk in (1 << 17, 5):
        monkeypatch.setattr(selection, "NEGATIVE_CHUNK", chunk)
        out = prepare_default(out=tmp_path / f"d{chunk}", raw=tmp_path / "raw", scale="tiny")
        tables.append([pq.read_table(layout.task_path(out, "selection", s)) for s in ("train", "valid")])
    assert tables[0][0].num_rows > 5 and all(a.equals(b) for a, b in zip(*tables))


def _sha(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("rows_per_group", [1, 7, 25_000, 1 << 20])
def test_row_group_writer_gives_the_whole_tables_bytes(tmp_path, monkeypatch, rows_per_group):
    """Task sets and interaction files are written as parts arrive, cut into row groups: the bytes of
    `write_arrow` of the whole table (the layout is part of the dataset sha256), whatever the parts' sizes.
    Large enough for several data pages per column and a dictionary that falls back to plain encoding, which
    is where a row group written from several chunks would differ."""
    from benchmark.data import io as dio

    monkeypatch.setattr(dio, "ROW_GROUP_ROWS", rows_per_group)
    rng = np.random.default_rng(0)
    n = 60_000 if rows_per_group > 7 else 40
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])
    lengths = rng.integers(0, 50, n)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    whole = pa.table({
        "id": pa.array([f"t/s/{i}" for i in range(n)]),
        "text": pa.array([None if i % 9 == 0 else " ".join(rng.choice(words, rng.integers(5, 60))) for i in range(n)]),
        "user": pa.array([f"user{x}" for x in rng.integers(0, 3000, n)]),
        "history": pa.ListArray.from_arrays(offsets, pa.array(rng.integers(0, 80_000, int(lengths.sum())))).cast(
            pa.list_(pa.int64())),
        "rating": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.random(n)), from_pandas=True),
    })
    dio.write_arrow(tmp_path / "whole.parquet", whole)
    for sizes in ([n], [max(1, n // 60)] * 60, [5, 3, 4093, 0, 1, n // 3, n]):
        for deferred in (False, True):  # row groups written by `write`, or by `flush_full` after it (task sets)
            with dio.row_group_writer(tmp_path / "parts.parquet") as out:
                lo = 0
                for size in sizes:
                    out.write(whole.slice(lo, size), flush=not deferred)
                    lo += size
                    if deferred:
                        out.flush_full()
            assert _sha(tmp_path / "parts.parquet") == _sha(tmp_path / "whole.parquet"), (sizes, deferred)
    dio.write_arrow(tmp_path / "whole.parquet", whole.slice(0, 0))
    with dio.row_group_writer(tmp_path / "parts.parquet") as out:
        out.write(whole.slice(0, 0))
    assert _sha(tmp_path / "parts.parquet") == _sha(tmp_path / "whole.parquet")


def test_row_group_writer_leaves_only_its_file(tmp_path, monkeypatch):
    """The pending rows wait in a file beside the output: gone once the file is written, and after a failure
    nothing is left at all (no output, no pending rows)."""
    from benchmark.data import io as dio

    monkeypatch.setattr(dio, "ROW_GROUP_ROWS", 4)
    table = pa.table({"x": pa.array(range(10)), "s": pa.array([str(i) for i in range(10)])})
    with dio.row_group_writer(tmp_path / "out" / "a.parquet") as out:
        out.write(table.slice(0, 6))
        assert any(p.name.endswith(".pending") for p in (tmp_path / "out").iterdir())  # 2 rows wait on disk
        out.write(table.slice(6))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.parquet"]
    assert pq.read_table(tmp_path / "out" / "a.parquet").equals(table)
    assert pq.ParquetFile(tmp_path / "out" / "a.parquet").metadata.num_row_groups == 3
    with pytest.raises(RuntimeError, match="stop"):
        with dio.row_group_writer(tmp_path / "bad" / "b.parquet") as out:
            out.write(table)
            raise RuntimeError("stop")
    assert list((tmp_path / "bad").iterdir()) == []
    with dio.row_group_writer(tmp_path / "later" / "c.parquet") as out:
        out.write(table, flush=False)  # 10 rows wait, none written until `flush_full`
        assert out.writer is None and out.rows == 10
        out.flush_full()
        assert out.rows == 2 and out.writer is not None
    assert pq.read_table(tmp_path / "later" / "c.parquet").equals(table)


def test_task_parts_are_not_held_by_their_builder(tmp_path, monkeypatch):
    """A task set's part, once handed to the writer, is held by no name of the generator that made it (memory:
    else it stays alive beside the row group being joined and encoded). Checked for every task's sets."""
    import benchmark.prepare as prep
    from benchmark.tasks.base import TaskSpec
    from benchmark.tasks.selection import Selection

    held, seen = [], set()

    def checking(original):
        def build_parts(self, builder, split, ev):
            parts = original(self, builder, split, ev)
            for table in parts:
                seen.add(self.name)
                held.extend((self.name, split, name) for name, value in parts.gi_frame.f_locals.items()
                            if isinstance(value, pa.Table) or (isinstance(value, list) and any(
                                isinstance(x, pa.Table) for x in value)))
                yield table
        return build_parts

    for cls in (TaskSpec, Selection):
        monkeypatch.setattr(cls, "build_parts", checking(cls.build_parts))
    monkeypatch.setattr(prep, "TASK_WORKERS", 1)  # the sets built in this process, where the check runs
    prep.prepare_default(out=tmp_path / "d", raw=tmp_path / "raw", scale="tiny")
    assert seen == {spec.name for spec in TASKS.values() if spec.builds}
    assert held == []


def test_task_sets_and_splits_by_parts_are_the_whole_ones(tmp_path, monkeypatch):
    """Task sets are built from a part of the events at a time (selection's draws kept in one order) and the
    interaction files get their texts from the spill a part at a time (spilled a part at a time): small parts
    give every file the bytes of one part per file (row groups of 10 rows in both, so the parts also straddle
    row groups)."""
    import benchmark.prepare as prep
    from benchmark.data import io as dio
    from benchmark.data import spill
    from benchmark.tasks import builder

    monkeypatch.setattr(dio, "ROW_GROUP_ROWS", 10)
    manifests = []
    for events, rows, negatives in ((1 << 30, 1 << 30, 1 << 17), (7, 5, 3)):
        monkeypatch.setattr(spill, "SPILL_ROWS", rows)
        monkeypatch.setattr(builder, "BUILD_EVENTS", events)
        monkeypatch.setattr(prep, "INTERACTION_ROWS", rows)
        monkeypatch.setattr(selection, "NEGATIVE_CHUNK", negatives)
        out = prep.prepare_default(out=tmp_path / f"d{events}", raw=tmp_path / "raw", scale="tiny")
        manifests.append(json.loads((out / layout.MANIFEST).read_text()))
        assert pq.ParquetFile(layout.task_path(out, "selection", "train")).metadata.num_row_groups > 10
    assert manifests[0]["files"] == manifests[1]["files"] and manifests[0]["labels"] == manifests[1]["labels"]


def test_spilled_texts_come_back_in_place(tmp_path, monkeypatch):
    """The reader spills a domain's texts (and explanation targets) in the domain's sequence order, a few rows
    at a time; `gather` returns row r of domain d for any mix of rows."""
    import pandas as pd

    from benchmark.data import spill
    from benchmark.data.item_text import explanation_target

    monkeypatch.setattr(spill, "SPILL_ROWS", 7)
    rng = np.random.default_rng(1)
    frames = {}
    for d, name in enumerate(("B/ad name", "A")):
        n = 40 + d
        reviews = pd.DataFrame({"user": [f"u{x}" for x in rng.integers(0, 9, n)], "item": [f"i{x}" for x in range(n)],
                                "timestamp": rng.integers(0, 5, n), "rating": rng.random(n),
                                "review": [None if x % 4 == 0 else f"Good {x}. More." for x in range(n)],
                                "summary": [f"sum {x}" if x % 3 else None for x in range(n)]})
        keys = reviews.drop(columns=["review", "summary"]).assign(**{spill.SOURCE_ROW: np.arange(n)})
        kept = spill.spill_texts(keys.iloc[::-1], reviews, spill.spill_path(tmp_path, name))
        expected = reviews.sort_values(["user", "timestamp", "item"]).reset_index(drop=True)
        assert kept["item"].tolist() == expected["item"].tolist() and "review" not in kept
        assert kept[spill.ROW].tolist() == list(range(n))
        frames[name] = expected.fillna("")
    domains = list(frames)
    code = rng.integers(0, 2, 60)
    row = np.array([rng.integers(0, len(frames[domains[c]])) for c in code])
    for col in ("review", "summary"):
        got = spill.gather(tmp_path, domains, code, row, col).to_pylist()
        assert got == [frames[domains[c]][col].iat[r] for c, r in zip(code, row)]
    got = spill.gather(tmp_path, domains, code, row, spill.EXPLANATION).to_pylist()
    assert got == [explanation_target(frames[domains[c]]["review"].iat[r], frames[domains[c]]["summary"].iat[r])
                   for c, r in zip(code, row)]


def test_events_are_each_users_leave_last_out_rows():
    """`SplitEvents` makes its arrays in int32 a range at a time (memory): every event, whole or in ranges, is
    still the one the definition gives, user by user (train: every train row but the first, valid: the
    second-to-last row, test: the last; the history up to MAX_HISTORY rows before the target)."""
    import pandas as pd

    rng = np.random.default_rng(5)
    lens = rng.integers(1, 2 * sequences.MAX_HISTORY, 40)
    frame = pd.DataFrame({"user": pd.Categorical(np.repeat(np.arange(len(lens)), lens)), "item": np.arange(lens.sum())})
    seqs = sequences.Sequences.from_frame(frame)
    for part in ("train", "valid", "test"):
        expected = []
        for u, (s, e) in enumerate(zip(seqs.starts.tolist(), seqs.ends.tolist())):
            targets = {"train": range(s + 1, e - 2), "valid": [e - 2] if e - s >= 3 else [],
                       "test": [e - 1] if e - s >= 2 else []}[part]
            expected += [(u, t, max(s, t - sequences.MAX_HISTORY), t) for t in targets]
        split = sequences.SplitEvents(seqs, part)
        for step in (len(split) + 1, 7):  # whole, and in ranges of 7 events (as the task sets take them)
            ranges = [split.range(lo, lo + step) for lo in range(0, len(split), step)]
            got = [e for ev in ranges for e in zip(ev.user.tolist(), ev.target.tolist(), ev.hist_start.tolist(),
                                                   ev.hist_end.tolist())]
            assert got == expected and all(ev.target.dtype == np.int32 for ev in ranges), (part, step)


def test_part_masks_are_each_users_leave_last_out_rows():
    """The split files take a group's rows by a mask (memory: no copy of the split): train is every row but a
    user's last two, valid the second to last, test the last; the user counts are those of the rows kept."""
    import pandas as pd

    lens = np.array([1, 2, 3, 5, 1, 4])
    frame = pd.DataFrame({"user": pd.Categorical(np.repeat(np.arange(len(lens)), lens)), "item": np.arange(lens.sum())})
    seqs = sequences.Sequences.from_frame(frame)
    for part in ("train", "valid", "test", "all"):
        expected = []
        for s, e in zip(seqs.starts.tolist(), seqs.ends.tolist()):
            expected += {"train": list(range(s, e - 2)), "valid": [e - 2] if e - s >= 2 else [], "test": [e - 1],
                         "all": list(range(s, e))}[part]
        keep = seqs.part_mask(part)
        assert np.flatnonzero(keep).tolist() == expected, part
        assert seqs.part_users(part) == frame["user"][keep].nunique(), part
    with pytest.raises(ValueError, match="unknown part"):
        seqs.part_mask("later")


def test_known_digests_are_the_dict_they_were_made_from():
    """prepare holds its images' digests in two arrays until the manifest (memory): the same mapping as the
    dict, also for a digest that ends in zero bytes (which a fixed-width bytes array would cut)."""
    import hashlib

    from benchmark.data.manifest import KnownDigests

    digests = {f"images/{i}.png": hashlib.sha256(str(i).encode()).hexdigest() for i in range(300)}
    digests["images/zero.png"] = "ab" * 30 + "0000"
    known = KnownDigests(digests.items())
    assert dict(known) == digests and dict(known.items()) == digests and len(known) == len(digests)
    assert all(known[rel] == d for rel, d in digests.items()) and "images/none.png" not in known
    with pytest.raises(KeyError):
        known["images/none.png"]
    assert len(KnownDigests([])) == 0 and "images/0.png" not in KnownDigests([])


def test_sort_based_set_operations_equal_numpy():
    """`lexsort_ints` (one stable sort of a packed key) orders rows as `np.lexsort`, also where the keys do not
    fit in 63 bits or are negative (its fallback), and `sorted_unique` is `np.unique`, dtype included."""
    from benchmark.data.processing import lexsort_ints, sequence_order, sorted_unique

    rng = np.random.default_rng(3)
    for n, high in ((0, 5), (1, 5), (2000, 3), (2000, 10**6), (2000, 2**40)):
        keys = (rng.integers(0, high, n), rng.integers(0, 4, n).astype(np.int32), rng.integers(0, high, n))
        assert lexsort_ints(keys).tolist() == np.lexsort(keys).tolist()
        signed = (keys[0] - 2, keys[1], keys[2])
        assert lexsort_ints(signed).tolist() == np.lexsort(signed).tolist()
        times = rng.integers(0, 10**12, n)
        assert sequence_order(keys[1], times, keys[2]).tolist() == np.lexsort((keys[2], times, keys[1])).tolist()
        for values in (keys[0], keys[1], signed[0]):
            got, want = sorted_unique(values), np.unique(values)
            assert got.tolist() == want.tolist() and got.dtype == want.dtype


def test_explanation_target_is_the_first_piece_of_the_sentence_split():
    """Decision v1 cuts the review at its first sentence: the first piece `re.split(r"(?<=[.!?])\\s+", ...)`
    gives (the reader finds the cut with a faster pattern), at most 30 words, else the summary."""
    import random
    import re

    from benchmark.data.item_text import explanation_target

    def by_split(review, summary, max_words=30):
        words = re.split(r"(?<=[.!?])\s+", review.strip())[0].split() if review.strip() else []
        return " ".join((words or summary.split())[:max_words])

    rng = random.Random(0)
    alphabet = list("ab.!?,") + [" ", "\t", "\n", "\x0b", "\x1c", "\x85", "\xa0", "\u2003", "é"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 8, 40]))) for _ in range(20000)]
    texts += ["Fine. Really fine", "Wait... what?! ok", "a.b c", " . x", "?\u2003y", " ".join(["w"] * 40) + ". end"]
    for review, summary in zip(texts, texts[1:] + texts[:1]):
        assert explanation_target(review, summary) == by_split(review, summary), (review, summary)


@pytest.mark.parametrize("sizes", [(5,), (3, 0, 4, 1), (0, 6, 0), (2, 2, 2, 2)])
def test_rows_taken_chunk_by_chunk_are_arrow_take(sizes):
    """`spill.take_rows` (a take that never joins the chunks into one column) gives Arrow's `take` for rows in
    order, in any order, repeated, none; a row outside the column is an error."""
    from benchmark.data import spill

    rng = np.random.default_rng(sum(sizes))
    total = sum(sizes)
    words = [None if x % 5 == 0 else f"w{x}" * (x % 3) for x in range(total)]
    values = pa.chunked_array([pa.array(words[sum(sizes[:k]):sum(sizes[:k + 1])], pa.string())
                               for k in range(len(sizes))], pa.string())
    for rows in (np.arange(total), rng.permutation(total), rng.integers(0, total, 3 * total), np.array([], int)):
        got = spill.take_rows(values, rows)
        assert isinstance(got, pa.Array) and got.type == pa.string()
        assert got.to_pylist() == [words[r] for r in rows]
    for bad in ([total], [-1]):
        with pytest.raises(IndexError):
            spill.take_rows(values, np.array(bad))
