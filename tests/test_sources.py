"""Release readers on real sample records (2014 Grocery head, 2018 All_Beauty head; tests/data) and hand-made lines."""
from __future__ import annotations

import gzip
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmark.data.errors import DataError, SkipReport
from benchmark.data.sources import amazon2014, amazon2018, amazon2023
from benchmark.data.sources.common import parse_price
from benchmark.data.sources.table import load_table

SAMPLES = Path(__file__).resolve().parent / "data"  # real release records; sources in data/README.md
HEAD_2014 = SAMPLES / "amazon2014" / "reviews_Grocery_and_Gourmet_Food_5.head.json"
BEAUTY_2018 = SAMPLES / "amazon2018" / "All_Beauty_5.head1000.json.gz"  # the release file's first 1,000 lines
GROCERY = "Grocery_and_Gourmet_Food"

# 2014 meta: Python literal dicts, as the release writes them (repr of a dict, single quotes).
META_2014 = [
    "{'asin': '616719923X', 'title': 'Green Tea Kit Kat', 'price': 12.5, 'imUrl': 'http://ecx.images-amazon.com/images/I/51a.jpg', "
    "'related': {'also_bought': ['B00004S1C5']}, 'salesRank': {'Grocery & Gourmet Food': 3}, "
    "'categories': [['Grocery & Gourmet Food', 'Candy'], ['Grocery & Gourmet Food', 'Candy & Chocolate', 'Chocolate'], ['a', 'b', 'c']]}",
    "{'asin': '616719923X', 'title': 'a later duplicate row'}",
    "{'asin': '9742356831', 'title': \"Mae Ploy 'Green' Curry\", 'brand': 'Mae Ploy', 'description': 'Authentic.', 'categories': [['Grocery & Gourmet Food']]}",
    "{'asin': 'UNREVIEWED', 'title': this line is never parsed: its item has no review}",
]


def gz(path: Path, lines: list[str] | bytes) -> Path:
    data = lines if isinstance(lines, bytes) else "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


@pytest.fixture
def raw2014(tmp_path):
    gz(tmp_path / f"reviews_{GROCERY}_5.json.gz", HEAD_2014.read_bytes())
    gz(tmp_path / f"meta_{GROCERY}.json.gz", META_2014)
    return tmp_path


# ---------------------------------------------------------------------------------------- 2014

def test_2014_reviews_from_the_real_head(raw2014):
    raw = amazon2014.load_domain(raw2014, GROCERY, SkipReport())
    r = raw.reviews
    assert list(r.columns) == ["user", "item", "timestamp", "rating", "review", "summary", "line"]
    assert len(r) == 111 and list(r["line"]) == list(range(1, 112))
    assert r.iloc[0][["user", "item", "timestamp", "rating", "summary"]].tolist() == [
        "A1VEELTKS8NLZB", "616719923X", 1370044800, 4.0, "Good Taste"]
    assert r.iloc[-1][["user", "item", "timestamp", "rating"]].tolist() == ["A3MMJEMXBJOJ8H", "B0000CFLIL", 1390953600, 5.0]
    assert r["timestamp"].dtype == "int64" and r["rating"].dtype == "float64"
    assert (raw.reviews_file, raw.meta_file) == (f"reviews_{GROCERY}_5.json.gz", f"meta_{GROCERY}.json.gz")


def test_2014_meta_literal_dicts(raw2014):
    items = amazon2014.load_domain(raw2014, GROCERY, SkipReport()).items.set_index("item")
    assert len(items) == 15  # distinct asins in the 111 head lines
    kitkat = items.loc["616719923X"]
    assert kitkat["title"] == "Green Tea Kit Kat"  # the first of two meta rows
    assert kitkat["price"] == 12.5 and kitkat["image_url"].endswith("/51a.jpg")
    # longest path; the two 3-long ones tie and the first wins
    assert kitkat["category"] == ["Grocery & Gourmet Food", "Candy & Chocolate", "Chocolate"]
    curry = items.loc["9742356831"]
    assert (curry["title"], curry["brand"], curry["description"]) == ("Mae Ploy 'Green' Curry", "Mae Ploy", "Authentic.")
    assert math.isnan(curry["price"]) and curry["image_url"] is None
    bare = items.loc["B0000CFLIL"]  # reviewed, absent from meta: id only
    assert bare["title"] is None and bare["category"] == [] and math.isnan(bare["price"])


