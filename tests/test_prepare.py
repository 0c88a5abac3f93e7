"""The prepared benchmark: determinism, splits, leakage, task sets, atomic writes (protocol 1-2)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from benchmark.data import layout
from benchmark.data.dataset import PreparedDataset
from benchmark.tasks import TASKS

BUILT = tuple(t for t, spec in TASKS.items() if spec.builds)  # the instance sets prepare writes


@pytest.fixture(scope="module")
def ds(tiny_data, tiny_labels):
    return PreparedDataset(tiny_data, labels=tiny_labels)  # the full view: the sealed answers joined back


def test_same_seed_gives_byte_identical_dataset(tiny_data, tmp_path):
    from benchmark.prepare import prepare_default

    again = prepare_default(out=tmp_path / "again", raw=tmp_path / "raw", scale="tiny", seed=0)
    first = json.loads((tiny_data / layout.MANIFEST).read_text())
    second = json.loads((again / layout.MANIFEST).read_text())
    assert first["files"] == second["files"]
    assert (tiny_data / layout.MANIFEST).read_bytes() == (again / layout.MANIFEST).read_bytes()


def test_worker_processes_do_not_change_the_dataset(tiny_data, tmp_path, monkeypatch):
    """Task sets and images are built by worker processes: in-process (one worker, the images in the
    foreground) gives the same bytes as the default (two task workers, images in the background, which the
    tiny world's few images only take when the threshold is lowered)."""
    import benchmark.prepare as prep

    monkeypatch.setattr(prep, "IMAGES_IN_BACKGROUND", 0)
    background = prep.prepare_default(out=tmp_path / "background", raw=tiny_data.parent / "raw", scale="tiny")
    monkeypatch.setattr(prep, "TASK_WORKERS", 1)
    monkeypatch.setattr(prep, "IMAGE_WORKERS", 1)
    inline = prep.prepare_default(out=tmp_path / "inline", raw=tiny_data.parent / "raw", scale="tiny")
    expected = (tiny_data / layout.MANIFEST).read_bytes()
    assert (background / layout.MANIFEST).read_bytes() == expected == (inline / layout.MANIFEST).read_bytes()


def test_manifest_hashes_every_file(tiny_data):
    from benchmark.data.io import sha256_file

    manifest = json.loads((tiny_data / layout.MANIFEST).read_text())
    on_disk = {p.relative_to(tiny_data).as_posix() for p in tiny_data.rglob("*") if p.is_file()}
    assert on_disk - {layout.MANIFEST, layout.VERIFY_CACHE} == set(manifest["files"])  # the cache is no part of it
    for rel, digest in list(manifest["files"].items())[:20]:
        assert sha256_file(tiny_data / rel) == digest
    assert set(manifest["decisions"]) >= {"dedupe", "k_core", "merge", "item_tokens", "new_users", "selection"}


def test_items_have_permuted_tokens_and_flat_text(ds):
    items = ds.items
    assert items["item"].tolist() == list(range(len(items)))
    assert items["text"].str.startswith("[IMG]").all() and items["text"].str.endswith("[EOC]").all()
    # tokens are not in order of (domain, raw id): consecutive ids must not leak the domain sequence
    ordered = items.sort_values(["domain", "raw_id"])["item"].to_numpy()
    assert not np.array_equal(ordered, np.sort(ordered))
    assert set(items["domain"]) == set(layout.ALL_DOMAINS)
    assert items["image"].isna().any() and items["image"].notna().any()


def test_leave_last_out_and_new_users(ds):
    train, valid, test = ds.interactions("train"), ds.interactions("valid"), ds.interactions("test")
    new = ds.interactions("new_user")
    assert valid.groupby("user").size().max() == 1 and test.groupby("user").size().max() == 1
    assert set(valid["user"]) == set(test["user"])
    # the test interaction is each user's last; valid the second to last
    last_train = train.groupby("user")["timestamp"].max()
    assert (valid.set_index("user")["timestamp"] >= last_train.reindex(valid["user"]).to_numpy()).all()
    new_users = set(new["user"])
    assert new_users and not new_users & (set(train["user"]) | set(valid["user"]) | set(test["user"]))
    for split in ("new_domain_train", "new_domain_valid", "new_domain_test"):
        assert not new_users & set(ds.interactions(split)["user"])
    n_main = len(set(train["user"]) | new_users)
    assert abs(len(new_users) - round(0.1 * n_main)) <= 1
    assert (ds.items.loc[train["item"], "domain"] != layout.NEW_DOMAIN).all()
    assert (ds.items.loc[ds.interactions("new_domain_test")["item"], "domain"] == layout.NEW_DOMAIN).all()


def test_no_validation_or_test_item_in_any_training_instance(ds):
    held_out = set()
    for split in ("valid", "test", "new_domain_valid", "new_domain_test"):
        f = ds.interactions(split)
        held_out |= set(zip(f["user"], f["item"]))
    new_users = set(ds.interactions("new_user")["user"])
    for task in BUILT:
        for split in ("train", "new_domain_train"):
            inst = ds.instances(task, split)
            assert not new_users & set(inst["user"]), (task, split)
            for row in inst.itertuples():
                used = list(row.history)
                for col in ("target_item", "item"):
                    v = getattr(row, col, None)
                    if v is not None and not pd.isna(v):
                        used.append(int(v))
                if getattr(row, "target_items", None) is not None:
                    used += list(row.target_items)
                assert not {(row.user, i) for i in used} & held_out, (task, split, row.id)


def test_task_sets_shapes(ds):
    for task in BUILT:
        for split in layout.TASK_SPLITS:
            inst = ds.instances(task, split)
            assert inst["id"].is_unique
            assert len(inst) > 0, (task, split)
    rec = ds.instances("recommendation", "test")
    test = ds.interactions("test").set_index("user")
    assert (rec["target_item"].to_numpy() == test.loc[rec["user"], "item"].to_numpy()).all()
    sel = ds.instances("selection", "test")
    for row in sel.itertuples():
        assert len(row.candidates) == 5 and len(set(row.candidates)) == 5
        assert set(row.target_items) <= set(row.candidates) and 1 <= len(row.target_items) <= 3
        negatives = set(row.candidates) - set(row.target_items)
        assert not negatives & set(row.history)
    search = ds.instances("search", "test")
    assert (search["query"].to_numpy() == ds.items.loc[search["target_item"], "category"].to_numpy()).all()
    assert search["instruction"].iloc[0].startswith(search["query"].iloc[0])
    img = ds.instances("image", "test")
    assert ds.items.loc[img["target_item"], "image"].notna().all()
    rating = ds.instances("rating", "test")
    assert rating["target_rating"].between(1, 5).all()
    expl = ds.instances("explanation", "test")
    assert (expl["target_text"].str.split().str.len() <= 30).all()


def test_interrupted_prepare_leaves_no_dataset(tiny_data, tmp_path, monkeypatch):
    import benchmark.prepare as prep

    def boom(*a, **k):
        raise RuntimeError("killed")

    monkeypatch.setattr(prep, "write_manifest_and_card", boom, raising=False)
    monkeypatch.setattr("benchmark.data.manifest.write_manifest_and_card", boom)
    raw = tiny_data.parent / "raw"
    with pytest.raises(RuntimeError):
        prep.prepare("amazon2014", raw, tmp_path / "out", image_size=32)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def test_existing_output_needs_force(tiny_data):
    from benchmark.prepare import prepare

    with pytest.raises(FileExistsError):
        prepare("amazon2014", tiny_data.parent / "raw", tiny_data)


def test_bad_line_stops_with_file_and_line_or_is_counted_with_skip_bad(tiny_data, tmp_path):
    import gzip
    import shutil

    from benchmark.data.errors import DataError
    from benchmark.prepare import prepare

    raw = tmp_path / "raw"
    shutil.copytree(tiny_data.parent / "raw", raw)
    path = raw / "reviews_Baby_5.json.gz"
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    lines.insert(3, b'{"reviewerID": "A1", "asin": \n')  # line 4 is broken JSON
    path.write_bytes(gzip.compress(b"".join(lines)))
    with pytest.raises(DataError, match=r"reviews_Baby_5\.json\.gz:4"):
        prepare("amazon2014", raw, tmp_path / "strict", image_size=32)
    assert not (tmp_path / "strict").exists()
    out = prepare("amazon2014", raw, tmp_path / "lenient", image_size=32, skip_bad=True)
    skipped = json.loads((out / layout.MANIFEST).read_text())["skipped"]
    assert [(s["file"], s["count"]) for s in skipped] == [("reviews_Baby_5.json.gz", 1)]
    assert ":4" in skipped[0]["first"]


def _copy_raw(tiny_data, tmp_path):
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(tiny_data.parent / "raw", raw)
    return raw


def _append_lines(path, lines: list[bytes]) -> None:
    import gzip

    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + b"".join(line + b"\n" for line in lines), mtime=0))


