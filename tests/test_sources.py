"""Release readers on real sample records (2014 Grocery head, 2018 All_Beauty) and hand-made lines."""
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

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"  # ../shared beside the repo
HEAD_2014 = SAMPLES / "amazon2014" / "reviews_Grocery_and_Gourmet_Food_5.head.json"
BEAUTY_2018 = SAMPLES / "amazon2018" / "All_Beauty_5.json.gz"
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
    assert len(r) == 5269 and raw.reviews_file == "All_Beauty_5.json.gz"
    # count the repeated (user, item) pairs independently of the loader
    with gzip.open(BEAUTY_2018, "rt") as f:
        pairs = [(rec["reviewerID"], rec["asin"]) for rec in map(json.loads, f)]
    repeats = len(pairs) - len(set(pairs))
    assert repeats == 1177
    assert r.duplicated(["user", "item"]).sum() == repeats
    pair = r[(r["user"] == "A105A034ZG9EHO") & (r["item"] == "B0012Y0ZG2")]
    assert list(pair["line"]) == [2898, 3888] and set(pair["timestamp"]) == {1404604800}
    assert r.iloc[0][["user", "item", "rating", "timestamp", "summary"]].tolist() == [
        "A3CIUOJXQ5VDQ2", "B0000530HU", 5.0, 1472688000, "Five Stars"]
    assert len(raw.items) == r["item"].nunique() and raw.meta_file == ""


def test_2018_meta(tmp_path):
    reviews = [json.dumps({"reviewerID": "U1", "asin": a, "overall": 5.0, "unixReviewTime": 10 + i}) for i, a in enumerate("ABCDE")]
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
u1,i1,100,5,"great, really",Baby
u1,i2,200,,"two
lines",Baby
u2,i1,2014-05-19T00:00:00,3,ok,Toys_and_Games
"""


def test_table_csv_tsv_parquet(tmp_path):
    csv_path = tmp_path / "inter.csv"
    csv_path.write_text(CSV)
    out = load_table(csv_path)
    assert sorted(out) == ["Baby", "Toys_and_Games"]
    baby = out["Baby"].reviews
    assert list(baby["item"]) == ["i1", "i2"] and list(baby["timestamp"]) == [100, 200]
    assert baby["rating"].iloc[0] == 5.0 and math.isnan(baby["rating"].iloc[1])
    assert list(baby["review"]) == ["great, really", "two\nlines"] and list(baby["line"]) == [2, 4]
    toys = out["Toys_and_Games"].reviews
    assert list(toys["timestamp"]) == [1400457600] and list(toys["line"]) == [5]  # 2014-05-19 UTC
    assert list(out["Baby"].items["item"]) == ["i1", "i2"]

    tsv = tmp_path / "inter.tsv"
    tsv.write_text("user\titem\ttimestamp\nA\t0001\t5\nA\t0002\t6\n")
    (only,) = load_table(tsv, default_domain="Office_Products").values()
    assert only.domain == "Office_Products" and list(only.reviews["item"]) == ["0001", "0002"]  # ids stay strings
    assert only.reviews["rating"].isna().all() and list(only.reviews["summary"]) == ["", ""]

    pq = tmp_path / "inter.parquet"
    pd.DataFrame({"user": [7, 8], "item": ["x", "y"], "timestamp": [1.9, 3.0], "rating": [1, 2]}).to_parquet(pq)
    (beauty,) = load_table(pq).values()
    assert beauty.domain == "Beauty" and list(beauty.reviews["user"]) == ["7", "8"]
    assert list(beauty.reviews["timestamp"]) == [1, 3] and list(beauty.reviews["line"]) == [1, 2]
    when = pd.to_datetime(["2014-05-19T00:00:00+02:00"])  # a Parquet timestamp column
    pd.DataFrame({"user": ["u"], "item": ["i"], "timestamp": when}).to_parquet(pq)
    assert list(load_table(pq)["Beauty"].reviews["timestamp"]) == [1400457600 - 7200]


def test_table_items(tmp_path):
    inter = tmp_path / "inter.csv"
    inter.write_text("user,item,timestamp\nu,a,1\nu,b,2\nu,c,3\n")
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
    path.write_text("user,item,timestamp,rating\nu,i,1,5\nu,j,yesterday,4\nu,k,3,abc\nu,,4,1\nu,m,5,1,extra\n")
    with pytest.raises(DataError, match=r"inter.csv:3: timestamp must be"):
        load_table(path)
    report = SkipReport(skip_bad=True)
    (got,) = load_table(path, report=report).values()
    assert list(got.reviews["item"]) == ["i"]
    reasons = {reason: n for (_, reason), n in report.counts.items()}
    assert reasons == {"wrong type": 2, "missing field": 1, "wrong field count": 1}