def test_2014_meta_is_never_evaluated(raw2014):
    gz(raw2014 / f"meta_{GROCERY}.json.gz", ["{'asin': '616719923X', 'title': __import__('os').getcwd()}"])
    with pytest.raises(DataError, match=rf"meta_{GROCERY}.json.gz:1: malformed literal"):
        amazon2014.load_domain(raw2014, GROCERY, SkipReport())


def test_2014_find_files_variants_and_missing(tmp_path):
    with pytest.raises(DataError, match=rf"reviews_{GROCERY}_5.json.gz, reviews_{GROCERY}_5.json, "):
        amazon2014.find_files(tmp_path, GROCERY)
    shutil.copy(HEAD_2014, tmp_path / f"reviews_{GROCERY}_5.jsonl")  # plain, .jsonl
    assert amazon2014.find_files(tmp_path, GROCERY) == (tmp_path / f"reviews_{GROCERY}_5.jsonl", None)
    raw = amazon2014.load_domain(tmp_path, GROCERY, SkipReport())
    assert len(raw.reviews) == 111 and raw.meta_file == "" and raw.items["title"].isna().all()


BAD_LINES = {  # reason -> the bytes of line 3
    "malformed json": b'{"reviewerID": "U", "asin": ',
    "missing field": b'{"reviewerID": "U", "overall": 4.0, "unixReviewTime": 1}',
    "wrong type": b'{"reviewerID": "U", "asin": "I", "overall": "abc", "unixReviewTime": 1}',
    "not utf-8": b'{"reviewerID": "U\xff\xfe", "asin": "I", "overall": 4.0, "unixReviewTime": 1}',
}


@pytest.mark.parametrize("reason", sorted(BAD_LINES))
def test_bad_review_line_named_or_skipped(tmp_path, reason):
    lines = HEAD_2014.read_bytes().splitlines()[:5]
    lines[2] = BAD_LINES[reason]
    path = gz(tmp_path / f"reviews_{GROCERY}_5.json.gz", b"\n".join(lines) + b"\n")
    with pytest.raises(DataError) as error:
        amazon2014.load_domain(tmp_path, GROCERY, SkipReport())
    assert f"reviews_{GROCERY}_5.json.gz:3:" in str(error.value)
    report = SkipReport(skip_bad=True)
    raw = amazon2014.load_domain(tmp_path, GROCERY, report)
    assert list(raw.reviews["line"]) == [1, 2, 4, 5]
    assert dict(report.counts) == {(str(path), reason): 1}


def test_truncated_gzip_names_last_good_line(tmp_path):
    data = gzip.compress(HEAD_2014.read_bytes(), mtime=0)
    path = tmp_path / f"reviews_{GROCERY}_5.json.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"truncated gzip file: the stream ends early; last good line \d+") as error:
        amazon2014.load_domain(tmp_path, GROCERY, SkipReport())
    assert path.name in str(error.value)
    last_good = int(str(error.value).rsplit(" ", 1)[1])
    report = SkipReport(skip_bad=True)
    raw = amazon2014.load_domain(tmp_path, GROCERY, report)
    assert 0 < last_good < 111 and len(raw.reviews) == last_good  # every line read before the cut is whole
    assert report.total == 1


# ---------------------------------------------------------------------------------------- 2018

