"""`unimp-bench demo` (`make demo`): models in parallel worker processes, each run complete, summary printed."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from unimp_bench.cli import app


def test_demo_runs_models_in_parallel_and_reuses_finished_runs(tiny_data, tmp_path):
    out = tmp_path / "runs"
    runner = CliRunner()
    res = runner.invoke(app, ["demo", "--data", str(tiny_data), "--out", str(out), "--models", "random,pop,mean-rating",
                              "--jobs", "2", "--no-leaderboard"])
    assert res.exit_code == 0, res.output
    for name in ("random", "pop", "mean-rating"):
        doc = json.loads((out / name / "results.json").read_text())
        assert doc["model"]["name"] == name and doc["results"]
    assert "| random |" in res.output and "| mean-rating |" in res.output
    before = (out / "pop" / "results.json").stat().st_mtime_ns
    res = runner.invoke(app, ["demo", "--data", str(tiny_data), "--out", str(out), "--models", "pop", "--jobs", "2",
                              "--no-leaderboard"])
    assert res.exit_code == 0, res.output
    assert (out / "pop" / "results.json").stat().st_mtime_ns == before  # reused, not rerun
    assert "reusing" in res.output
