"""Fetch the archives index.jsonl names and extract them into a cache folder.

The source is a local folder or an http(s) base URL (e.g. a GitHub release's asset URL prefix); each
archive is fetched by its name <sha256>.tar.gz, its size and sha256 are checked before it is kept, and
it is extracted with `leaderboard.archive.extract_archive` (allowed regular files only, nothing outside
the cache folder) into <cache>/<model-slug>/<run-id>/.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from leaderboard.archive import ARCHIVES_DIR, CACHE_DIR, extract_archive, fetch_archive
from leaderboard.common import Problem
from leaderboard.index import read_index


def fetch(source: str, leaderboard_dir: str | Path, archives_dir: str | Path | None = None,
          cache_dir: str | Path | None = None) -> tuple[int, list[Problem]]:
    """(number of submissions fetched and extracted, problems). An extracted folder is replaced only
    when its archive was checked again."""
    root = Path(leaderboard_dir)
    archives = Path(archives_dir) if archives_dir is not None else root / ARCHIVES_DIR
    cache = Path(cache_dir) if cache_dir is not None else root / CACHE_DIR
    rows, problems = read_index(root)
    done = 0
    for row in rows:
        path, bad = fetch_archive(source, row["archive"]["sha256"], row["archive"]["size"], archives, row["id"])
        problems += bad
        if path is None:
            continue
        dest = cache / row["id"]
        staged = dest.with_name(f".{dest.name}.new")
        if staged.exists():
            shutil.rmtree(staged)
        bad = extract_archive(path, staged, row["id"])
        problems += bad
        if bad:
            continue
        if dest.exists():
            shutil.rmtree(dest)
        staged.rename(dest)
        done += 1
    return done, problems


def fetch_cli(source: str, leaderboard_dir: str | Path, archives_dir: str | Path | None = None,
              cache_dir: str | Path | None = None) -> int:
    done, problems = fetch(source, leaderboard_dir, archives_dir, cache_dir)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{done} archive(s) fetched, checked and extracted; {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0