def test_2018_all_beauty_keeps_duplicate_reviews(tmp_path):
    shutil.copy(BEAUTY_2018, tmp_path / "All_Beauty_5.json.gz")
    raw = amazon2018.load_domain(tmp_path, "Beauty", SkipReport())
    r = raw.reviews
    assert len(r) == 1000 and raw.reviews_file == "All_Beauty_5.json.gz"
    # count the repeated (user, item) pairs independently of the loader
    with gzip.open(BEAUTY_2018, "rt") as f:
        pairs = [(rec["reviewerID"], rec["asin"]) for rec in map(json.loads, f)]
    repeats = len(pairs) - len(set(pairs))
    assert repeats == 12
    assert r.duplicated(["user", "item"]).sum() == repeats
    pair = r[(r["user"] == "A3E5V5TSTAY3R9") & (r["item"] == "B0006O10P4")]  # one review written five times
    assert list(pair["line"]) == [491, 492, 493, 494, 495]
    assert list(pair["timestamp"]) == [1388102400] * 4 + [1381622400]
    assert r.iloc[0][["user", "item", "rating", "timestamp", "summary"]].tolist() == [
        "A3CIUOJXQ5VDQ2", "B0000530HU", 5.0, 1472688000, "Five Stars"]
    assert len(raw.items) == r["item"].nunique() and raw.meta_file == ""


def test_2018_meta(tmp_path):
    reviews = [json.dumps({"reviewerID": "U1", "asin": a, "overall": 5.0, "unixReviewTime": 1300000000 + i}) for i, a in enumerate("ABCDE")]
    gz(tmp_path / "Office_Products_5.json.gz", reviews)
    meta = [
        {"asin": "A", "title": "Stapler", "brand": "Swingline", "price": "$12.99", "category": ["Office Products", "Staplers"],
         "description": ["Heavy", "duty."], "imageURL": ["http://x/small.jpg"], "imageURLHighRes": ["http://x/big.jpg"]},
        {"asin": "A", "title": "duplicate row"},
        {"asin": "B", "price": "$5.99 - $9.99", "imageURL": ["http://x/b.jpg"], "imageURLHighRes": []},
        {"asin": "C", "price": ".a-box-inner{background-color:#fff}"},
        {"asin": "D", "price": "$1,299.00", "category": []},
    ]
    gz(tmp_path / "meta_Office_Products.json.gz", [json.dumps(m) for m in meta])
    items = amazon2018.load_domain(tmp_path, "Office_Products", SkipReport()).items.set_index("item")
    a = items.loc["A"]
    assert (a["title"], a["brand"], a["price"], a["description"], a["image_url"]) == (
        "Stapler", "Swingline", 12.99, "Heavy duty.", "http://x/big.jpg")
    assert a["category"] == ["Office Products", "Staplers"]
    assert items.loc["B", "image_url"] == "http://x/b.jpg" and math.isnan(items.loc["B", "price"])
    assert math.isnan(items.loc["C", "price"]) and items.loc["D", "price"] == 1299.0
    assert items.loc["E", "title"] is None  # no meta row


def test_2018_has_no_baby():
    with pytest.raises(DataError, match="2018 release has no Baby domain"):
        amazon2018.find_files(Path("/nonexistent"), "Baby")


def test_parse_price():
    assert parse_price("$12.99") == 12.99 and parse_price(" 3 ") == 3.0 and parse_price(4) == 4.0
    for junk in ("$5.99 - $9.99", "", "free", None, -1.0, float("inf"), True):
        assert math.isnan(parse_price(junk))


# ---------------------------------------------------------------------------------------- 2023

