"""`leaderboard verify`: a submission's recipe re-run on the public world and on a private world."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.api import Model
from benchmark.api.registry import register
from benchmark.eval.evaluator import RunOptions, run
from leaderboard.verify import (
    ISOLATED,
    NOT_PRIVATE,
    NOT_REPRODUCED,
    PRIVATE_MARGIN,
    REPRODUCED,
    verify,
    verify_cli,
)

SECRET = "918273645"


class Memoriser(Model):
    """The "rebuilt answers" cheat: it regenerated the public world from its public seed and answers every
    recommendation instance by its id from what it rebuilt. Deterministic, so its re-run reproduces."""

    name = "memoriser"
    deterministic = True
    answers: dict = {}

    def supports(self, task, split):
        return task == "recommendation"

    def rank(self, task, requests):
        scores = np.zeros((len(requests), self.inference_data.n_items), dtype=np.float32)
        for row, i in enumerate(requests["id"]):
            if i in self.answers:
                scores[row, self.answers[i]] = 1.0
        return scores


register("memoriser", f"{__name__}:Memoriser", "test cheat")


class CrossTaskCheat(Model):
    """The cross-task cheat: the rating question of a scored split names the item the user's held-out
    interaction is about, which is the recommendation answer; it ranks that item first, read from the rating
    task's public scored file for the same user. Deterministic."""

    name = "cross-task-cheat"
    deterministic = True

    def supports(self, task, split):
        return task == "recommendation"

    def rank(self, task, requests):
        scores = np.zeros((len(requests), self.inference_data.n_items), dtype=np.float32)
        for row, (i, user) in enumerate(zip(requests["id"], requests["user"])):
            path = Path(self.inference_data.root) / "tasks" / "rating" / f"{i.split('/')[1]}.parquet"
            if path.is_file():
                asked = pd.read_parquet(path)
                scores[row, asked.loc[asked["user"] == user, "item"].astype(int).tolist()] = 1.0
        return scores


register("cross-task-cheat", f"{__name__}:CrossTaskCheat", "test cheat")


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("secret") / "seed.txt"
    path.write_text(SECRET + "\n")
    return path


def _run(data, out, model, **kw):
    return run(data, out, RunOptions(model=model, tasks=("recommendation",), n_boot=200, run_id=model, **kw))


def test_honest_pop_is_reproduced_and_agrees_on_a_private_world(tiny_data, tmp_path, secret_file, capsys):
    sub = run(tiny_data, tmp_path / "runs", RunOptions(model="pop", n_boot=200, run_id="pop"))  # all its tasks
    tasks = {e["task"] for e in json.loads((sub / "results.json").read_text())["results"] if e["status"] == "ok"}
    assert {"recommendation", "search", "search-catalogue", "selection"} <= tasks
    code = verify_cli(sub, tiny_data, private_seed_file=secret_file)
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines()[-1] == f"{sub}: {REPRODUCED}", out
    assert "isolation: each task re-run" in out  # each task on a view holding only its own scored inputs
    for task in tasks:
        assert f"{task}/test: predictions identical (deterministic model)" in out
    assert "private" in out and "beyond" not in out
    assert SECRET not in out  # the seed is never printed (and the private world lived in a removed temp folder)


@pytest.fixture
def memorised(tiny_labels):
    """What regenerating the public world from its public seed gives the cheat: every scored answer."""
    for rel in ("test", "new_user", "new_domain"):
        frame = pd.read_parquet(tiny_labels / "tasks" / "recommendation" / f"{rel}.parquet")
        Memoriser.answers.update(zip(frame["id"], frame["target_item"].astype(int)))


def test_rebuilt_answers_are_scored_then_flagged_by_the_private_world(tiny_data, memorised, tmp_path, secret_file):
    sub = _run(tiny_data, tmp_path / "runs", "memoriser")
    doc = json.loads((sub / "results.json").read_text())
    test = next(e for e in doc["results"] if e["task"] == "recommendation" and e["split"] == "test")
    assert test["status"] == "ok" and test["scores"]["hr@5"] == 1.0  # scored: its predictions are perfect
    public_only = verify(sub, tiny_data)
    assert public_only.outcome == REPRODUCED  # re-running the recipe alone cannot tell
    verdict = verify(sub, tiny_data, private_seed_file=secret_file)
    assert verdict.outcome == NOT_REPRODUCED and verdict.private == NOT_PRIVATE
    assert any("recommendation/test" in line and f"margin {PRIVATE_MARGIN}" in line for line in verdict.lines)
    assert all(SECRET not in line for line in verdict.lines)


def test_a_submission_whose_predictions_differ_from_its_recipe_is_not_reproduced(tiny_data, tmp_path):
    sub = _run(tiny_data, tmp_path / "runs", "pop")
    pred = next((sub / "predictions").glob("recommendation__test.jsonl"))
    lines = [json.loads(x) for x in pred.read_text().splitlines()]
    lines[0]["ranked"] = lines[0]["ranked"][::-1]
    pred.write_text("".join(json.dumps(x, sort_keys=True) + "\n" for x in lines))
    from benchmark.data.io import sha256_file

    doc = json.loads((sub / "results.json").read_text())
    for e in doc["results"]:
        if e["predictions"] == "predictions/recommendation__test.jsonl":
            e["predictions_sha256"] = sha256_file(pred)
    (sub / "results.json").write_text(json.dumps(doc))
    verdict = verify(sub, tiny_data)
    assert verdict.outcome == NOT_REPRODUCED
    assert any(line.startswith("recommendation/test: predictions DIFFER") for line in verdict.lines)


