"""Sequence files and RecBole atomic files converted into tables that `table` reads."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from benchmark.data.convert import convert, recbole_atomic_to_table, sequence_to_table
from benchmark.data.errors import DataError, SkipReport
from benchmark.data.sources.table import load_table

INTER = (
    "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    "u1\t0001\t5.0\t978300760.0\n"
    "u1\t0002\t\t978300761.5\n"
    "u2\t0001\t3\t978300800\n"
)
ITEM = (
    "item_id:token\ttitle:token_seq\tcategories:token_seq\tbrand:token\tprice:float\n"
    "0001\tGel pen blue\tOffice > Pens\tBic\t2.5\n"
    "0002\tA4 paper\tPaper\t\t\n"
    "0001\tduplicate\tx\ty\t9\n"
)


def test_sequence_positions(tmp_path):
    path = tmp_path / "sequential_data.txt"
    path.write_text("1 10 11 12\n2\t11 10\n\n")
    df = sequence_to_table(path)
    assert df.values.tolist() == [["1", "10", 1], ["1", "11", 2], ["1", "12", 3], ["2", "11", 1], ["2", "10", 2]]


def test_sequence_bad_lines(tmp_path):
    path = tmp_path / "seq.txt"
    path.write_text("1 10 11\n2\n1 12\n3 13\n")
    with pytest.raises(DataError, match=r"seq.txt:2: a sequence line needs a user and at least one item"):
        sequence_to_table(path)
    report = SkipReport(skip_bad=True)
    df = sequence_to_table(path, report)
    assert list(df["user"]) == ["1", "1", "3"]
    assert {reason: n for (_, reason), n in report.counts.items()} == {"empty sequence": 1, "repeated user": 1}


def test_recbole_atomic(tmp_path):
    (tmp_path / "x.inter").write_text(INTER)
    (tmp_path / "x.item").write_text(ITEM)
    inter, items = recbole_atomic_to_table(tmp_path / "x.inter", tmp_path / "x.item")
    assert inter[["user", "item", "timestamp"]].values.tolist() == [
        ["u1", "0001", 978300760], ["u1", "0002", 978300761], ["u2", "0001", 978300800]]
    assert inter["rating"].iloc[0] == 5.0 and math.isnan(inter["rating"].iloc[1]) and inter["rating"].iloc[2] == 3.0
    assert list(items["item"]) == ["0001", "0002"]
    assert items.iloc[0][["title", "brand", "price"]].tolist() == ["Gel pen blue", "Bic", 2.5]
    assert items["category"].tolist() == [["Office", "Pens"], ["Paper"]]
    assert items["brand"].iloc[1] is None and math.isnan(items["price"].iloc[1])


def test_recbole_without_timestamp_uses_file_order(tmp_path):
    path = tmp_path / "y.inter"
    path.write_text("user_id:token\titem_id:token\nA\t1\nB\t2\nA\t3\n")
    inter, items = recbole_atomic_to_table(path)
    assert inter["timestamp"].tolist() == [1, 1, 2] and items is None


def test_recbole_errors(tmp_path):
    path = tmp_path / "z.inter"
    path.write_text("user_id\titem_id:token\n")
    with pytest.raises(DataError, match=r"z.inter:1: header field 'user_id' is not name:type"):
        recbole_atomic_to_table(path)
    path.write_text("uid:token\tthing:token\nA\t1\n")
    with pytest.raises(DataError, match=r"z.inter:1: no item field"):
        recbole_atomic_to_table(path)
    path.write_text("user_id:token\titem_id:token\ttimestamp:float\nA\t1\t5\nA\t2\tsoon\nA\t3\n")
    with pytest.raises(DataError, match=r"z.inter:3: field 'timestamp' must be a number"):
        recbole_atomic_to_table(path)
    report = SkipReport(skip_bad=True)
    inter, _ = recbole_atomic_to_table(path, report=report)
    assert inter["item"].tolist() == ["1"] and report.total == 2


def test_convert_writes_tables_that_load(tmp_path):
    src = tmp_path / "recbole"
    src.mkdir()
    (src / "x.inter").write_text(INTER)
    (src / "x.item").write_text(ITEM)
    out = convert(src, tmp_path / "out", "recbole")
    assert out == tmp_path / "out" / "interactions.parquet" and (tmp_path / "out" / "items.parquet").is_file()
    (domain,) = load_table(out, tmp_path / "out" / "items.parquet", default_domain="Office_Products").values()
    assert domain.reviews[["user", "item", "timestamp"]].values.tolist() == [
        ["u1", "0001", 978300760], ["u1", "0002", 978300761], ["u2", "0001", 978300800]]
    items = domain.items.set_index("item")
    assert items.loc["0001", "category"] == ["Office", "Pens"] and items.loc["0001", "price"] == 2.5

    seq = tmp_path / "seq.txt"
    seq.write_text("7 1 2\n")
    out2 = convert(seq, tmp_path / "out2", "sequence")
    assert pd.read_parquet(out2).values.tolist() == [["7", "1", 1], ["7", "2", 2]]
    assert not (tmp_path / "out2" / "items.parquet").exists()
    first = out2.read_bytes()
    convert(seq, tmp_path / "out2", "sequence")
    assert out2.read_bytes() == first  # deterministic bytes
    with pytest.raises(ValueError, match="unknown format"):
        convert(seq, tmp_path / "out3", "csv")
