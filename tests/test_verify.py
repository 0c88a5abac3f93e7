"""`leaderboard verify`: a submission's recipe re-run on the public world and on a private world."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from benchmark.api import Model
from benchmark.api.registry import register
from benchmark.eval.evaluator import RunOptions, run
from leaderboard.verify import NOT_PRIVATE, NOT_REPRODUCED, PRIVATE_MARGIN, REPRODUCED, verify, verify_cli

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


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("secret") / "seed.txt"
    path.write_text(SECRET + "\n")
    return path


def _run(data, out, model, **kw):
    return run(data, out, RunOptions(model=model, tasks=("recommendation",), n_boot=200, run_id=model, **kw))


def test_honest_pop_is_reproduced_and_agrees_on_a_private_world(tiny_data, tmp_path, secret_file, capsys):
    sub = _run(tiny_data, tmp_path / "runs", "pop")
    code = verify_cli(sub, tiny_data, private_seed_file=secret_file)
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines()[-1] == f"{sub}: {REPRODUCED}", out
    assert "recommendation/test: predictions identical (deterministic model)" in out
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