def test_same_bad_input_gives_the_same_dataset_with_skip_bad(tiny_data, tmp_path):
    from benchmark.prepare import prepare

    raw = _copy_raw(tiny_data, tmp_path)
    # a metadata line that is not a plain literal: ast names the node by its repr, with a memory address
    _append_lines(raw / "meta_Baby.json.gz", [b"{'title': f(1)}", b"{'title': [x for x in y]}"])
    _append_lines(raw / "reviews_Baby_5.json.gz", [b'{"reviewerID": "U", "asin": "I", "overall": 7.0, "unixReviewTime": 1300000000}'])
    shas = []
    for name in ("one", "two"):
        out = prepare("amazon2014", raw, tmp_path / name, image_size=32, skip_bad=True)
        manifest = json.loads((out / layout.MANIFEST).read_text())
        shas.append(manifest["dataset_sha256"])
        card = (out / layout.DATA_CARD).read_text()
        assert "malformed literal" in card and "0x" not in card
    assert shas[0] == shas[1]
    reasons = {(s["file"], s["reason"]): s["count"] for s in manifest["skipped"]}
    assert reasons == {("meta_Baby.json.gz", "malformed literal"): 2, ("reviews_Baby_5.json.gz", "out of range"): 1}
    assert manifest["value_ranges"] == {"rating": "1..5", "timestamp": "1990-01-01 .. one day after the time of preparation"}


