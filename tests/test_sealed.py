"""Sealed answers: the public folder holds only the inputs of the scored splits; their answers are in the
labels folder, committed to by the public manifest; models see inputs only; scoring needs the labels."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.api import Model
from benchmark.api.registry import register
from benchmark.data import layout
from benchmark.data.dataset import PreparedDataset
from benchmark.data.errors import IntegrityError
from benchmark.data.manifest import dataset_sha256, file_hashes
from benchmark.data.regimes import EVAL_SPLITS, SEALED_INTERACTIONS
from benchmark.eval.evaluator import RunOptions, run
from benchmark.tasks import ANSWER_COLUMNS, TASKS

BUILT = tuple(t for t, spec in TASKS.items() if spec.builds)


def test_answer_columns_are_the_tasks_declarations():
    assert set(ANSWER_COLUMNS) == {c for c in layout.INSTANCE_COLUMNS if c.startswith("target_")}
    for name in BUILT:
        assert TASKS[name].answers and set(TASKS[name].answers) <= set(layout.INSTANCE_COLUMNS), name


def _public_tables(root: Path):
    for path in sorted(root.rglob("*.parquet")):
        yield path.relative_to(root).as_posix(), pd.read_parquet(path)


def _same(x, y) -> bool:
    as_list = lambda v: np.asarray(v).tolist() if isinstance(v, (list, np.ndarray)) else v  # noqa: E731
    return as_list(x) == as_list(y)


def test_copying_answers_the_public_folder_has_none(tiny_data, tiny_labels):
    """Nothing in the public folder can be copied into predictions: no answer column in a scored split's
    instances, no scored interaction file, and no column of any public table equals a scored split's answers."""
    full = PreparedDataset(tiny_data, labels=tiny_labels)
    for split in SEALED_INTERACTIONS:
        assert not layout.interactions_path(tiny_data, split).exists()
    answers = []
    for name in BUILT:
        for split in EVAL_SPLITS:
            cols = set(pd.read_parquet(layout.task_path(tiny_data, name, split)).columns)
            assert not cols & set(ANSWER_COLUMNS), f"{name}/{split}"
            frame = full.instances(name, split)
            answers += [frame[c].tolist() for c in TASKS[name].answers if len(frame)]
        # training and model selection keep their answers
        assert set(TASKS[name].answers) <= set(PreparedDataset(tiny_data).instances(name, "valid").columns)
    # By the paper's protocol a rating/explanation question of a scored split asks about the user's held-out
    # item, which is also that user's recommendation answer: that `item` input is the one allowed
    # coincidence (a model never reads those files itself, see the model-view test; a hand-made submission
    # that copies them is what re-running the recipe catches).
    about_item = {layout.task_path(Path(), t, s).as_posix() for t in ("rating", "explanation") for s in EVAL_SPLITS}
    for rel, table in _public_tables(tiny_data):
        for col in table.columns:
            if rel in about_item and col == "item":
                continue
            values = table[col].tolist()
            for a in answers:
                if len(a) == len(values):
                    assert not all(_same(x, y) for x, y in zip(values, a)), f"{rel}:{col} equals a scored split's answers"


def test_manifest_commits_to_the_labels(tiny_data, tiny_labels, tmp_path):
    manifest = json.loads((tiny_data / layout.MANIFEST).read_text())
    listed = {k: v for k, v in file_hashes(tiny_labels).items() if k != layout.LABELS_MARKER}
    assert manifest["labels"] == listed and len(listed) == len(BUILT) * len(EVAL_SPLITS) + len(SEALED_INTERACTIONS)
    assert manifest["dataset_sha256"] == dataset_sha256(manifest["files"], manifest["labels"])
    assert manifest["dataset_sha256"] != dataset_sha256(manifest["files"])  # the identity covers the labels
    marker = json.loads((tiny_labels / layout.LABELS_MARKER).read_text())
    assert marker == {"dataset_sha256": manifest["dataset_sha256"], "files": listed}
    # a labels file changed after prepare is refused, naming it
    labels = shutil.copytree(tiny_labels, tmp_path / "labels", ignore=shutil.ignore_patterns(layout.VERIFY_CACHE))
    rel = "tasks/recommendation/test.parquet"
    frame = pd.read_parquet(labels / rel)
    frame["target_item"] = frame["target_item"].iloc[::-1].to_numpy()
    frame.to_parquet(labels / rel, index=False)
    with pytest.raises(IntegrityError, match=f"{rel}: sha256 mismatch"):
        PreparedDataset(tiny_data, labels=labels)


