"""The committed leaderboard: index.jsonl checked row by row, a board built from it, and the committed
tiny submission (tests/data/leaderboard: index row + archive of a `pop` run on `prepare --scale tiny`)
recomputed from its archive against the tiny dataset this test session prepares.

The archives of the committed index live outside git (leaderboard/MAINTAINERS.md); when they have been
fetched into leaderboard/archives/, every committed score is also recomputed on the default dataset.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BOARD = REPO / "leaderboard"
TINY_BOARD = REPO / "tests" / "data" / "leaderboard"


def test_committed_index_rows():
    from benchmark.tasks import TASKS
    from leaderboard.index import read_index

    rows, problems = read_index(BOARD)
    assert problems == [], "\n".join(map(str, problems))  # schema, ranges, unique and sorted ids
    assert rows, "the committed index is empty"
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for r in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", r["archive"]["sha256"]) and r["archive"]["size"] > 0
        assert {e["task"] for e in r["results"]} <= set(TASKS)
    assert len({r["dataset"]["sha256"] for r in rows}) == 1  # all on the embedded default


def test_board_builds_from_the_committed_index(tmp_path):
    """Without its archives and dataset the build vouches for nothing: every row is listed as unverified,
    none is ranked. The rows themselves render (tables, BERTScore's scorer named)."""
    import shutil

    from leaderboard.build import build, render_readme
    from leaderboard.index import read_index
    from leaderboard.tables import Submission

    shutil.copy(BOARD / "index.jsonl", tmp_path / "index.jsonl")
    board = build(tmp_path)
    rows = read_index(BOARD)[0]
    assert board.ranked == [] and board.left_out == [] and len(board.unverified) == len(rows)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    for r in rows:
        assert f"| {r['id']} " in readme and "| unverified " in readme and f"<td>{r['id']}</td>" in page
    rendered = render_readme([Submission(r["id"], r, r["model_meta"]) for r in rows])
    for r in rows:
        assert f"| {r['model']['name']} " in rendered
    assert "bertscore-f1 scorer: sentence-transformers/all-MiniLM-L6-v2" in rendered
    assert "layer 6, no idf, no baseline rescaling" in rendered


def test_committed_tiny_submission_recomputes(tiny_data):
    from benchmark.data.dataset import PreparedDataset
    from leaderboard.validate import validate_report

    archives = list((TINY_BOARD / "archives").iterdir())
    assert len(archives) == 1 and archives[0].stat().st_size < 300_000
    report = validate_report(TINY_BOARD, {PreparedDataset(tiny_data).sha256: tiny_data})
    assert report.problems == [], "\n".join(map(str, report.problems))
    assert (report.rows, report.recomputed, report.not_recomputed) == (1, 1, 0)


def test_committed_tiny_submission_builds(tmp_path, tiny_data):
    import shutil

    from benchmark.data.dataset import PreparedDataset
    from leaderboard.build import build

    shutil.copy(TINY_BOARD / "index.jsonl", tmp_path / "index.jsonl")
    board = build(tmp_path, {PreparedDataset(tiny_data).sha256: tiny_data}, archives_dir=TINY_BOARD / "archives")
    assert board.levels == {"pop/pop-tiny": "scored"} and board.left_out == []
    table1 = (tmp_path / "README.md").read_text(encoding="utf-8").split("### Table 1")[1].split("###")[0]
    assert "| pop " in table1 and "| pop-tiny " in table1


@pytest.fixture(scope="module")
def default_data(tmp_path_factory):
    from benchmark.data.dataset import PreparedDataset
    from benchmark.prepare import prepare_default

    local = REPO / "data" / "world-default"
    if (local / "manifest.json").is_file():
        return local  # `make demo`'s copy; its sha256 is checked by the validator
    root = tmp_path_factory.mktemp("default")
    path = prepare_default(out=root / "data", raw=root / "raw", scale="default", seed=0)
    assert PreparedDataset(path).sha256
    return path


def _every_archive_at_hand() -> bool:
    """True when every row of the index has its archive in leaderboard/archives/ (a partial `make demo`
    leaves some rows without one: then there is nothing complete to recompute)."""
    from leaderboard.archive import row_archive
    from leaderboard.index import read_index

    rows = read_index(BOARD)[0]
    return bool(rows) and all(row_archive(BOARD / "archives", r).is_file() for r in rows)


@pytest.mark.skipif(not _every_archive_at_hand(), reason="not every row's archive is in leaderboard/archives/ "
                    "(get them with `unimp-bench leaderboard fetch SOURCE`, or run the whole `make demo`)")
def test_committed_submissions_recompute_on_the_default_data(default_data):
    from benchmark.data.dataset import PreparedDataset
    from leaderboard.validate import validate_report

    report = validate_report(BOARD, {PreparedDataset(default_data).sha256: default_data})
    assert report.problems == [], "\n".join(map(str, report.problems))
    assert report.recomputed == report.rows
