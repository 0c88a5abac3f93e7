"""Holdout switches (`prepare --protocol`, `--new-user-fraction`, `--new-domain`) and the single-domain recipe:
sequence file -> convert -> prepare --protocol single-domain keeps every user, one test instance per user."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from benchmark.data import layout
from benchmark.data.dataset import PreparedDataset
from benchmark.data.labels import find_labels
from benchmark.eval.evaluator import RunOptions, run
from unimp_bench.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    from benchmark.prepare import prepare_default

    root = tmp_path_factory.mktemp("single")
    path = prepare_default(out=root / "data", raw=root / "raw", scale="tiny", seed=0, new_user_frac=0.0,
                           new_domain=None)
    return PreparedDataset(path, labels=find_labels(path))  # the test interactions are sealed answers


def test_single_domain_world_keeps_every_user_and_writes_no_holdout_files(single, tiny_data):
    files = single.manifest["files"]
    assert not [f for f in files if "new_user" in f or "new_domain" in f]
    assert (single.manifest["protocol"], single.manifest["new_user_fraction"], single.manifest["new_domain"]) == (
        "single-domain", 0.0, None)
    paper = PreparedDataset(tiny_data, labels=find_labels(tiny_data))
    assert paper.manifest["protocol"] == "paper" and paper.manifest["new_domain"] == layout.NEW_DOMAIN
    all_users = set(paper.interactions("test")["user"]) | set(paper.interactions("new_user")["user"])
    test = single.interactions("test")
    assert all_users <= set(test["user"]) and test["user"].is_unique
    # Office_Products is a training domain now: in the catalogue of the main splits
    assert single.catalogue_mask("test").all()
    card = (single.root / layout.DATA_CARD).read_text()
    assert "new_user" not in card.split("## Decisions")[0] and "**new_domain**: none" in card
    with pytest.raises(ValueError, match="no new_user split .*--new-user-fraction 0"):
        single.instances("recommendation", "new_user")


def test_evaluator_skips_absent_splits_in_one_line(single, tmp_path, capsys):
    out = run(single.root, tmp_path, RunOptions(model="pop", tasks=("recommendation", "rating"), n_boot=10))
    printed = capsys.readouterr().out
    assert printed.count("skipping split new_user") == 1 and printed.count("skipping split new_domain") == 1
    results = json.loads((out / "results.json").read_text())["results"]
    assert {r["split"] for r in results} == {"test"}


def test_new_domain_names_an_existing_domain(tmp_path):
    seq = tmp_path / "seq.txt"
    seq.write_text("".join(f"u{u} " + " ".join(str(i) for i in range(8)) + "\n" for u in range(8)))
    runner.invoke(app, ["convert", str(seq), "--format", "sequence", "--out", str(tmp_path / "t")])
    res = runner.invoke(app, ["prepare", "--source", "table", "--raw-dir", str(tmp_path / "t" / "interactions.parquet"),
                              "--time-range", "any", "--new-domain", "Books", "--out", str(tmp_path / "d")])
    assert res.exit_code == 2 and "--new-domain Books: no such domain in the data (domains: Beauty)" in res.output
    res = runner.invoke(app, ["prepare", "--source", "table", "--raw-dir", str(tmp_path / "t" / "interactions.parquet"),
                              "--new-user-fraction", "1", "--out", str(tmp_path / "d")])
    assert res.exit_code == 2 and "--new-user-fraction must be at least 0 and below 1" in res.output
    assert not (tmp_path / "d").exists()


def test_sequence_file_recipe_keeps_every_user_one_test_instance_each(tmp_path):
    """The README recipe for published single-domain tables, on a small generated sequence file."""
    lines, n_users = [], 60
    for u in range(n_users):  # every user and item well above the 5-core
        lines.append(f"user{u} " + " ".join(str((u + j) % 40) for j in range(6 + u % 5)))
    seq = tmp_path / "sequential_data.txt"
    seq.write_text("\n".join(lines) + "\n")
    assert runner.invoke(app, ["convert", str(seq), "--format", "sequence", "--out", str(tmp_path / "t")]).exit_code == 0
    res = runner.invoke(app, ["prepare", "--source", "table", "--raw-dir", str(tmp_path / "t" / "interactions.parquet"),
                              "--protocol", "single-domain", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    ds = PreparedDataset(tmp_path / "d", labels=find_labels(tmp_path / "d"))
    rec = ds.instances("recommendation", "test")
    assert len(rec) == n_users and rec["user"].nunique() == n_users
    # leave-one-out: the last item of each line is the test target, the second-to-last the valid one
    last = {f"user{u}": (u + 5 + u % 5) % 40 for u in range(n_users)}
    raw_of = ds.items.set_index("item")["raw_id"]
    assert {u: int(raw_of[t]) for u, t in zip(rec["user"], rec["target_item"])} == last
    assert len(ds.instances("recommendation", "valid")) == n_users
    assert not [f for f in ds.manifest["files"] if "new_" in f]
    assert pd.read_parquet(tmp_path / "d" / "interactions" / "train.parquet")["user"].nunique() == n_users


def test_converted_positions_need_no_time_range(tmp_path):
    """convert marks its position timestamps in the file; prepare then accepts them as an order ("any")."""
    seq = tmp_path / "seq.txt"
    seq.write_text("".join(f"u{u} " + " ".join(str((u + j) % 20) for j in range(7)) + "\n" for u in range(40)))
    assert runner.invoke(app, ["convert", str(seq), "--format", "sequence", "--out", str(tmp_path / "t")]).exit_code == 0
    res = runner.invoke(app, ["prepare", "--source", "table", "--raw-dir", str(tmp_path / "t" / "interactions.parquet"),
                              "--protocol", "single-domain", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "d" / layout.MANIFEST).read_text())
    assert manifest["value_ranges"]["timestamp"] == "any"
    # a table with real times keeps the default range: its positions would still be refused
    frame = pd.read_parquet(tmp_path / "t" / "interactions.parquet")
    frame.to_parquet(tmp_path / "plain.parquet")
    res = runner.invoke(app, ["prepare", "--source", "table", "--raw-dir", str(tmp_path / "plain.parquet"),
                              "--out", str(tmp_path / "d2")])
    assert res.exit_code == 2 and "outside the time range" in res.output


def test_too_few_items_for_selection_negatives_is_a_clear_error(tmp_path):
    """Every user rated every item of a tiny table: no negatives for selection. A clear error, no traceback,
    and no dataset folder left behind."""
    seq = tmp_path / "seq.txt"
    seq.write_text("".join(f"u{u} " + " ".join(str(i) for i in range(6)) + "\n" for u in range(8)))
    assert runner.invoke(app, ["convert", str(seq), "--format", "sequence", "--out", str(tmp_path / "t")]).exit_code == 0
    res = runner.invoke(app, ["prepare", "--source", "table", "--raw-dir", str(tmp_path / "t" / "interactions.parquet"),
                              "--protocol", "single-domain", "--out", str(tmp_path / "d")])
    assert res.exit_code == 2 and "error: selection task: user u0" in res.output and "too few items" in res.output
    assert isinstance(res.exception, SystemExit)  # the CLI exited; no exception escaped
    assert not (tmp_path / "d").exists()
