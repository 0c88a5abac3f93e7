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
from benchmark.tasks import selection

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
