"""`unimp-bench demo` (`make demo`): models in parallel worker processes, each run complete, summary printed."""
from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from benchmark.data.dataset import PreparedDataset
from benchmark.eval.evaluator import RunOptions, run
from unimp_bench.cli import app
from unimp_bench.demo import run_id


def test_demo_runs_models_in_parallel_and_reuses_finished_runs(tiny_data, tmp_path):
    out = tmp_path / "runs"
    runner = CliRunner()
    res = runner.invoke(app, ["demo", "--data", str(tiny_data), "--out", str(out), "--models", "random,pop,mean-rating",
                              "--jobs", "2", "--no-leaderboard"])
    assert res.exit_code == 0, res.output
    sha = PreparedDataset(tiny_data).sha256
    for name in ("random", "pop", "mean-rating"):
        doc = json.loads((out / run_id(name, sha) / "results.json").read_text())
        assert doc["model"]["name"] == name and doc["results"]
        assert doc["run_id"].startswith(name + "-") and len(doc["run_id"]) == len(name) + 9  # <model>-<hash8>
    assert "| random |" in res.output and "| mean-rating |" in res.output
    progress = [line for line in res.output.splitlines() if " models: " in line]
    assert sorted(line.split()[1] for line in progress) == ["1/3", "2/3", "3/3"]
    assert (out / "scores.png").is_file() and (out / "scores.svg").is_file() and "[demo] figure:" in res.output
    pop = out / run_id("pop", sha)
    before = (pop / "results.json").stat().st_mtime_ns
    res = runner.invoke(app, ["demo", "--data", str(tiny_data), "--out", str(out), "--models", "pop", "--jobs", "2",
                              "--no-leaderboard"])
    assert res.exit_code == 0, res.output
    assert (pop / "results.json").stat().st_mtime_ns == before  # reused, not rerun
    assert f"[demo] pop: reusing {pop} (same model, demo config, dataset" in res.output


def test_demo_reruns_what_is_stale_and_says_why(tiny_data, tmp_path):
    out = tmp_path / "runs"
    old = run(tiny_data, out, RunOptions(model="pop", tasks=("rating",), splits=("test",), n_boot=5, run_id="pop"))
    res = CliRunner().invoke(app, ["demo", "--data", str(tiny_data), "--out", str(out), "--models", "pop", "--jobs", "1",
                                   "--no-leaderboard"])
    assert res.exit_code == 0, res.output
    assert "[demo] pop: to run; not reusing pop (another config, dataset or benchmark version)" in res.output
    assert "[demo] 1/1 models: pop done" in res.output and old.is_dir()
    assert (out / run_id("pop", PreparedDataset(tiny_data).sha256) / "results.json").is_file()


def test_demo_run_id_changes_with_the_dataset():
    assert run_id("pop", "a" * 64) != run_id("pop", "b" * 64) and run_id("pop", "a" * 64) == run_id("pop", "a" * 64)


def test_demo_submits_the_users_own_results_and_shows_the_figure(tiny_data, tmp_path):
    out, lb = tmp_path / "runs", tmp_path / "lb"
    args = ["demo", "--data", str(tiny_data), "--out", str(out), "--models", "pop", "--jobs", "1", "--leaderboard", str(lb)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    rid = run_id("pop", PreparedDataset(tiny_data).sha256)
    rows = [json.loads(line) for line in (lb / "index.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"pop/{rid}"] and f"submitted {out / rid}" in res.output
    assert (lb / "scores.svg").is_file() and '<img src="scores.svg"' in (lb / "index.html").read_text()
    assert "![" in (lb / "README.md").read_text() and "(scores.png)" in (lb / "README.md").read_text()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and f"pop/{rid} already there" in again.output


def _level(readme: str, entry: str) -> str:
    """The level the board's "Entries and their level" table gives `entry`."""
    (line,) = [line for line in readme.splitlines() if line.startswith(f"| {entry} ")]
    return line.split("|")[3].strip()


def test_demo_on_a_fresh_clone_scores_the_users_own_runs(tiny_data, tmp_path):
    """A clone has the committed rows of the demo's run ids but not their archives (not in git): the demo puts
    the user's own run in place of such a row, so the board recomputes it ("scored") instead of listing the
    committed row as unverified. A row whose archive is at hand is never replaced."""
    out, lb = tmp_path / "runs", tmp_path / "lb"
    args = ["demo", "--data", str(tiny_data), "--out", str(out), "--models", "pop", "--jobs", "1", "--leaderboard", str(lb)]
    assert CliRunner().invoke(app, args).exit_code == 0  # the maintainer's run, whose row gets committed
    entry = f"pop/{run_id('pop', PreparedDataset(tiny_data).sha256)}"
    committed = json.loads((lb / "index.jsonl").read_text())
    shutil.rmtree(lb / "archives")  # the clone: the committed index without its archives, and no runs
    shutil.rmtree(out)

    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    (row,) = [json.loads(line) for line in (lb / "index.jsonl").read_text().splitlines()]
    assert row["id"] == entry and row["archive"] != committed["archive"]  # the user's run (its own `created`)
    assert row["created"] == json.loads((out / row["run_id"] / "results.json").read_text())["created"]
    assert (lb / "archives" / f"{row['archive']['sha256']}.tar.gz").is_file()
    assert f"as {entry}, replacing the row of that id: its archive is not in {lb / 'archives'}" in res.output
    assert _level((lb / "README.md").read_text(), entry) == "scored"

    shutil.rmtree(out)  # another new run: the row, whose archive is now here, stays as it is
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads((lb / "index.jsonl").read_text()) == row and f"{entry} already there" in res.output
    assert _level((lb / "README.md").read_text(), entry) == "scored"


def test_demo_run_id_covers_what_a_preset_stands_for(tmp_path, monkeypatch):
    """UniMP's demo config names a preset: a change inside the preset file gives a new run id, so an old result
    is not reused as if it were the new preset's."""
    import models.unimp.config as unimp_config

    before = run_id("unimp", "a" * 64)
    assert run_id("unimp", "a" * 64) == before and before != run_id("pop", "a" * 64)
    tiny = json.loads((unimp_config.PRESETS_DIR / "tiny.json").read_text())
    (tmp_path / "tiny.json").write_text(json.dumps({**tiny, "vq_steps": tiny["vq_steps"] + 1}))
    monkeypatch.setattr(unimp_config, "PRESETS_DIR", tmp_path)
    assert run_id("unimp", "a" * 64) != before