def test_2023_parent_asin_and_milliseconds(tmp_path):
    reviews = [
        {"rating": 4.0, "title": "Nice", "text": "Soft.", "asin": "V1", "parent_asin": "P1", "user_id": "U1", "timestamp": 1588615855070},
        {"rating": 2.0, "title": "Meh", "text": "", "asin": "V2", "parent_asin": "P1", "user_id": "U2", "timestamp": 1588615855999},
        {"rating": 5.0, "asin": "V3", "parent_asin": "P2", "user_id": "U1", "timestamp": 1600000000000},
    ]
    (tmp_path / "All_Beauty.jsonl").write_text("".join(json.dumps(r) + "\n" for r in reviews))  # Beauty's fallback name
    meta = [
        {"parent_asin": "P1", "title": "Towel", "store": "Acme", "details": {"Brand": "AcmeBrand"}, "price": None,
         "categories": [], "main_category": "All Beauty", "description": ["Big", "towel"],
         "images": [{"thumb": "http://t", "large": "http://l", "hi_res": None, "variant": "MAIN"}]},
        {"parent_asin": "P2", "title": "Brush", "store": "Acme", "price": 7.5, "categories": ["Beauty", "Tools"], "images": []},
    ]
    gz(tmp_path / "meta_All_Beauty.jsonl.gz", [json.dumps(m) for m in meta])
    raw = amazon2023.load_domain(tmp_path, "Beauty", SkipReport())
    r = raw.reviews
    assert list(r["item"]) == ["P1", "P1", "P2"]
    assert list(r["timestamp"]) == [1588615855, 1588615855, 1600000000]
    assert list(r["review"]) == ["Soft.", "", ""] and list(r["summary"]) == ["Nice", "Meh", ""]
    items = raw.items.set_index("item")
    p1, p2 = items.loc["P1"], items.loc["P2"]
    assert (p1["brand"], p1["category"], p1["image_url"], p1["description"]) == ("AcmeBrand", ["All Beauty"], "http://l", "Big towel")
    assert math.isnan(p1["price"])
    assert (p2["brand"], p2["price"], p2["category"], p2["image_url"]) == ("Acme", 7.5, ["Beauty", "Tools"], None)


def test_2023_missing_parent_asin(tmp_path):
    (tmp_path / "Baby_Products.jsonl").write_text(json.dumps({"rating": 4.0, "asin": "V", "user_id": "U", "timestamp": 1}) + "\n")
    with pytest.raises(DataError, match=r"Baby_Products.jsonl:1: missing required field 'parent_asin'"):
        amazon2023.load_domain(tmp_path, "Baby", SkipReport())
    with pytest.raises(DataError, match="Toys_and_Games.jsonl.gz"):
        amazon2023.find_files(tmp_path, "Toys_and_Games")


# ---------------------------------------------------------------------------------------- table

CSV = """user,item,timestamp,rating,review,domain
u1,i1,1300000100,5,"great, really",Baby
u1,i2,1300000200,,"two
lines",Baby
u2,i1,2014-05-19T00:00:00,3,ok,Toys_and_Games
"""


def test_table_csv_tsv_parquet(tmp_path):
    csv_path = tmp_path / "inter.csv"
    csv_path.write_text(CSV)
    out = load_table(csv_path)
    assert sorted(out) == ["Baby", "Toys_and_Games"]
    baby = out["Baby"].reviews
    assert list(baby["item"]) == ["i1", "i2"] and list(baby["timestamp"]) == [1300000100, 1300000200]
    assert baby["rating"].iloc[0] == 5.0 and math.isnan(baby["rating"].iloc[1])
    assert list(baby["review"]) == ["great, really", "two\nlines"] and list(baby["line"]) == [2, 3]  # where each starts
    toys = out["Toys_and_Games"].reviews
    assert list(toys["timestamp"]) == [1400457600] and list(toys["line"]) == [5]  # 2014-05-19 UTC
    assert list(out["Baby"].items["item"]) == ["i1", "i2"]

    tsv = tmp_path / "inter.tsv"
    tsv.write_text("user\titem\ttimestamp\nA\t0001\t1300000005\nA\t0002\t1300000006\n")
    (only,) = load_table(tsv, default_domain="Office_Products").values()
    assert only.domain == "Office_Products" and list(only.reviews["item"]) == ["0001", "0002"]  # ids stay strings
    assert only.reviews["rating"].isna().all() and list(only.reviews["summary"]) == ["", ""]

    pq = tmp_path / "inter.parquet"
    pd.DataFrame({"user": [7, 8], "item": ["x", "y"], "timestamp": [1300000001.9, 1300000003.0], "rating": [1, 2]}).to_parquet(pq)
    (beauty,) = load_table(pq).values()
    assert beauty.domain == "Beauty" and list(beauty.reviews["user"]) == ["7", "8"]
    assert list(beauty.reviews["timestamp"]) == [1300000001, 1300000003] and list(beauty.reviews["line"]) == [1, 2]
    when = pd.to_datetime(["2014-05-19T00:00:00+02:00"])  # a Parquet timestamp column
    pd.DataFrame({"user": ["u"], "item": ["i"], "timestamp": when}).to_parquet(pq)
    assert list(load_table(pq)["Beauty"].reviews["timestamp"]) == [1400457600 - 7200]


