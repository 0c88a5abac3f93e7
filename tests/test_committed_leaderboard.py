"""The committed leaderboard is checked like any submission: every score recomputed from its predictions.

The demo's submissions were run on the embedded default dataset; `prepare` is deterministic, so a fresh
preparation here has the same sha256 and the validator can recompute every submitted score against it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def default_data(tmp_path_factory):
    from benchmark.data.dataset import PreparedDataset
    from benchmark.prepare import prepare_default
    from leaderboard.tables import load_submissions

    local = REPO / "data" / "world-default"
    shas = {s.dataset_sha for s in load_submissions(REPO / "leaderboard")}
    if (local / "manifest.json").is_file() and PreparedDataset(local).sha256 in shas:
        return local  # `make demo`'s copy of the same dataset
    root = tmp_path_factory.mktemp("default")
    path = prepare_default(out=root / "data", raw=root / "raw", scale="default", seed=0)
    assert PreparedDataset(path).sha256
    return path


def test_committed_submissions_recompute_on_the_default_data(default_data):
    from benchmark.data.dataset import PreparedDataset
    from leaderboard.tables import load_submissions
    from leaderboard.validate import validate

    board = REPO / "leaderboard"
    subs = load_submissions(board)
    if not subs:
        pytest.skip("no committed submissions")
    sha = PreparedDataset(default_data).sha256
    on_default = [s for s in subs if s.dataset_sha == sha]
    assert on_default, "committed submissions are not on the dataset `unimp-bench prepare` builds (seed 0)"
    problems = validate(board, {sha: default_data}, allow_unknown_datasets=True)
    assert problems == [], "\n".join(map(str, problems))
