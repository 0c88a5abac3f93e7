"""Integrity on every use: a prepared dataset is checked against its manifest before anything reads it."""
from __future__ import annotations

import json
import os
import shutil
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from benchmark.data import layout
from benchmark.data.errors import DataError
from benchmark.data.io import sha256_file
from unimp_bench.cli import app

REC_TEST = "tasks/recommendation/test.parquet"


@pytest.fixture
def data(tiny_data, tmp_path):
    """A private copy of the tiny dataset, safe to tamper with (without the session copy's hash cache)."""
    return shutil.copytree(tiny_data, tmp_path / "data", ignore=shutil.ignore_patterns(layout.VERIFY_CACHE))


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def expected_sha(root, rel):
    return json.loads((root / layout.MANIFEST).read_text())["files"][rel]


def drop_a_row(root, rel=REC_TEST):
    path = root / rel
    pd.read_parquet(path).iloc[1:].to_parquet(path, index=False)


def open_dataset(root):
    """Open as a new process would: from the files and the on-disk cache, not this process's memory."""
    from benchmark.data.dataset import PreparedDataset

    if "benchmark.data.integrity" in sys.modules:
        sys.modules["benchmark.data.integrity"]._memo.clear()

    return PreparedDataset(root)


def test_run_refuses_a_dropped_row_naming_the_file_and_both_hashes(data, tmp_path):
    drop_a_row(data)
    out = tmp_path / "runs"
    result = cli("run", "--model", "pop", "--data", data, "--out", out, "--n-boot", 10)
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "Traceback" not in result.output
    assert str(data / REC_TEST) in result.output
    assert f"expected {expected_sha(data, REC_TEST)} (manifest)" in result.output
    assert f"actual {sha256_file(data / REC_TEST)}" in result.output
    assert not out.exists() or not any(out.iterdir())  # no run folder for a refused run


def test_tampered_image_is_refused(data):
    from PIL import Image

    rel = sorted(p.relative_to(data).as_posix() for p in (data / layout.IMAGES_DIR).iterdir())[0]
    with Image.open(data / rel) as im:
        im = im.convert("RGB")
    im.putpixel((0, 0), tuple(255 - c for c in im.getpixel((0, 0))))
    im.save(data / rel)
    with pytest.raises(DataError, match=f"{rel}: sha256 mismatch: expected {expected_sha(data, rel)}"):
        open_dataset(data)
    # a run that reads no image is refused too: the run would be stamped with the dataset sha256
    result = cli("run", "--model", "mean-rating", "--task", "rating", "--split", "test", "--data", data, "--out",
                 data.parent / "runs")
    assert result.exit_code == 2 and rel in result.output


def test_missing_file_is_an_error(data):
    (data / "interactions" / "valid.parquet").unlink()
    with pytest.raises(DataError, match="interactions/valid.parquet: listed in the manifest but missing"):
        open_dataset(data)


def reseal_without(root, rel):
    """Drop `rel` from the manifest and recompute dataset_sha256, so the manifest is self-consistent."""
    from benchmark.data.manifest import dataset_sha256

    manifest = json.loads((root / layout.MANIFEST).read_text())
    del manifest["files"][rel]
    manifest["dataset_sha256"] = dataset_sha256(manifest["files"], manifest.get("labels"))
    (root / layout.MANIFEST).write_text(json.dumps(manifest))


def test_reading_a_file_the_manifest_does_not_list_is_refused(data):
    reseal_without(data, REC_TEST)
    ds = open_dataset(data)
    assert len(ds.instances("rating", "test")) > 0
    with pytest.raises(DataError, match=f"{REC_TEST}: not listed in the manifest"):
        ds.instances("recommendation", "test")


def test_manifest_whose_dataset_sha_does_not_match_its_file_list(data):
    manifest = json.loads((data / layout.MANIFEST).read_text())
    manifest["files"][REC_TEST] = "0" * 64  # edited together with the file, dataset_sha256 left as it was
    (data / layout.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="manifest.json: dataset_sha256 .* does not match its own file list"):
        open_dataset(data)


def test_cache_is_written_and_ignored_by_dataset_hashing(data):
    from benchmark.data.manifest import file_hashes

    open_dataset(data)
    cache = json.loads((data / layout.VERIFY_CACHE).read_text())
    manifest = json.loads((data / layout.MANIFEST).read_text())
    assert set(cache["files"]) == set(manifest["files"])
    assert file_hashes(data) == manifest["files"]  # prepare would hash the same files to the same sha


def forge_cache(root, rel, stamp):
    """Write a cache entry claiming the manifest's hash for `rel` under `stamp` (size, mtime_ns, ctime_ns)."""
    path = root / layout.VERIFY_CACHE
    doc = json.loads(path.read_text())
    doc["files"][rel] = list(stamp) + [expected_sha(root, rel)]
    path.write_text(json.dumps(doc))


def test_change_of_size_or_mtime_or_ctime_triggers_a_rehash(data):
    open_dataset(data)
    path = data / REC_TEST
    raw = bytearray(path.read_bytes())
    raw[-9] ^= 0xFF  # same size
    path.write_bytes(bytes(raw))
    st = path.stat()
    stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    forge_cache(data, REC_TEST, stamp)
    open_dataset(data)  # the cache is trusted while the stamp holds (a forged cache is the known limit)
    for i in range(3):  # any part of the stamp differing forces a re-hash, which catches the edit
        other = list(stamp)
        other[i] += 1
        forge_cache(data, REC_TEST, other)
        with pytest.raises(DataError, match="sha256 mismatch"):
            open_dataset(data)


def test_edit_keeping_size_and_restoring_mtime_is_still_caught(data):
    open_dataset(data)  # cache written for the genuine files
    path = data / REC_TEST
    st = path.stat()
    raw = bytearray(path.read_bytes())
    raw[-9] ^= 0xFF
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as cached; ctime moves regardless
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(DataError, match="sha256 mismatch"):
        open_dataset(data)


def test_read_only_folder_verifies_without_cache(data, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError("read-only file system")

    monkeypatch.setattr("benchmark.data.integrity.write_json", refuse)
    assert open_dataset(data).sha256 == json.loads((data / layout.MANIFEST).read_text())["dataset_sha256"]
    assert not (data / layout.VERIFY_CACHE).exists()
    drop_a_row(data)
    with pytest.raises(DataError, match="sha256 mismatch"):
        open_dataset(data)


def test_compare_refuses_a_tampered_dataset(data, tmp_path):
    from benchmark.eval.evaluator import RunOptions, run

    opts = RunOptions(model="pop", tasks=("recommendation",), splits=("test",), n_boot=10)
    run_dir = run(data, tmp_path / "runs", opts)
    drop_a_row(data)
    result = cli("compare", run_dir, run_dir, "--data", data)
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and REC_TEST in result.output and "sha256 mismatch" in result.output


def test_leaderboard_validate_refuses_a_tampered_dataset(data, tmp_path):
    drop_a_row(data)
    (tmp_path / "lb").mkdir()
    (tmp_path / "lb" / "index.jsonl").write_text("")
    result = cli("leaderboard", "validate", "--data", data, "--leaderboard-dir", tmp_path / "lb")
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and REC_TEST in result.output and "sha256 mismatch" in result.output
