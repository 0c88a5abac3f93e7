"""`run --resume`: a run killed mid-way (no cleanup at all) is continued from its staging folder, keeps its
finished (task, split) results and ends with the results of an uninterrupted run."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
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


# SASRec at its smallest: 8 epochs of ~0.25 s on the tiny world (one thread), so a kill after the first
# validation lands with most of the training still to do
SASREC = {"epochs": 8, "stopping_step": 10, "threads": 1, "train_batch_size": 512, "MAX_ITEM_LIST_LENGTH": 10,
          "hidden_size": 16, "inner_size": 32}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "unimp_bench", *args]


def _sasrec_run(data: Path, out: Path, run_id: str) -> list[str]:
    return _cli("run", "--model", "sasrec", "--data", str(data), "--out", str(out), "--run-id", run_id,
                "--task", "recommendation", "--split", "test", "--n-boot", "20", "--config", json.dumps(SASREC))


def _curves(run_dir: Path) -> dict:
    """curves.csv as {(regime, phase, step, name): value}: a resumed run logs again the epoch it was killed in."""
    lines = (run_dir / "curves.csv").read_text().splitlines()[1:]
    return {tuple(line.split(",")[:4]): line.split(",")[4] for line in lines}


def test_sasrec_killed_by_sigkill_resumes_through_the_cli_to_the_same_predictions(tiny_data, tmp_path):
    torch = pytest.importorskip("torch")
    rm = pytest.importorskip("baselines.recbole_models")
    out = tmp_path / "runs"
    proc = subprocess.Popen(_sasrec_run(tiny_data, out, "s"), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    state: list[Path] = []
    while not state and proc.poll() is None and time.monotonic() < deadline:
        state = list(out.glob(f".s.partial-{proc.pid}/model/recbole/*/saved/sasrec/{rm.RESUME_FILE}"))
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the run ended before it could be killed"
    assert state, "no RecBole resume state appeared"
    killed_at = int(torch.load(state[0], map_location="cpu", weights_only=True)["epoch"])
    assert killed_at < SASREC["epochs"] - 1, "killed after the last epoch: nothing left to resume"

    resumed = subprocess.run(_cli("run", "--resume", "s", "--out", str(out)), cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    log = next((out / "s" / "model" / "recbole").glob("*/sasrec.log")).read_text()  # both lives' lines
    resumed_lines = [line for line in log.splitlines() if "resumed from" in line]
    assert len(resumed_lines) == 1 and "sasrec/main_seq/train: resumed from " in resumed_lines[0]
    assert resumed_lines[0].endswith(f"at epoch {killed_at + 1}")  # continued after the saved epoch, not restarted
    assert sorted(p.name for p in out.iterdir()) == ["s"]

    whole = subprocess.run(_sasrec_run(tiny_data, tmp_path / "ref", "s"), cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert whole.returncode == 0, whole.stderr
    ref = tmp_path / "ref" / "s"
    assert "resumed from" not in next((ref / "model" / "recbole").glob("*/sasrec.log")).read_text()
    pred = "predictions/recommendation__test.jsonl"
    assert (out / "s" / pred).read_bytes() == (ref / pred).read_bytes()  # CPU, one thread: byte-identical
    assert comparable(out / "s") == comparable(ref)
    details = [json.loads((d / "results.json").read_text())["model"]["details"]["stopping"] for d in (out / "s", ref)]
    assert details[0] == details[1]
    assert _curves(out / "s") == _curves(ref)
