"""The unimp-bench leaderboard: index.jsonl (committed, one row per submission) and one archive per
row (<sha256>.tar.gz of the run's files, kept outside git); the build recomputes every entry it ranks.

    submit(run_dir, leaderboard_dir, model_meta)  -> the new index row (archive written to archives/)
    fetch(source, leaderboard_dir)                -> archives copied, checked and extracted into cache/
    validate(leaderboard_dir, {sha256: dataset})  -> list[Problem] (empty: all valid)
    build(leaderboard_dir, {sha256: dataset})     -> validates every row, writes README.md and index.html

CLI helpers returning exit codes: submit_cli, fetch_cli, validate_cli, build_cli.
"""
from __future__ import annotations

from leaderboard.build import build, build_cli
from leaderboard.common import Problem, SubmissionError
from leaderboard.fetch import fetch, fetch_cli
from leaderboard.submit import submit, submit_cli
from leaderboard.validate import datasets_from_paths, validate, validate_cli

__all__ = [
    "Problem", "SubmissionError", "build", "build_cli", "datasets_from_paths", "fetch", "fetch_cli", "submit", "submit_cli",
    "validate", "validate_cli",
]
