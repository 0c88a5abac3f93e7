"""The unimp-bench leaderboard: submissions are copies of run folders; everything shown is rebuilt
from them.

    submit(run_dir, leaderboard_dir, model_meta)  -> Path of the new submissions/<model>/<run-id>/
    validate(leaderboard_dir, {sha256: dataset})  -> list[Problem] (empty: all valid)
    build(leaderboard_dir)                        -> writes README.md and index.html

CLI helpers returning exit codes: submit_cli, validate_cli, build_cli.
"""
from __future__ import annotations

from leaderboard.build import build, build_cli
from leaderboard.common import Problem, SubmissionError
from leaderboard.submit import submit, submit_cli
from leaderboard.validate import datasets_from_paths, validate, validate_cli

__all__ = [
    "Problem", "SubmissionError", "build", "build_cli", "datasets_from_paths", "submit", "submit_cli",
    "validate", "validate_cli",
]