def test_table_items(tmp_path):
    inter = tmp_path / "inter.csv"
    inter.write_text("user,item,timestamp\nu,a,1300000001\nu,b,1300000002\nu,c,1300000003\n")
    items = tmp_path / "items.jsonl"
    items.write_text(
        json.dumps({"item": "a", "title": "Pen", "price": "$2.50", "category": "Office > Pens > Gel"}) + "\n"
        + json.dumps({"item": "b", "brand": "Bic", "category": ["Office", "Paper"], "image_url": "img/b.png"}) + "\n"
        + json.dumps({"item": "a", "title": "duplicate"}) + "\n"
        + json.dumps({"item": "z", "title": "no interactions"}) + "\n"
    )
    got = load_table(inter, items)["Beauty"].items.set_index("item")
    assert list(got.index) == ["a", "b", "c"]
    assert (got.loc["a", "title"], got.loc["a", "price"], got.loc["a", "category"]) == ("Pen", 2.5, ["Office", "Pens", "Gel"])
    assert (got.loc["b", "brand"], got.loc["b", "category"], got.loc["b", "image_url"]) == ("Bic", ["Office", "Paper"], "img/b.png")
    assert got.loc["c", "title"] is None


def test_table_errors(tmp_path):
    path = tmp_path / "inter.csv"
    path.write_text("user,item,rating\nu,i,5\n")
    with pytest.raises(DataError, match=r"inter.csv: missing required column 'timestamp'"):
        load_table(path)
    path.write_text("user,item,timestamp,rating\nu,i,1300000001,5\nu,j,yesterday,4\nu,k,1300000003,abc\nu,,1300000004,1\n"
                    "u,m,1300000005,1,extra\n")
    with pytest.raises(DataError, match=r"inter.csv:3: timestamp must be"):
        load_table(path)
    report = SkipReport(skip_bad=True)
    (got,) = load_table(path, report=report).values()
    assert list(got.reviews["item"]) == ["i"]
    reasons = {reason: n for (_, reason), n in report.counts.items()}
    assert reasons == {"wrong type": 2, "missing field": 1, "wrong field count": 1}


# ---------------------------------------------------------------------------------------- value ranges, raw-input defects

def _review(source: str, rating, when) -> str:
    """One review line of `source` (2023: `when` in milliseconds, as the release writes it)."""
    if source == "amazon2023":
        return json.dumps({"user_id": "U", "parent_asin": "P", "rating": rating, "timestamp": when})
    return json.dumps({"reviewerID": "U", "asin": "P", "overall": rating, "unixReviewTime": when})


RELEASES = {  # source -> (module, reviews file name, canonical domain, milliseconds?)
    "amazon2014": (amazon2014, "reviews_Toys_and_Games_5.json.gz", "Toys_and_Games", False),
    "amazon2018": (amazon2018, "Toys_and_Games_5.json.gz", "Toys_and_Games", False),
    "amazon2023": (amazon2023, "Toys_and_Games.jsonl.gz", "Toys_and_Games", True),
}
OUT_OF_RANGE = {  # name -> (rating, seconds): each bad in exactly one way
    "time 10**30": (4.0, 10**30),
    "time before 1990": (4.0, 86400),
    "time far future": (4.0, 4102444800),  # 2100-01-01
    "rating 7": (7.0, 1400000000),
    "rating 0": (0, 1400000000),
    "rating -3": (-3, 1400000000),
}


