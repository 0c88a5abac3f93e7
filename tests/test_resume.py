"""`run --resume`: a run killed mid-way (no cleanup at all) is continued from its staging folder, keeps its
finished (task, split) results and ends with the results of an uninterrupted run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from benchmark.eval.evaluator import PROGRESS_DIR, RESUME_FILE, RunOptions, run
from unimp_bench.cli import app

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("recommendation", "selection", "rating")
SPLITS = ("test", "new_user")

KILLED = """
import os, sys
from benchmark.eval import evaluator
real, calls = evaluator.score_predictions, [0]
def dying(*a, **k):
    calls[0] += 1
    if calls[0] == 3:
        os._exit(9)  # as a SIGKILL: no finally, no cleanup
    return real(*a, **k)
evaluator.score_predictions = dying
evaluator.run(sys.argv[1], sys.argv[2], evaluator.RunOptions(model="random", tasks={tasks}, splits={splits},
                                                              n_boot=20, run_id="r"))
""".format(tasks=TASKS, splits=SPLITS)


def comparable(run_dir: Path) -> list:
    doc = json.loads((run_dir / "results.json").read_text())
    return [(r["task"], r["split"], r["status"], r["n"], r["scores"], r["intervals"], r["predictions_sha256"])
            for r in doc["results"]]


def test_killed_run_resumes_to_the_uninterrupted_results(tiny_data, tmp_path):
    out = tmp_path / "runs"
    killed = subprocess.run([sys.executable, "-c", KILLED, str(tiny_data), str(out)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode == 9, killed.stderr
    assert not (out / "r").exists()
    (stage,) = out.glob(".r.partial-*")
    assert (stage / RESUME_FILE).is_file() and len(list((stage / PROGRESS_DIR).glob("*.json"))) == 2

    other = run(tiny_data, out, RunOptions(model="pop", tasks=("rating",), splits=("test",), n_boot=5, run_id="x"))
    assert stage.is_dir() and other.is_dir()  # the cleanup of a later run keeps the resumable folder

    result = CliRunner().invoke(app, ["run", "--resume", "r", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "resuming r: keeping recommendation/test, selection/test" in result.output
    assert not stage.exists() and sorted(p.name for p in out.iterdir()) == ["r", "x"]
    assert not (out / "r" / PROGRESS_DIR).exists() and not (out / "r" / RESUME_FILE).exists()

    ref = run(tiny_data, tmp_path / "ref", RunOptions(model="random", tasks=TASKS, splits=SPLITS, n_boot=20, run_id="r"))
    assert comparable(out / "r") == comparable(ref)


def test_resume_errors_name_what_can_be_resumed(tiny_data, tmp_path):
    out = tmp_path / "runs"
    run(tiny_data, out, RunOptions(model="pop", tasks=("rating",), splits=("test",), n_boot=5, run_id="done"))
    result = CliRunner().invoke(app, ["run", "--resume", "done", "--out", str(out)])
    assert result.exit_code == 2 and "is complete: nothing to resume" in result.output
    result = CliRunner().invoke(app, ["run", "--resume", "nope", "--out", str(out)])
    assert result.exit_code == 2 and "no killed run 'nope' to resume" in result.output and "resumable there: none" in result.output
    result = CliRunner().invoke(app, ["run", "--out", str(out)])
    assert result.exit_code == 2 and "--model is required" in result.output
