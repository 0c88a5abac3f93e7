"""Commands touch only what they own: `prepare --force` replaces only a prepared dataset (atomically), run
folders stay inside --out and appear only when complete, and staging folders of dead processes are cleaned."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from benchmark.api import Model
from benchmark.api.registry import register
from benchmark.data import layout
from benchmark.eval.evaluator import RunOptions, run
from benchmark.prepare import prepare
from unimp_bench.cli import app


def _raw(tiny_data):
    return tiny_data.parent / "raw"


def _tree(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc.pid
    proc.kill()
    proc.wait()


# ---- prepare --force -------------------------------------------------------------------------------------

@pytest.mark.parametrize("manifest", [None, '{"name": "my notes"}', "not json"])
def test_force_refuses_a_folder_that_is_not_a_dataset(tiny_data, tmp_path, manifest):
    home = tmp_path / "home"
    (home / "src").mkdir(parents=True)
    (home / "notes.txt").write_text("precious")
    (home / "src" / "main.py").write_text("print('hi')")
    if manifest is not None:
        (home / layout.MANIFEST).write_text(manifest)
    before = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError, match="not a prepared dataset"):
        prepare("amazon2014", _raw(tiny_data), home, image_size=32, force=True)
    assert {p: p.read_bytes() for p in home.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no staging folder either


def test_cli_force_on_a_home_folder_refuses_before_writing_anything(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("precious")
    res = CliRunner().invoke(app, ["prepare", "--scale", "tiny", "--force", "--out", str(home)])
    assert res.exit_code == 2, res.output
    assert "not a prepared dataset" in res.output and "Traceback" not in res.output
    assert _tree(tmp_path) == ["home", "home/notes.txt"]  # not even the generated world's raw files
    assert (home / "notes.txt").read_text() == "precious"


def test_force_replaces_a_dataset(tiny_data, tmp_path):
    out = tmp_path / "ds"
    shutil.copytree(tiny_data, out)
    (out / "stale.txt").write_text("from an older prepare")
    prepare("amazon2014", _raw(tiny_data), out, image_size=32, force=True)
    assert not (out / "stale.txt").exists()
    new, old = (json.loads((d / layout.MANIFEST).read_text())["files"] for d in (out, tiny_data))
    new.pop(layout.DATA_CARD), old.pop(layout.DATA_CARD)  # the card names the scale, given only by prepare_default
    assert new == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "ds.labels"]  # no staging or old copy left beside


def test_failed_swap_keeps_the_old_dataset(tiny_data, tmp_path, monkeypatch):
    """The old dataset is renamed aside, never deleted before the new one is in place."""
    out = tmp_path / "ds"
    shutil.copytree(tiny_data, out)
    (out / "mine.txt").write_text("old dataset")
    real_replace = os.replace

    def replace(src, dst):
        if os.fspath(dst) == os.fspath(out) and ".partial-" in os.fspath(src):
            raise OSError("disk trouble")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="disk trouble"):
        prepare("amazon2014", _raw(tiny_data), out, image_size=32, force=True)
    assert (out / "mine.txt").read_text() == "old dataset"
    assert (out / layout.MANIFEST).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


# ---- stale staging folders ---------------------------------------------------------------------------------

def test_prepare_removes_stale_staging_of_dead_processes_only(tiny_data, tmp_path, live_pid, capsys):
    dead = _dead_pid()
    stale = tmp_path / f".out.partial-{dead}"
    alive = tmp_path / f".out.partial-{live_pid}"
    other = tmp_path / f".someone-else.partial-{dead}"  # not this output's staging: not ours to remove
    for d in (stale, alive, other):
        d.mkdir()
        (d / "items.parquet").write_text("half written")
    prepare("amazon2014", _raw(tiny_data), tmp_path / "out", image_size=32)
    assert not stale.exists()
    assert alive.is_dir() and other.is_dir()
    assert f"removed stale staging folder {stale} (process {dead} is gone)" in capsys.readouterr().out


# ---- run folders ---------------------------------------------------------------------------------------------

def _opts(**kw):
    return RunOptions(**{"model": "random", "tasks": ("rating",), "splits": ("test",), "n_boot": 10, **kw})


@pytest.mark.parametrize("run_id", ["../../x", "a/b", "..", ".", "", "a..b", "ABSOLUTE", "x y"])
def test_run_id_must_be_a_plain_name(tiny_data, tmp_path, run_id):
    out = tmp_path / "a" / "b" / "runs"
    run_id = str(tmp_path / "elsewhere") if run_id == "ABSOLUTE" else run_id
    with pytest.raises(ValueError, match="--run-id"):
        run(tiny_data, out, _opts(run_id=run_id))
    assert _tree(tmp_path) == []


def test_cli_refuses_a_path_as_run_id(tiny_data, tmp_path):
    out = tmp_path / "runs"
    res = CliRunner().invoke(app, ["run", "--model", "random", "--task", "rating", "--split", "test",
                                   "--data", str(tiny_data), "--out", str(out), "--run-id", "../../x"])
    assert res.exit_code == 2, res.output
    assert "error: --run-id" in res.output and "Traceback" not in res.output
    assert _tree(tmp_path) == []


class BadConfig(Model):
    name = "bad-config"

    def __init__(self, config=None, seed=0, run_dir=None):
        super().__init__(config, seed, run_dir)
        raise ValueError("epochs must be a positive int")


class Interrupted(Model):
    name = "interrupted"

    def predict_rating(self, requests):
        raise KeyboardInterrupt  # Ctrl-C half-way: not an error the evaluator records and goes past


register("bad-config", f"{__name__}:BadConfig", "test model")
register("interrupted", f"{__name__}:Interrupted", "test model")


def test_refused_run_leaves_no_run_folder(tiny_data, tmp_path):
    out = tmp_path / "runs"
    with pytest.raises(ValueError, match="epochs"):
        run(tiny_data, out, _opts(model="bad-config", run_id="r1"))
    assert not out.exists() or _tree(out) == []


def test_interrupted_run_leaves_no_run_folder_only_a_resumable_staging_folder(tiny_data, tmp_path, capsys):
    out = tmp_path / "runs"
    with pytest.raises(KeyboardInterrupt):
        run(tiny_data, out, _opts(model="interrupted", run_id="r1"))
    (stage,) = out.iterdir()  # Ctrl-C keeps the work, as a kill does: `run --resume r1` continues it
    assert stage.name == f".r1.partial-{os.getpid()}" and (stage / "resume.json").is_file()
    assert "continue it with `unimp-bench run --resume r1" in capsys.readouterr().out


def test_run_folder_appears_complete_and_stale_run_staging_is_removed(tiny_data, tmp_path, live_pid, capsys):
    out = tmp_path / "runs"
    dead = _dead_pid()
    stale, alive = out / f".old.partial-{dead}", out / f".busy.partial-{live_pid}"
    for d in (stale, alive):
        (d / "model").mkdir(parents=True)
    run_dir = run(tiny_data, out, _opts(run_id="r1"))
    assert run_dir == (out / "r1").resolve() and (run_dir / "results.json").is_file()
    assert sorted(p.name for p in out.iterdir()) == [alive.name, "r1"]
    assert f"removed stale staging folder {stale.resolve()} (process {dead} is gone)" in capsys.readouterr().out
    with pytest.raises(FileExistsError):
        run(tiny_data, out, _opts(run_id="r1"))


def test_a_dataset_renamed_aside_by_a_dead_process_is_restored_not_deleted(tmp_path, capsys):
    """Killed between its two renames, a replacing prepare leaves the old dataset aside and no dataset."""
    from benchmark.data.io import remove_stale_staging

    dead = _dead_pid()
    aside = tmp_path / f".ds.replaced-{dead}"
    aside.mkdir()
    (aside / layout.MANIFEST).write_text("{}")
    (tmp_path / f".other.replaced-{dead}").mkdir()  # its dataset is in place: the old copy is garbage
    (tmp_path / "other").mkdir()
    remove_stale_staging(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "other"]
    assert (tmp_path / "ds" / layout.MANIFEST).is_file()
    assert f"restored {tmp_path / 'ds'}" in capsys.readouterr().out