def test_another_code_revision_is_refused_unless_any_revision(tiny_data, tmp_path):
    sub = _run(tiny_data, tmp_path / "runs", "pop", splits=("test",))
    doc = json.loads((sub / "results.json").read_text())
    doc["environment"]["git"] = "0" * 40
    (sub / "results.json").write_text(json.dumps(doc))
    refused = verify(sub, tiny_data)
    assert refused.outcome == "refused" and "pass --any-revision" in refused.lines[0]
    anyway = verify(sub, tiny_data, any_revision=True)
    assert anyway.outcome == REPRODUCED and "compared anyway" in anyway.lines[0]


def test_verify_refuses_another_dataset_and_a_bad_seed_file(tiny_data, tmp_path):
    sub = _run(tiny_data, tmp_path / "runs", "pop", splits=("test",))
    doc = json.loads((sub / "results.json").read_text())
    doc["dataset"]["sha256"] = "f" * 64
    (sub / "results.json").write_text(json.dumps(doc))
    assert "was run on dataset ffff" in verify(sub, tiny_data).lines[0]
    bad = tmp_path / "seed.txt"
    bad.write_text("not a number 12345")
    with pytest.raises(ValueError, match="must hold one integer") as e:
        verify(sub, tiny_data, private_seed_file=bad)
    assert "12345" not in str(e.value)
    shutil.rmtree(sub)


def test_a_recorded_verification_makes_the_entry_reproduced_on_the_board(tiny_data, memorised, tmp_path, secret_file,
                                                                         capsys):
    from benchmark.data.dataset import PreparedDataset
    from leaderboard import build, submit
    from leaderboard.archive import archive_name

    lb = tmp_path / "lb"
    rows = {m: submit(_run(tiny_data, tmp_path / "runs", m), lb) for m in ("pop", "memoriser")}
    datasets = {PreparedDataset(tiny_data).sha256: tiny_data}
    assert build(lb, datasets).levels == {"pop/pop": "scored", "memoriser/memoriser": "scored"}
    for row in rows.values():
        archive = lb / "archives" / archive_name(row["archive"]["sha256"])
        verify_cli(archive, tiny_data, private_seed_file=secret_file, record=lb)
    assert "recorded in" in capsys.readouterr().out
    board = build(lb, datasets)
    assert board.levels == {"pop/pop": "reproduced", "memoriser/memoriser": "scored"}
    assert board.notes["memoriser/memoriser"] == f"verify: {NOT_REPRODUCED}, private world: {NOT_PRIVATE}"
    assert verify_cli(tmp_path / "runs" / "pop", tiny_data, record=lb) == 2  # a record needs the archive


def test_a_model_reading_another_tasks_scored_inputs_is_scored_but_not_reproduced(tiny_data, tmp_path):
    from benchmark.data.dataset import PreparedDataset
    from leaderboard import build, submit

    sub = _run(tiny_data, tmp_path / "runs", "cross-task-cheat")
    doc = json.loads((sub / "results.json").read_text())
    hr = {e["split"]: e["scores"]["hr@5"] for e in doc["results"] if e["status"] == "ok"}
    assert hr == {"test": 1.0, "new_user": 1.0, "new_domain": 1.0}  # the hole: the rating inputs answer it
    lb = tmp_path / "lb"
    submit(sub, lb)
    assert build(lb, {PreparedDataset(tiny_data).sha256: tiny_data}).levels == {
        "cross-task-cheat/cross-task-cheat": "scored"}  # a prediction-file submission cannot tell
    verdict = verify(sub, tiny_data)
    assert verdict.outcome == NOT_REPRODUCED, verdict.lines
    for split in hr:
        line = next(x for x in verdict.lines if x.startswith(f"recommendation/{split}:"))
        assert line.startswith(f"recommendation/{split}: predictions DIFFER (deterministic model{ISOLATED}); "
                               "hr@5 submitted 1.0000, re-run "), line
        assert float(line.rsplit(" ", 1)[1]) < 0.5


def test_honest_sasrec_is_reproduced_and_agrees_on_a_private_world(tiny_data, tmp_path, secret_file):
    """A trained model (RecBole, declared non-deterministic: re-run main score inside the submitted CI)."""
    pytest.importorskip("recbole")
    config = {"epochs": 2, "hidden_size": 16, "inner_size": 32, "n_layers": 1, "threads": 1, "train_batch_size": 256}
    sub = _run(tiny_data, tmp_path / "runs", "sasrec", splits=("test",), config=config)
    verdict = verify(sub, tiny_data, private_seed_file=secret_file)
    assert verdict.outcome == REPRODUCED and verdict.private == "agrees", verdict.lines
    assert any(line.startswith("recommendation/test: re-run hr@5 ") and " inside the submitted 95% interval" in line
               for line in verdict.lines), verdict.lines
