"""Which columnar engine for prepare's heavy stages: the same work on the same raw 2014 files in pandas (today),
DuckDB and Polars. Work: read every reviews file (gzip JSON lines, four columns), then per domain keep the
earliest review per (user, item) and run the iterative 5-core; the kept row count must agree.

Usage: python bench/bench_engines.py RAW_DIR   (e.g. the world `prepare --scale paper` generated)
"""
from __future__ import annotations

import gzip
import json
import resource
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl

COLS = {"reviewerID": "user", "asin": "item", "unixReviewTime": "timestamp", "overall": "rating"}


def pandas_engine(files: list[Path]) -> int:
    kept = 0
    for path in files:
        rows = []
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line, text in enumerate(f, 1):
                r = json.loads(text)
                rows.append((r["reviewerID"], r["asin"], r["unixReviewTime"], r["overall"], line))
        df = pd.DataFrame(rows, columns=["user", "item", "timestamp", "rating", "line"])
        df = df.sort_values(["user", "item", "timestamp", "line"], kind="stable").drop_duplicates(["user", "item"])
        while True:
            keep = (df["user"].map(df["user"].value_counts()) >= 5) & (df["item"].map(df["item"].value_counts()) >= 5)
            if keep.all():
                break
            df = df[keep]
        kept += len(df)
    return kept


def duckdb_engine(files: list[Path]) -> int:
    con = duckdb.connect()
    con.execute("SET threads = 2")
    kept = 0
    for path in files:
        con.execute(f"""CREATE OR REPLACE TABLE r AS SELECT reviewerID AS user, asin AS item,
                        unixReviewTime AS timestamp, overall AS rating, row_number() OVER () AS line
                        FROM read_json('{path}', format='newline_delimited',
                             columns={{reviewerID: 'VARCHAR', asin: 'VARCHAR', unixReviewTime: 'BIGINT', overall: 'DOUBLE'}})""")
        con.execute("""CREATE OR REPLACE TABLE r AS SELECT * FROM r
                       QUALIFY row_number() OVER (PARTITION BY user, item ORDER BY timestamp, line) = 1""")
        while True:
            before = con.execute("SELECT count(*) FROM r").fetchone()[0]
            con.execute("""CREATE OR REPLACE TABLE r AS SELECT * FROM r
                           QUALIFY count(*) OVER (PARTITION BY user) >= 5 AND count(*) OVER (PARTITION BY item) >= 5""")
            after = con.execute("SELECT count(*) FROM r").fetchone()[0]
            if after == before:
                break
        kept += after
    return kept


def polars_engine(files: list[Path]) -> int:
    kept = 0
    schema = {"reviewerID": pl.String, "asin": pl.String, "unixReviewTime": pl.Int64, "overall": pl.Float64}
    for path in files:
        df = (pl.read_ndjson(gzip.decompress(path.read_bytes()), schema=schema).rename(COLS).with_row_index("line")
              .sort(["user", "item", "timestamp", "line"]).unique(["user", "item"], keep="first", maintain_order=True))
        while True:
            nxt = df.filter((pl.len().over("user") >= 5) & (pl.len().over("item") >= 5))
            if nxt.height == df.height:
                break
            df = nxt
        kept += df.height
    return kept


def main() -> None:
    files = sorted(Path(sys.argv[1]).glob("reviews_*.json.gz"))
    engine = sys.argv[2] if len(sys.argv) > 2 else None
    if engine is None:  # each engine in its own process, so peak memory is its own
        import subprocess
        for name in ("pandas", "duckdb", "polars"):
            print(subprocess.run([sys.executable, __file__, sys.argv[1], name], capture_output=True, text=True).stdout.strip())
        return
    t0 = time.perf_counter()
    kept = {"pandas": pandas_engine, "duckdb": duckdb_engine, "polars": polars_engine}[engine](files)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"| {engine} | {time.perf_counter() - t0:.1f} s | {peak:.2f} GiB | {kept:,} |")


if __name__ == "__main__":
    main()
