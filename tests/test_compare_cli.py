"""`unimp-bench compare`: never a traceback; the dataset from the runs; names checked; table and JSON."""
from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from benchmark.data.labels import default_labels_dir, find_labels
from benchmark.eval.evaluator import RunOptions, run
from benchmark.tasks import TASKS
from unimp_bench.cli import app


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture(scope="module")
def runs(tiny_data, tmp_path_factory):
    """pop, random and a second pop run on recommendation + selection (test), made inside a folder whose
    data/<dataset name> is the dataset, as `prepare` lays it out."""
    root = tmp_path_factory.mktemp("compare")
    shutil.copytree(tiny_data, root / "data" / "world-tiny")
    shutil.copytree(find_labels(tiny_data), default_labels_dir(root / "data" / "world-tiny"))  # the sealed answers
    out = {}
    for model, rid in (("pop", "pop"), ("random", "random"), ("pop", "pop2")):
        opts = RunOptions(model=model, tasks=("recommendation", "selection", "rating"), splits=("test",), n_boot=10, run_id=rid)
        out[rid] = run(root / "data" / "world-tiny", root / "runs", opts)
    return root, out


def test_dataset_comes_from_the_runs_results(runs, monkeypatch):
    root, r = runs
    monkeypatch.chdir(root)  # data/world-tiny is found from results.json, no --data
    result = cli("compare", r["pop"], r["random"], "--n-boot", 50)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("run "))
    for col in ("metric", "baseline", "diff", "95% CI", "p", "n"):
        assert col in header
    rows = [line for line in lines if line.startswith("random ")]
    assert [row.split()[1] for row in rows] == list(TASKS["recommendation"].table_metrics)  # as in summary.md
    assert "paired bootstrap" in result.output


def test_missing_dataset_is_a_clear_error(runs, tmp_path, monkeypatch):
    _, r = runs
    monkeypatch.chdir(tmp_path)
    result = cli("compare", r["pop"], r["random"])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "world-tiny" in result.output and "--data" in result.output


def test_data_override_must_be_the_runs_dataset(runs, tmp_path):
    root, r = runs
    other = tmp_path / "other"
    from benchmark.prepare import prepare_default

    prepare_default(out=other, raw=tmp_path / "raw", scale="tiny", seed=1)
    result = cli("compare", r["pop"], r["random"], "--data", other)
    assert result.exit_code == 2 and "sha256" in result.output and "world-tiny" in result.output
    assert cli("compare", r["pop"], r["random"], "--data", root / "data" / "world-tiny").exit_code == 0


@pytest.mark.parametrize("args, expected", [
    (("--task", "recomendation"), "unknown task 'recomendation'; choose from recommendation,"),
    (("--split", "tset"), "unknown split 'tset'; choose from test, new_user, new_domain"),
    (("--metric", "hr@50"), "recommendation has no metric 'hr@50'; choose from all, hr@3, ndcg@3, mrr@3, hr@5"),
    (("--split", "new_user"), "recommendation/new_user was not evaluated in this run; scored there: "
                              "recommendation/test, selection/test"),
    (("--task", "rating"), "rating/test is 'unsupported' in this run"),
])
def test_names_are_checked_with_the_choices_listed(runs, monkeypatch, args, expected):
    root, r = runs
    monkeypatch.chdir(root)
    result = cli("compare", r["pop"], r["random"], *args)
    assert result.exit_code == 2 and result.output.startswith("error: ")
    assert expected in result.output


def test_not_a_run_folder(runs, tmp_path, monkeypatch):
    root, r = runs
    monkeypatch.chdir(root)
    result = cli("compare", r["pop"], tmp_path)
    assert result.exit_code == 2 and f"{tmp_path} is not a run folder: no results.json" in result.output
    (tmp_path / "results.json").write_text("{not json")
    result = cli("compare", r["pop"], tmp_path)
    assert result.exit_code == 2 and "not a results file" in result.output


def test_one_baseline_against_many_as_json(runs, monkeypatch):
    root, r = runs
    monkeypatch.chdir(root)
    result = cli("compare", r["pop"], r["random"], r["pop2"], "--task", "selection", "--metric", "f1",
                 "--n-boot", 50, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["task"] == "selection" and out["test"] == "paired bootstrap" and out["n_boot"] == 50
    assert [(row["run"], row["metric"]) for row in out["rows"]] == [(str(r["random"]), "f1"), (str(r["pop2"]), "f1")]
    same = out["rows"][1]  # pop against pop: identical predictions
    assert same["diff"] == 0 and same["p_value"] == 1.0 and same["n"] > 0
    rnd = out["rows"][0]
    assert rnd["diff"] == pytest.approx(rnd["score"] - rnd["baseline"]) and rnd["low"] <= rnd["diff"] <= rnd["high"]


def test_a_run_with_the_expectation_read_out_compares_with_one_without(runs, monkeypatch):
    """mae-expectation / rmse-expectation are paired only when every run has them (not a traceback)."""
    root, r = runs
    both = root / "runs" / "random-exp"
    shutil.copytree(r["random"], both)
    path = both / "predictions" / "rating__test.jsonl"
    lines = [dict(json.loads(line), expectation=4.2) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    monkeypatch.chdir(root)
    for a, b in ((both, r["random"]), (r["random"], both)):
        result = cli("compare", a, b, "--task", "rating", "--n-boot", 20)
        assert result.exit_code == 0, result.output
        assert [line.split()[1] for line in result.output.splitlines() if line.startswith("random")] == [
            "mae", "rmse", "invalid_rate"]
    result = cli("compare", both, both, "--task", "rating", "--metric", "mae-expectation", "--n-boot", 20)
    assert result.exit_code == 0 and "mae-expectation" in result.output