def test_every_skipped_record_is_listed_in_skipped_jsonl(tiny_data, tmp_path):
    from benchmark.prepare import prepare

    raw = _copy_raw(tiny_data, tmp_path)
    n_lines = len(__import__("gzip").decompress((raw / "reviews_Toys_and_Games_5.json.gz").read_bytes()).splitlines())
    _append_lines(raw / "reviews_Toys_and_Games_5.json.gz", [b'{"reviewerID": "U", "asin": ' for _ in range(30)])
    out = prepare("amazon2014", raw, tmp_path / "out", image_size=32, skip_bad=True)
    rows = [json.loads(line) for line in (out / layout.SKIPPED).read_text().splitlines()]
    assert [r["line"] for r in rows] == list(range(n_lines + 1, n_lines + 31))
    assert {(r["file"], r["reason"]) for r in rows} == {("reviews_Toys_and_Games_5.json.gz", "malformed json")}
    assert rows[0]["message"].startswith(f"reviews_Toys_and_Games_5.json.gz:{n_lines + 1}: malformed json")
    manifest = json.loads((out / layout.MANIFEST).read_text())
    assert layout.SKIPPED in manifest["files"] and "skipped.jsonl" in (out / layout.DATA_CARD).read_text()
    assert not (tiny_data / layout.SKIPPED).exists()  # a clean run writes none


def test_data_card_caps_the_skipped_groups():
    from benchmark.data.manifest import data_card

    info = {"source": "table", "seed": 0, "k_core": 5, "new_user_fraction": 0.1, "n_items": 1, "items_without_image": 0,
            "image_size": 32, "domains": {}, "splits": {}, "instances": {}, "decisions": {}, "warnings": [],
            "skipped": [{"file": f"f{i:02d}.csv", "reason": "wrong type", "count": 1, "first": f"f{i:02d}.csv:1: bad"}
                        for i in range(45)]}
    card = data_card(info)
    assert "f19.csv" in card and "f20.csv" not in card
    assert "25 more" in card and "skipped.jsonl" in card