def test_same_inputs_and_seed_give_byte_identical_public_and_labels_folders(tiny_data, tiny_labels, tmp_path):
    from benchmark.prepare import prepare_default

    again = prepare_default(out=tmp_path / "again", raw=tmp_path / "raw", scale="tiny", seed=0,
                            labels_out=tmp_path / "sealed")
    for a, b in ((tiny_data, again), (tiny_labels, tmp_path / "sealed")):
        ha = {k: v for k, v in file_hashes(a).items() if not k.startswith(".")}
        hb = {k: v for k, v in file_hashes(b).items() if not k.startswith(".")}
        assert ha == hb
    assert (tiny_data / layout.MANIFEST).read_bytes() == (again / layout.MANIFEST).read_bytes()


# ---- the model's view --------------------------------------------------------------------------------
class Spy(Model):
    """Answers every ranking, rating and text question, recording what it was given."""

    name = "spy"
    seen: list = []

    def fit(self, data, regime):
        Spy.seen.append(("fit", data))

    def rank(self, task, requests):
        Spy.seen.append((task, requests.copy()))
        width = len(requests["candidates"].iloc[0]) if task == "selection" else self.inference_data.n_items
        return np.zeros((len(requests), width), dtype=np.float32)

    def predict_rating(self, requests):
        Spy.seen.append(("rating", requests.copy()))
        return ["3"] * len(requests)

    def generate_text(self, requests):
        Spy.seen.append(("explanation", requests.copy()))
        return ["fine"] * len(requests)


register("spy", f"{__name__}:Spy", "test model")


def test_the_model_view_of_a_scored_instance_carries_no_answer(tiny_data, tiny_labels, tmp_path):
    Spy.seen.clear()
    run_dir = run(tiny_data, tmp_path, RunOptions(model="spy", tasks=("recommendation", "search", "selection",
                                                                       "rating", "explanation"), n_boot=10))
    doc = json.loads((run_dir / "results.json").read_text())
    assert {r["status"] for r in doc["results"]} == {"ok"}  # the labels beside the data scored them
    full = PreparedDataset(tiny_data, labels=tiny_labels)
    scored = 0
    for kind, what in Spy.seen:
        if kind == "fit":
            assert what.labels is None
            with pytest.raises(PermissionError, match="sealed"):
                what.interactions("test")
            for split in EVAL_SPLITS:  # nor another task's scored instances (rating's item = the next item)
                with pytest.raises(PermissionError, match="never reads them itself"):
                    what.instances("rating", split)
            assert len(what.instances("rating", "valid"))
            continue
        split = what["id"].iloc[0].split("/")[1]
        if split not in EVAL_SPLITS:
            continue  # selection's threshold is chosen on valid, which keeps its answers
        scored += 1
        assert not set(what.columns) & set(ANSWER_COLUMNS), f"{kind}/{split}: {sorted(what.columns)}"
        task = what["id"].iloc[0].split("/")[0]
        truth = full.instances(task, split).set_index("id").loc[what["id"]]
        if "target_item" in truth:  # the next item is neither in the history nor the item asked about
            for hist, target in zip(what["history"], truth["target_item"]):
                assert target not in list(hist)
            assert "item" not in what or what["item"].isna().all()
    assert scored >= 5 * len(EVAL_SPLITS) - 1


def test_run_without_labels_writes_predictions_and_says_it_cannot_score(tiny_data, tiny_labels, tmp_path, capsys):
    bare = shutil.copytree(tiny_data, tmp_path / "bare", ignore=shutil.ignore_patterns(layout.VERIFY_CACHE))
    opts = dict(model="pop", tasks=("recommendation",), splits=("test",), n_boot=20)
    unscored = run(bare, tmp_path / "runs", RunOptions(**opts, run_id="a"))
    assert "cannot score: no labels folder" in capsys.readouterr().out
    entry = json.loads((unscored / "results.json").read_text())["results"][0]
    assert entry["status"] == "unscored" and entry["scores"] == {} and (unscored / entry["predictions"]).is_file()
    assert "unscored" in (unscored / "summary.md").read_text()
    scored = run(bare, tmp_path / "runs", RunOptions(**opts, run_id="b", labels=str(tiny_labels)))
    entry_b = json.loads((scored / "results.json").read_text())["results"][0]
    assert entry_b["status"] == "ok" and entry_b["scores"]["hr@5"] >= 0
    assert (scored / entry_b["predictions"]).read_bytes() == (unscored / entry["predictions"]).read_bytes()


# ---- bad labels ---------------------------------------------------------------------------------------
@pytest.fixture
def copies(tiny_data, tiny_labels, tmp_path):
    skip = shutil.ignore_patterns(layout.VERIFY_CACHE)
    return (shutil.copytree(tiny_data, tmp_path / "d", ignore=skip),
            shutil.copytree(tiny_labels, tmp_path / "d.labels", ignore=skip))