@pytest.mark.parametrize("bad", sorted(OUT_OF_RANGE))
@pytest.mark.parametrize("source", sorted(RELEASES))
def test_out_of_range_value_is_named_or_skipped(tmp_path, source, bad):
    module, name, domain, ms = RELEASES[source]
    scale = 1000 if ms else 1
    rating, when = OUT_OF_RANGE[bad]
    lines = [_review(source, 5.0, 1300000000 * scale), _review(source, rating, when * scale),
             _review(source, 1.0, 1300000001 * scale)]
    path = gz(tmp_path / name, lines)
    with pytest.raises(DataError, match=rf"{name}:2: .*outside") as error:
        module.load_domain(tmp_path, domain, SkipReport())
    assert "rating" in str(error.value) if bad.startswith("rating") else "time" in str(error.value)
    report = SkipReport(skip_bad=True)
    raw = module.load_domain(tmp_path, domain, report)
    assert list(raw.reviews["line"]) == [1, 3] and list(raw.reviews["rating"]) == [5.0, 1.0]
    assert dict(report.counts) == {(str(path), "out of range"): 1}


def test_2023_seconds_instead_of_milliseconds_are_out_of_range(tmp_path):
    gz(tmp_path / "Toys_and_Games.jsonl.gz", [_review("amazon2023", 4.0, 1588615855)])  # seconds: 1970-01-19 once divided
    with pytest.raises(DataError, match=r"Toys_and_Games.jsonl.gz:1: .*outside"):
        amazon2023.load_domain(tmp_path, "Toys_and_Games", SkipReport())


def test_time_range_can_be_set(tmp_path):
    from benchmark.data.sources.common import Limits, parse_time_range

    gz(tmp_path / "reviews_Toys_and_Games_5.json.gz", [_review("amazon2014", 4.0, 1400000000)])  # 2014-05-13
    limits = Limits(time=parse_time_range("1990-01-01,2000-01-01"))
    with pytest.raises(DataError, match=r":1: field 'unixReviewTime' .* outside .*1990-01-01.*2000-01-01"):
        amazon2014.load_domain(tmp_path, "Toys_and_Games", SkipReport(), limits)
    assert parse_time_range("631152000,2030-01-01") == (631152000, 1893456000)
    # positions as timestamps (what `convert` writes for sequence files) need `--time-range any`
    positions = tmp_path / "seq.csv"
    positions.write_text("user,item,timestamp\nu,a,1\nu,b,2\n")
    with pytest.raises(DataError, match=r"seq.csv:2: column 'timestamp' = 1 \(1970-01-01\) is outside .*--time-range any"):
        load_table(positions)
    (got,) = load_table(positions, limits=Limits(time=parse_time_range("any"))).values()
    assert list(got.reviews["timestamp"]) == [1, 2]
    for bad in ("2000-01-01", "2030-01-01,1990-01-01", "soon,later"):
        with pytest.raises(ValueError):
            parse_time_range(bad)


