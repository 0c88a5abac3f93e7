"""The common evaluator end to end: every simple baseline on every task and split of the tiny data."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.api import Model
from benchmark.api.registry import register
from benchmark.data.dataset import PreparedDataset
from benchmark.data.io import sha256_file
from benchmark.data.regimes import EVAL_SPLITS
from benchmark.eval.evaluator import RunOptions, run
from benchmark.tasks import TASKS

SIMPLE = {  # model -> the tasks it must answer (search-catalogue asks the search question)
    "random": {"recommendation", "search", "search-catalogue", "selection", "rating"},
    "pop": {"recommendation", "search", "search-catalogue", "selection"},
    "bm25": {"search", "search-catalogue"},
    "bm25-personal": {"search", "search-catalogue"},
    "mean-rating": {"rating"},
    "mean-rating-star": {"rating"},
    "nearest-review": {"explanation"},
}


class OnlyRating(Model):
    """A model with one verb: everything else must come out 'unsupported', never 0."""

    name = "only-rating"

    def predict_rating(self, requests):
        return ["4"] * (len(requests) - 1) + ["no idea"]


register("only-rating", f"{__name__}:OnlyRating", "test model")


@pytest.fixture(scope="module")
def runs(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return {m: run(tiny_data, out, RunOptions(model=m, n_boot=50, run_id=m)) for m in SIMPLE}


@pytest.mark.parametrize("model", sorted(SIMPLE))
def test_simple_baseline_runs_every_task_and_split(runs, model, tiny_data):
    doc = json.loads((runs[model] / "results.json").read_text())
    assert {(r["task"], r["split"]) for r in doc["results"]} == {(t, s) for t in TASKS for s in EVAL_SPLITS}
    for r in doc["results"]:
        expected = "ok" if r["task"] in SIMPLE[model] else "unsupported"
        assert r["status"] == expected, (r["task"], r["split"], r["error"])
        if expected == "ok":
            assert r["n"] > 0 and r["scores"][r["main_score"]] == r["scores"][r["main_score"]]  # not NaN
            assert r["main_score"] in r["intervals"]
            lo, hi = r["intervals"][r["main_score"]]
            assert lo <= r["scores"][r["main_score"]] <= hi
            assert sha256_file(runs[model] / r["predictions"]) == r["predictions_sha256"]
        else:
            assert r["scores"] == {} and r["predictions"] is None
    for key in ("dataset", "environment", "seed", "model", "wall_time_s"):
        assert key in doc
    assert doc["dataset"]["sha256"] == PreparedDataset(tiny_data).sha256
    assert "## Table" in (runs[model] / "summary.md").read_text()


def test_scores_recompute_from_predictions(runs, tiny_data, tiny_labels):
    from benchmark.eval.scoring import score_predictions

    ds = PreparedDataset(tiny_data, labels=tiny_labels)
    doc = json.loads((runs["pop"] / "results.json").read_text())
    entry = next(r for r in doc["results"] if r["task"] == "recommendation" and r["split"] == "test")
    preds = [json.loads(line) for line in (runs["pop"] / entry["predictions"]).read_text().splitlines()]
    again = score_predictions("recommendation", ds.instances("recommendation", "test"), preds, ds, n_boot=50, seed=0)
    assert again.scores == pytest.approx(entry["scores"])


def test_pop_beats_random_on_recommendation(runs):
    def hr10(model):
        doc = json.loads((runs[model] / "results.json").read_text())
        return next(r for r in doc["results"] if r["task"] == "recommendation" and r["split"] == "test")["scores"]["hr@10"]

    assert hr10("pop") > hr10("random")


def test_missing_verb_is_unsupported_and_unparseable_rating_counted(tiny_data, tmp_path):
    run_dir = run(tiny_data, tmp_path, RunOptions(model="only-rating", splits=("test",), n_boot=20))
    doc = json.loads((run_dir / "results.json").read_text())
    by_task = {r["task"]: r for r in doc["results"]}
    assert by_task["rating"]["status"] == "ok"
    n = by_task["rating"]["n"]
    assert by_task["rating"]["scores"]["invalid_rate"] == pytest.approx(1 / n)
    for task in set(TASKS) - {"rating"}:
        assert by_task[task]["status"] == "unsupported" and by_task[task]["scores"] == {}


def test_perturbations_change_what_the_model_reads(tiny_data):
    from benchmark.data.perturb import PerturbedDataset

    ds = PreparedDataset(tiny_data)
    nt = PerturbedDataset(ds, "NT", seed=0)
    nv = PerturbedDataset(ds, "NV", seed=0)
    changed_text = (nt.items["text"] != ds.items["text"]).mean()
    assert 0.3 < changed_text < 0.9  # 20% of ~4-5 values per item: most items lose at least one
    with_image = ds.items["image"].notna()
    swapped = (nv.items["image"][with_image] != ds.items["image"][with_image]).mean()
    assert swapped == pytest.approx(0.2, abs=0.02)
    assert np.array_equal(PerturbedDataset(ds, "NV", seed=0).items["image"].to_numpy(), nv.items["image"].to_numpy())


@pytest.mark.parametrize("n_boot", [0, -5])
def test_run_refuses_fewer_than_one_resample_before_writing(tiny_data, tmp_path, n_boot):
    from typer.testing import CliRunner

    from unimp_bench.cli import app

    with pytest.raises(ValueError, match=f"n_boot must be an integer >= 1, got {n_boot}"):
        run(tiny_data, tmp_path / "api", RunOptions(model="random", tasks=("rating",), splits=("test",), n_boot=n_boot))
    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["run", "--model", "random", "--task", "rating", "--split", "test",
                                      "--data", str(tiny_data), "--out", str(out), "--n-boot", str(n_boot)])
    assert result.exit_code != 0 and "--n-boot" in result.output and "at least 1" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "api").exists() and not out.exists()  # nothing written