def test_labels_of_another_dataset_are_refused(copies):
    data, labels = copies
    marker = json.loads((labels / layout.LABELS_MARKER).read_text())
    marker["dataset_sha256"] = "0" * 64
    (labels / layout.LABELS_MARKER).write_text(json.dumps(marker))
    with pytest.raises(IntegrityError, match="labels.json: the labels of dataset 0000"):
        PreparedDataset(data, labels=labels)


def test_a_labels_entry_cannot_escape_the_labels_folder(copies, tmp_path):
    data, labels = copies
    manifest = json.loads((data / layout.MANIFEST).read_text())
    manifest["labels"]["../outside.parquet"] = "0" * 64
    manifest["dataset_sha256"] = dataset_sha256(manifest["files"], manifest["labels"])
    (data / layout.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="bad file entry '../outside.parquet'"):
        PreparedDataset(data)


def test_a_labels_file_linked_outside_is_refused(copies, tmp_path):
    data, labels = copies
    rel = labels / "tasks" / "rating" / "test.parquet"
    moved = shutil.move(rel, tmp_path / "elsewhere.parquet")
    os.symlink(moved, rel)
    with pytest.raises(IntegrityError, match="resolves outside the labels folder"):
        PreparedDataset(data, labels=labels)


def test_labels_folder_inside_the_public_one_is_refused(tmp_path):
    from benchmark.prepare import check_out

    for labels_out in (tmp_path / "d" / "labels", tmp_path / "d", tmp_path):
        with pytest.raises(FileExistsError, match="must be outside --out"):
            check_out(tmp_path / "d", False, labels_out)


def test_force_replaces_only_a_labels_folder(tiny_data, tmp_path):
    from benchmark.prepare import check_out

    not_labels = tmp_path / "notes"
    not_labels.mkdir()
    with pytest.raises(FileExistsError, match="is not a labels folder"):
        check_out(tmp_path / "new", True, not_labels)
    with pytest.raises(FileExistsError, match="exists; pass --force"):
        check_out(tmp_path / "new", False, not_labels)


def test_cli_prepare_labels_out_and_run_labels(tiny_data, tiny_labels, tmp_path):
    from typer.testing import CliRunner

    from unimp_bench.cli import app

    raw = tiny_data.parent / "raw"
    res = CliRunner().invoke(app, ["prepare", "--source", "amazon2014", "--raw-dir", str(raw), "--image-size", "32",
                                   "--out", str(tmp_path / "pub"), "--labels-out", str(tmp_path / "private" / "L")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "private" / "L" / layout.LABELS_MARKER).is_file() and not (tmp_path / "pub.labels").exists()
    res = CliRunner().invoke(app, ["run", "--model", "pop", "--task", "recommendation", "--split", "test",
                                   "--data", str(tmp_path / "pub"), "--labels", str(tmp_path / "private" / "L"),
                                   "--out", str(tmp_path / "runs"), "--run-id", "r", "--n-boot", "10"])
    assert res.exit_code == 0, res.output
    entry = json.loads((tmp_path / "runs" / "r" / "results.json").read_text())["results"][0]
    assert entry["status"] == "ok"
    res = CliRunner().invoke(app, ["run", "--model", "pop", "--data", str(tmp_path / "pub"), "--labels",
                                   str(tmp_path / "nowhere"), "--out", str(tmp_path / "runs"), "--run-id", "s"])
    assert res.exit_code == 2 and "labels folder" in res.output and "nowhere" in res.output


def test_a_task_view_holds_only_its_own_scored_inputs_and_keeps_the_dataset_identity(tiny_data, tmp_path):
    from benchmark.data.views import build_view, scored_instances

    ds = PreparedDataset(tiny_data)
    view = build_view(tiny_data, tmp_path / "views" / tiny_data.name, "recommendation", ds.manifest["files"])
    seen = PreparedDataset(view)  # every file there verified against the dataset's own manifest
    assert seen.sha256 == ds.sha256 and seen.withheld
    files = {p.relative_to(view).as_posix() for p in view.rglob("*") if p.is_file()}
    assert {rel for rel in files if scored_instances(rel)} == {f"tasks/recommendation/{s}.parquet" for s in EVAL_SPLITS}
    assert set(ds.manifest["files"]) - seen.withheld <= files  # training, validation, items, images: all there
    assert "tasks/rating/valid.parquet" in files
    with pytest.raises(PermissionError, match="withheld from this task view"):
        seen.instances("rating", "test")
    doc = json.loads((view / layout.VIEW_FILE).read_text())
    (view / layout.VIEW_FILE).write_text(json.dumps(dict(doc, withheld=doc["withheld"] + ["tasks/rating/valid.parquet"])))
    with pytest.raises(IntegrityError, match="may withhold only scored splits' instance files"):
        PreparedDataset(view)  # a view cannot drop what a model trains or selects on