def test_table_out_of_range_csv_and_parquet(tmp_path):
    from benchmark.data.sources.common import Limits

    path = tmp_path / "inter.csv"
    path.write_text("user,item,timestamp,rating\nu,a,1300000000,5\nu,b,1e30,4\nu,c,1300000002,7\nu,d,1300000003,0\n"
                    "u,e,1300000004,\nu,f,-5,3\n")
    with pytest.raises(DataError, match=r"inter.csv:3: .*timestamp.*outside"):
        load_table(path)
    report = SkipReport(skip_bad=True)
    (got,) = load_table(path, report=report).values()
    assert list(got.reviews["item"]) == ["a", "e"]  # e has no rating: allowed
    assert dict(report.counts) == {(str(path), "out of range"): 4}
    # a declared range: 0..10 keeps the ratings 7 and 0
    (got,) = load_table(path, report=SkipReport(skip_bad=True), limits=Limits(rating=(0.0, 10.0))).values()
    assert list(got.reviews["item"]) == ["a", "c", "d", "e"]

    pq = tmp_path / "inter.parquet"
    pd.DataFrame({"user": ["u", "u"], "item": ["a", "b"], "timestamp": [1300000000.0, 1e30], "rating": [5, 4]}).to_parquet(pq)
    with pytest.raises(DataError, match=r"inter.parquet:2: .*outside"):
        load_table(pq)
    pd.DataFrame({"user": ["u", "u"], "item": ["a", "b"], "timestamp": [1300000000, 1300000001], "rating": [5, -3]}).to_parquet(pq)
    with pytest.raises(DataError, match=r"inter.parquet:2: .*rating.*outside"):
        load_table(pq)


def test_skipped_meta_literal_message_has_no_object_address(tmp_path):
    gz(tmp_path / "reviews_Toys_and_Games_5.json.gz", [_review("amazon2014", 4.0, 1400000000)])
    gz(tmp_path / "meta_Toys_and_Games.json.gz", ["{'asin': 'P', 'title': f(1)}"])
    report = SkipReport(skip_bad=True)
    amazon2014.load_domain(tmp_path, "Toys_and_Games", report)
    (message,) = report.examples.values()
    assert "meta_Toys_and_Games.json.gz:1: malformed literal" in message
    assert "0x" not in message and "object at" not in message


@pytest.mark.parametrize("source", sorted(RELEASES))
def test_empty_reviews_file_is_named_or_a_counted_skip(tmp_path, source):
    module, name, domain, _ = RELEASES[source]
    path = gz(tmp_path / name, b"")
    with pytest.raises(DataError, match=rf"{name}: empty file"):
        module.load_domain(tmp_path, domain, SkipReport())
    report = SkipReport(skip_bad=True)
    raw = module.load_domain(tmp_path, domain, report)
    assert len(raw.reviews) == 0
    assert dict(report.counts) == {(str(path), "empty file"): 1}
    assert domain in report.examples[(str(path), "empty file")]


def test_empty_meta_file_is_named(tmp_path):
    gz(tmp_path / "reviews_Toys_and_Games_5.json.gz", [_review("amazon2014", 4.0, 1400000000)])
    (tmp_path / "meta_Toys_and_Games.json").write_text("\n")
    with pytest.raises(DataError, match=r"meta_Toys_and_Games.json: empty file"):
        amazon2014.load_domain(tmp_path, "Toys_and_Games", SkipReport())


def test_table_empty_files_are_named(tmp_path):
    inter = tmp_path / "inter.csv"
    inter.write_text("")
    with pytest.raises(DataError, match=r"inter.csv: empty file"):
        load_table(inter)
    inter.write_text("user,item,timestamp\nu,a,1300000000\n")
    items = tmp_path / "items.jsonl"
    items.write_text("\n")
    with pytest.raises(DataError, match=r"items.jsonl: empty file"):
        load_table(inter, items)


def test_table_unterminated_quote_is_named_where_it_opens(tmp_path):
    path = tmp_path / "inter.csv"
    path.write_text('user,item,timestamp,review\nu,a,1300000000,fine\nu,b,1300000001,"never closed\n'
                    "u,c,1300000002,x\nu,d,1300000003,y\n")
    with pytest.raises(DataError, match=r"inter.csv:3: .*quote"):
        load_table(path)
    # a quoted field that closes on a later line is one record, numbered by its first line
    path.write_text('user,item,timestamp,review\nu,a,1300000000,"two\nlines"\nu,b,1300000001,z\n')
    (got,) = load_table(path).values()
    assert list(got.reviews["line"]) == [2, 4]
