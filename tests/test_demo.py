"""`make demo`'s driver: models in parallel worker processes, each run complete, summary printed."""
from __future__ import annotations

import json

from unimp_bench import demo


def test_demo_runs_models_in_parallel_and_reuses_finished_runs(tiny_data, tmp_path, capsys):
    out = tmp_path / "runs"
    demo.main(["--data", str(tiny_data), "--out", str(out), "--models", "random,pop,mean-rating",
               "--jobs", "2", "--no-leaderboard"])
    for name in ("random", "pop", "mean-rating"):
        doc = json.loads((out / name / "results.json").read_text())
        assert doc["model"]["name"] == name and doc["results"]
    printed = capsys.readouterr().out
    assert "| random |" in printed and "| mean-rating |" in printed
    before = (out / "pop" / "results.json").stat().st_mtime_ns
    demo.main(["--data", str(tiny_data), "--out", str(out), "--models", "pop", "--jobs", "2", "--no-leaderboard"])
    assert (out / "pop" / "results.json").stat().st_mtime_ns == before  # reused, not rerun
    assert "reusing" in capsys.readouterr().out
