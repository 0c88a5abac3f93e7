"""CLI conventions: --version, -h, completion, plain metavars, one line per unsupported task, leaderboard
commands refusing a missing folder."""
from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from unimp_bench.cli import app


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_version_and_short_help():
    result = cli("--version")
    assert result.exit_code == 0 and re.fullmatch(r"unimp-bench \d+\.\d+\.\d+\S*\n", result.output)
    top = cli("-h")
    assert top.exit_code == 0 and "--install-completion" in top.output and "compare" in top.output
    assert cli("run", "-h").exit_code == 0 and cli("leaderboard", "validate", "-h").exit_code == 0


COMMANDS = [("prepare",), ("download-images",), ("convert",), ("tasks",), ("metrics",), ("models",), ("run",),
            ("compare",), ("ceiling",), ("demo",), ("leaderboard", "submit"), ("leaderboard", "fetch"),
            ("leaderboard", "validate"), ("leaderboard", "build")]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_no_python_types(command):
    result = cli(*command, "--help")
    assert result.exit_code == 0
    leaks = re.findall(r"<(?:str|int|float|path|list\[[^\]]*\])>|\{[a-z_]+\}|[A-Z]_\b", result.output)
    assert not leaks, leaks


def test_models_name_is_optional_in_the_usage():
    assert "models [OPTIONS] [NAME]" in cli("models", "-h").output


@pytest.mark.parametrize("command", [("leaderboard", "validate"), ("leaderboard", "build")], ids=" ".join)
def test_leaderboard_commands_refuse_a_missing_folder(command, tmp_path):
    result = cli(*command, "--leaderboard-dir", tmp_path / "nope")
    assert result.exit_code == 2 and result.output.startswith("error: ")
    assert f"{tmp_path / 'nope'} does not exist" in result.output
    assert not (tmp_path / "nope").exists()  # no empty board written
    result = cli(*command, "--leaderboard-dir", tmp_path)
    assert result.exit_code == 2 and "has no index.jsonl" in result.output


def test_tasks_show_descriptions_and_instance_counts(tiny_data):
    from benchmark.data.dataset import PreparedDataset
    from benchmark.tasks import TASKS

    result = cli("tasks", "--data", tiny_data)
    assert result.exit_code == 0
    n = TASKS["selection"].n_instances(PreparedDataset(tiny_data), "test")
    assert n > 0 and f"instances in {tiny_data}: test {n:,}," in result.output
    assert TASKS["rating"].instruction in result.output
    bad = cli("tasks", "--data", tiny_data / "nope")
    assert bad.exit_code == 2 and "not a prepared dataset" in bad.output


def test_limit_smoke_run_and_one_line_per_unsupported_task(tiny_data, tmp_path):
    result = cli("run", "--model", "pop", "--data", tiny_data, "--out", tmp_path, "--run-id", "smoke",
                 "--limit", 7, "--split", "test", "--n-boot", 10)
    assert result.exit_code == 0, result.output
    doc = __import__("json").loads((tmp_path / "smoke" / "results.json").read_text())
    ok = [r for r in doc["results"] if r["status"] == "ok"]
    assert ok and all(r["n"] == 7 and r["extra"]["limit"] == 7 for r in ok)
    assert "| unsupported |" not in result.output and "unsupported |" not in result.output
    unsupported = [r for r in doc["results"] if r["status"] == "unsupported"]
    lines = [line for line in result.output.splitlines() if "unsupported:" in line]
    assert len(lines) == len(unsupported) > 0
    assert "- pop: rating (test) unsupported: the model lacks the verb `predict_rating` the task needs" in lines
    assert cli("run", "--model", "pop", "--data", tiny_data, "--limit", 0).exit_code == 2