def test_empty_reviews_file_stops_prepare_or_is_a_counted_skip(tiny_data, tmp_path):
    from benchmark.data.errors import DataError
    from benchmark.prepare import prepare

    raw = _copy_raw(tiny_data, tmp_path)
    (raw / "reviews_Toys_and_Games_5.json.gz").write_bytes(b"")
    with pytest.raises(DataError, match=r"reviews_Toys_and_Games_5\.json\.gz: empty file"):
        prepare("amazon2014", raw, tmp_path / "strict", image_size=32)
    out = prepare("amazon2014", raw, tmp_path / "lenient", image_size=32, skip_bad=True)
    manifest = json.loads((out / layout.MANIFEST).read_text())
    (skip,) = manifest["skipped"]
    assert (skip["file"], skip["reason"], skip["count"]) == ("reviews_Toys_and_Games_5.json.gz", "empty file", 1)
    assert "Toys_and_Games" in skip["first"] and "Toys_and_Games" not in manifest["domains"]
    assert not any("Toys_and_Games" in w for w in manifest["warnings"])  # reported once, as the skip


def test_cli_prepare_ranges(tiny_data, tmp_path):
    from typer.testing import CliRunner

    from unimp_bench.cli import app

    raw = _copy_raw(tiny_data, tmp_path)
    runner = CliRunner()
    base = ["prepare", "--source", "amazon2014", "--raw-dir", str(raw), "--image-size", "32"]
    got = runner.invoke(app, base + ["--out", str(tmp_path / "a"), "--rating-range", "0,10"])
    assert got.exit_code == 2 and "--rating-range" in got.output and "table" in got.output
    got = runner.invoke(app, base + ["--out", str(tmp_path / "b"), "--time-range", "2030-01-01,1990-01-01"])
    assert got.exit_code == 2 and "--time-range" in got.output and "empty" in got.output
    # every world review is from 2003..2014: a range ending in 2005 rejects some, naming file and line
    got = runner.invoke(app, base + ["--out", str(tmp_path / "c"), "--time-range", "1990-01-01,2005-01-01"])
    assert got.exit_code == 2 and ".json.gz:" in got.output and "1990-01-01 .. 2005-01-01" in got.output
    got = runner.invoke(app, base + ["--out", str(tmp_path / "d"), "--time-range", "2000-01-01,2020-01-01"])
    assert got.exit_code == 0, got.output
    manifest = json.loads((tmp_path / "d" / layout.MANIFEST).read_text())
    assert manifest["value_ranges"]["timestamp"] == "2000-01-01 .. 2020-01-01"
    tiny_files = json.loads((tiny_data / layout.MANIFEST).read_text())["files"]
    del manifest["files"][layout.DATA_CARD], tiny_files[layout.DATA_CARD]  # the cards name the source and scale
    assert manifest["files"] == tiny_files  # the range only checks: the data are the same


def test_data_card_names_the_embedded_world_as_its_source(tiny_data, tmp_path):
    from benchmark.prepare import prepare

    manifest = json.loads((tiny_data / layout.MANIFEST).read_text())
    assert (manifest["source"], manifest["format"]) == ("embedded-world", "amazon2014")
    card = (tiny_data / layout.DATA_CARD).read_text()
    assert "source: `embedded-world`, scale `tiny`; files read in the `amazon2014` format" in card
    out = prepare("amazon2014", _copy_raw(tiny_data, tmp_path), tmp_path / "release", image_size=32)
    manifest = json.loads((out / layout.MANIFEST).read_text())
    assert (manifest["source"], manifest["format"]) == ("amazon2014", "amazon2014")  # a release names itself
    assert "format" not in (out / layout.DATA_CARD).read_text().split("\n")[2]


def test_a_failed_prepare_leaves_no_spilled_texts(tmp_path, monkeypatch):
    """The review texts are spilled beside the output while prepare runs; an error removes them (and a killed
    run's are removed as stale by the next prepare into the same folder)."""
    import benchmark.prepare as prep
    from benchmark.data.io import remove_stale_staging

    seen = []

    def fail(*args, **kwargs):
        seen.extend(tmp_path.glob(".out.spill-*/*.arrow"))
        raise RuntimeError("stop here")

    monkeypatch.setattr(prep, "_write_task_sets", fail)
    with pytest.raises(RuntimeError, match="stop here"):
        prep.prepare_default(out=tmp_path / "out", raw=tmp_path / "raw", scale="tiny")
    assert len(seen) == 7  # one file per domain existed when the task sets started
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]  # no spill, no staging folder, nothing else
    dead = tmp_path / ".out.spill-999999999"
    dead.mkdir()
    (dead / "x.arrow").write_bytes(b"")
    remove_stale_staging(tmp_path, "out")
    assert not dead.exists()
