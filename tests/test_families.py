"""The paper's other baseline families: Cornac's visually-aware recommenders, UniSRec-style, P5/VIP5-style."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.api import PreparedDataset
from benchmark.api.image_features import item_image_features
from benchmark.eval.evaluator import RunOptions, run

TINY = {"epochs": 2, "stopping_step": 1, "threads": 1}


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("UNIMP_BENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def test_image_features_cached_by_the_images(tiny_data):
    data = PreparedDataset(tiny_data)
    feats, has = item_image_features(data)
    assert feats.shape[0] == data.n_items and has.sum() == data.items["image"].notna().sum()
    assert np.abs(feats[has]).sum(axis=1).min() > 0 and not feats[~has].any()
    again, _ = item_image_features(data)
    assert np.array_equal(feats, again)


@pytest.mark.parametrize("name", ["vbpr", "causalrec", "amr"])
def test_cornac_models_through_the_evaluator(name, tiny_data, tmp_path):
    out = run(tiny_data, tmp_path, RunOptions(model=name, tasks=("recommendation", "selection"),
                                              splits=("test", "new_user"), config=TINY, n_boot=20, run_id=name))
    doc = json.loads((out / "results.json").read_text())
    status = {(r["task"], r["split"]): r for r in doc["results"]}
    for task in ("recommendation", "selection"):
        assert status[(task, "test")]["status"] == "ok", status[(task, "test")]
        assert status[(task, "new_user")]["status"] == "unsupported"
    assert status[("recommendation", "test")]["scores"][status[("recommendation", "test")]["main_score"]] >= 0
    assert doc["model"]["details"]["cornac"]["main"]["epochs_at_best"] >= 1


def test_causalrec_scores_do_not_drift_between_calls(tiny_data):
    """Cornac 3.0.1's CausalRec.score adds into its own bias arrays: two calls must still agree."""
    from baselines.cornac_models import CausalRecModel

    data = PreparedDataset(tiny_data)
    model = CausalRecModel(TINY)
    model.fit(data, "main")
    requests = data.instances("recommendation", "test").head(4)
    first = model.rank("recommendation", requests)
    assert np.array_equal(first, model.rank("recommendation", requests))


def test_unisrec_through_the_evaluator(tiny_data, tmp_path):
    tasks = ("recommendation", "search", "selection")
    out = run(tiny_data, tmp_path, RunOptions(model="unisrec", tasks=tasks, splits=("test", "new_user"),
                                              config=TINY, n_boot=20, run_id="unisrec"))
    doc = json.loads((out / "results.json").read_text())
    for r in doc["results"]:
        assert r["status"] == "ok", (r["task"], r["split"], r["error"])
        assert r["scores"][r["main_score"]] >= 0
    assert doc["model"]["details"]["recbole"]["main"]["model"] == "UniSRecNet"


@pytest.mark.parametrize("name", ["p5-style", "vip5-style"])
def test_p5_style_models_through_the_evaluator(name, tiny_data, tmp_path):
    tasks = ("recommendation", "selection", "rating", "explanation")
    out = run(tiny_data, tmp_path, RunOptions(model=name, tasks=tasks, splits=("test",),
                                              config={"epochs": 1, "threads": 1, "d_model": 32, "d_ff": 64,
                                                      "examples_per_epoch": 300},
                                              n_boot=20, run_id=name))
    doc = json.loads((out / "results.json").read_text())
    for r in doc["results"]:
        assert r["status"] == "ok", (r["task"], r["error"])
    assert doc["model"]["details"]["training"]["main"]["epochs_run"] == 1
    assert "no pretrained T5" in doc["model"]["details"]["not_the_published_model"]


def test_summary_groups_rows_by_family():
    from benchmark.api.registry import MODELS
    from benchmark.eval.summary import summary_markdown

    result = {"task": "recommendation", "split": "test", "status": "ok", "scores": {"hr@5": 0.1}, "intervals": {}}
    docs = [{"model": {"name": n}, "results": [result]} for n in ("vbpr", "pop", "unisrec", "sasrec")]
    families = {n: MODELS[n].family for n in ("pop", "sasrec", "unisrec", "vbpr")}
    text = summary_markdown(docs, families)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "0.1000" in line]
    assert [r.split(" | ")[0:2] for r in rows[:4]] == [["| simple", "pop"], ["| sequential", "sasrec"],
                                                       ["| generative", "unisrec"], ["| multi-modal", "vbpr"]]


def test_p5_prompts_of_new_users_hold_every_history_item_as_one_token(tiny_data):
    """New users' items are in p5-style's vocabulary (all catalogue items are): their 0 HR@5 on the default
    world is a popularity-like ranking missing their targets, not unknown items."""
    from baselines.p5_style import TRAIN_TASKS, P5StyleModel

    data = PreparedDataset(tiny_data)
    model = P5StyleModel({"max_history": 5})
    tok = model._tokenizer(data, {t: data.instances(t, "train") for t in TRAIN_TASKS})
    item_of = {tok.convert_tokens_to_ids(f"<i{int(t)}>"): int(t) for t in data.items.index}
    requests = data.instances("recommendation", "new_user")
    assert len(requests)
    for row in requests.itertuples():
        ids = tok(model._prompt(row))["input_ids"]
        assert tok.unk_token_id not in ids
        assert [item_of[i] for i in ids if i in item_of] == [int(h) for h in row.history[-5:]]


def test_tune_cornac_prints_its_grid_on_validation(tiny_data, capsys):
    import importlib.util
    import re
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "tune_cornac.py"
    spec = importlib.util.spec_from_file_location("tune_cornac", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--data", str(tiny_data), "--models", "vbpr", "--lr", "0.01", "--k", "4", "--set", "epochs=2"])
    out = capsys.readouterr().out
    assert re.search(r"pop: valid MRR@10 0\.\d{4}", out)
    assert re.search(r"\| vbpr \| 0.01 \| 4 \| 0.01 \| 0\.\d{4} \| [12] \| \d+ \|", out)
    assert "best vbpr: valid MRR@10" in out


def test_valid_mrr_for_early_stopping_breaks_ties_pessimistically(tiny_data):
    """Constant scores tie every item with the target: MRR@10 0, as the evaluator's ranks say, never 1."""
    import pandas as pd

    from baselines.cornac_models import CausalRecModel, _Run
    from baselines.p5_style import P5StyleModel

    class Constant:
        def score(self, uidx):
            return np.zeros(12)

    run = _Run(Constant(), {"u1": 0, "u2": 1}, {str(i): i for i in range(12)}, n_items=12)
    valid = pd.DataFrame({"user": ["u1", "u2"], "item": [5, 7]})
    assert CausalRecModel(TINY)._valid_mrr(run, valid, {"u1": np.array([6])}) == 0.0
    data = PreparedDataset(tiny_data)
    requests = data.instances("recommendation", "valid").head(5)
    p5 = P5StyleModel(TINY)
    p5._item_scores = lambda net, rows: np.zeros((len(rows), data.n_items), dtype=np.float32)
    assert p5._valid_mrr(None, requests, data) == 0.0
