"""RecBole training on the tiny world: how each run ended (epochs, best epoch, stop reason) is recorded and
shown in the summary; TensorBoard events only when asked for; a run killed after an epoch resumes from its
checkpoint and ends exactly where an uninterrupted run ends."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from benchmark.data.dataset import PreparedDataset
from benchmark.eval.summary import summary_markdown

torch = pytest.importorskip("torch")
rm = pytest.importorskip("baselines.recbole_models")

FAST = {"train_batch_size": 512, "threads": 1, "MAX_ITEM_LIST_LENGTH": 10, "hidden_size": 16, "inner_size": 32}


def _fit(tiny_data, run_dir: Path, **config):
    model = rm.SASRecModel(config={**FAST, **config}, seed=0, run_dir=run_dir)
    model.fit(PreparedDataset(tiny_data), "main")
    return model


def _trainer(cur_step: int, epochs: int = 300):
    return SimpleNamespace(stopping_step=5, cur_step=cur_step, eval_step=1, epochs=epochs, best_valid_score=0.25,
                           config={"valid_metric": "MRR@10"})


def test_training_summary_says_why_training_stopped():
    early = rm.training_summary(_trainer(cur_step=6), last_epoch=20)  # RecBole stops at patience + 1
    assert early == {"epochs": 21, "epochs_cap": 300, "patience": 5, "best_epoch": 15,
                     "best_valid": {"mrr@10": 0.25}, "stop": "early stop: no valid improvement in 6 evals"}
    cap = rm.training_summary(_trainer(cur_step=2, epochs=21), last_epoch=20)
    assert cap["stop"] == "epoch cap" and cap["best_epoch"] == 19


def test_summary_shows_epochs_best_epoch_and_stop_reason():
    training = rm.training_summary(_trainer(cur_step=6), last_epoch=20)
    doc = {"model": {"name": "sasrec", "details": {"stopping": {"main": training}}}, "results": []}
    assert ("- sasrec (main): 21 epochs (best 15, early stop: no valid improvement in 6 evals; valid mrr@10 "
            "0.2500)") in summary_markdown([doc])
    for details in ({}, {"training": {"epochs_run": 3}}):  # another model's own "training" record is not read
        assert "## Training" not in summary_markdown([{"model": {"name": "p5", "details": details}, "results": []}])


def test_run_records_its_training_and_tensorboard_is_an_option(tiny_data, tmp_path):
    model = _fit(tiny_data, tmp_path / "on", epochs=2, stopping_step=5, tensorboard=True)
    training = model.describe()["stopping"]["main"]
    assert training["epochs"] == 2 and training["stop"] == "epoch cap" and training["best_epoch"] in (1, 2)
    assert training["best_valid"]["mrr@10"] == pytest.approx(model.describe()["recbole"]["main"]["best_valid"]["mrr@10"])
    assert list((tmp_path / "on" / "tensorboard" / "main_seq-train").glob("events.out.tfevents.*"))
    _fit(tiny_data, tmp_path / "off", epochs=1)
    assert not list((tmp_path / "off").rglob("events.out.tfevents.*"))  # RecBole's own log_tensorboard neither


class Killed(Exception):
    pass


def test_killed_run_resumes_from_its_checkpoint_to_the_same_result(tiny_data, tmp_path, monkeypatch):
    config = {"epochs": 3, "stopping_step": 5}
    whole = _fit(tiny_data, tmp_path / "whole", **config)

    def kill(epoch):
        if epoch == 0:
            raise Killed

    monkeypatch.setattr(rm, "_after_resume_state", lambda stage, epoch: kill(epoch))
    with pytest.raises(Killed):
        _fit(tiny_data, tmp_path / "killed", **config)
    assert list((tmp_path / "killed").rglob(rm.RESUME_FILE))
    monkeypatch.setattr(rm, "_after_resume_state", None)
    resumed = _fit(tiny_data, tmp_path / "killed", **config)

    # epoch 0 was not trained again: one validation line per epoch in the run's curves
    valid = [line for line in (tmp_path / "killed" / "curves.csv").read_text().splitlines() if ",valid," in line]
    assert [line.split(",")[2] for line in valid] == ["0", "1", "2"]
    assert resumed.describe()["stopping"] == whole.describe()["stopping"]
    req = PreparedDataset(tiny_data).instances("recommendation", "valid").iloc[:50]
    np.testing.assert_array_equal(resumed.rank("recommendation", req), whole.rank("recommendation", req))


S3REC = {"pretrain_epochs": 3, "epochs": 2, "stopping_step": 5}


@pytest.fixture(scope="module")
def s3rec_whole(tiny_data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("s3rec-whole")
    model = rm.S3RecModel(config={**FAST, **S3REC}, seed=0, run_dir=run_dir)
    model.fit(PreparedDataset(tiny_data), "main")
    return model, run_dir


def _rows(run_dir: Path, label: str, phase: str) -> list[tuple[str, str]]:
    """(step, value) of one stage's curve rows, in the order they were logged."""
    rows = [line.split(",") for line in (run_dir / "curves.csv").read_text().splitlines()[1:]]
    return [(r[2], r[4]) for r in rows if r[0] == label and r[1] == phase]


@pytest.mark.parametrize("stage, epoch", [("pretrain", 1), ("pretrain", 2), ("finetune", 0)])
def test_s3rec_killed_in_pretraining_resumes_it_to_the_same_result(stage, epoch, s3rec_whole, tiny_data, tmp_path,
                                                                   monkeypatch):
    """Killed after a pre-training epoch (the last one included: before its end-of-stage checkpoint) or in
    fine-tuning: pre-training continues from its last finished epoch, or is not run again at all."""
    whole, whole_dir = s3rec_whole

    def kill(at_stage, at_epoch):
        if (at_stage, at_epoch) == (stage, epoch):
            raise Killed

    monkeypatch.setattr(rm, "_after_resume_state", kill)
    with pytest.raises(Killed):
        rm.S3RecModel(config={**FAST, **S3REC}, seed=0, run_dir=tmp_path).fit(PreparedDataset(tiny_data), "main")
    monkeypatch.setattr(rm, "_after_resume_state", None)
    resumed = rm.S3RecModel(config={**FAST, **S3REC}, seed=0, run_dir=tmp_path)
    resumed.fit(PreparedDataset(tiny_data), "main")

    # every pre-training epoch trained once, with the uninterrupted run's losses
    pretrain = _rows(tmp_path, "main_seq/pretrain", "train")
    assert [s for s, _ in pretrain] == ["0", "1", "2"] and pretrain == _rows(whole_dir, "main_seq/pretrain", "train")
    assert _rows(tmp_path, "main_seq/finetune", "valid") == _rows(whole_dir, "main_seq/finetune", "valid")
    log = (tmp_path / "recbole" / "main_seq" / "s3rec.log").read_text()
    if stage == "pretrain":
        assert "s3rec/main_seq/pretrain: resumed from " in log and f"at epoch {epoch + 1}" in log
    assert resumed.describe()["stopping"] == whole.describe()["stopping"]
    req = PreparedDataset(tiny_data).instances("recommendation", "valid").iloc[:50]
    np.testing.assert_array_equal(resumed.rank("recommendation", req), whole.rank("recommendation", req))
