"""The ranking ceiling: an oracle of the embedded world's generating process (benchmark/data/world/oracle.py,
benchmark/eval/ceiling.py), its CLI and its row on top of the demo table."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from benchmark.data.world import simulate
from benchmark.data.world.oracle import next_item_probabilities, pick_probabilities
from benchmark.data.world.sequences import _Picker
from benchmark.eval.ceiling import NAME, TASKS_SHOWN, embedded_world, ranking_ceiling
from benchmark.eval.evaluator import RunOptions, run
from unimp_bench import demo
from unimp_bench.cli import app


@pytest.fixture(scope="module")
def world():
    return simulate("tiny", 0)


def test_pick_probabilities_are_the_generators_own_pick_frequencies(world):
    """The integral against 200k draws of the generator's own candidate sampling and Gumbel pick."""
    cat = world.catalogue
    d = 1
    items = np.flatnonzero(cat.domain == d)
    leaf = cat.leaf[items]
    big = np.bincount(leaf).argmax()  # the domain's largest leaf
    in_leaf = items[leaf == big]
    pairs = np.flatnonzero(world.users.pair_domain == d)[:3]
    phase, forbid = np.array([0, 1, 0]), np.array([in_leaf[0], -1, -1])
    p = pick_probabilities(world, pairs, phase, forbid, d)
    sums = np.stack([p[:, leaf == lf].sum(1) for lf in np.unique(leaf)], axis=1)  # a distribution per leaf
    assert sums[1:] == pytest.approx(1.0, abs=1e-5)
    assert sums[0] == pytest.approx(np.where(np.unique(leaf) == big, sums[0], 1.0), abs=1e-5)  # forbidden: <= 1
    picker, n = _Picker(cat, world.users, world.behaviour, np.random.default_rng(1)), 200_000
    for r in range(3):
        cand = picker.candidates(np.full(n, big))
        chosen, _ = picker.pick(np.full(n, pairs[r]), np.full(n, phase[r]), cand, forbid=cand == forbid[r])
        freq = np.array([(chosen == i).mean() for i in in_leaf])
        expected = p[r, leaf == big]
        if forbid[r] >= 0:  # a set of only the forbidden item picks it anyway (the generator then redraws)
            freq, expected = freq[1:], expected[1:]
        assert np.abs(freq - expected).max() < 0.005


def test_next_item_probabilities_are_a_distribution_and_deterministic(world):
    it = world.interactions
    rows = np.flatnonzero(~it.duplicate & (it.position > 0))[::37]
    p = next_item_probabilities(world, rows)
    assert p.shape == (len(rows), world.catalogue.n_items) and (p >= 0).all()
    # only a set made of the forbidden previous item alone is lost (the generator redraws it)
    assert np.all(p.sum(1) <= 1 + 1e-6) and np.all(p.sum(1) > 0.95)
    own_domain = world.catalogue.domain[None, :] == it.domain[rows][:, None]
    assert np.all(p[~own_domain] == 0)
    assert np.array_equal(p, next_item_probabilities(world, rows))
    with pytest.raises(ValueError, match="duplicate"):
        next_item_probabilities(world, np.flatnonzero(it.duplicate)[:1])


def _hr5(doc: dict) -> dict:
    return {r["task"]: r["scores"]["hr@5"] for r in doc["results"]}


def test_ceiling_is_in_range_deterministic_and_beats_pop(tiny_data, tmp_path):
    doc = ranking_ceiling(tiny_data, n_boot=200)
    again = ranking_ceiling(tiny_data, n_boot=200)
    assert doc == again
    assert all(r["extra"]["unlocated"] == r["extra"]["ambiguous"] == 0 for r in doc["results"])
    assert [r["task"] for r in doc["results"]] == list(TASKS_SHOWN)
    for r in doc["results"]:
        assert r["status"] == "ok" and r["n"] > 50
        for m, v in r["scores"].items():
            assert 0.0 <= v <= 1.0, m
            lo, hi = r["intervals"][m]
            assert 0.0 <= lo <= v <= hi <= 1.0
    pop = run(tiny_data, tmp_path, RunOptions(model="pop", tasks=TASKS_SHOWN, splits=("test",), n_boot=10))
    pop_hr5 = _hr5(json.loads((pop / "results.json").read_text()))
    for task, v in _hr5(doc).items():
        assert v > pop_hr5[task] + 0.1, (task, v, pop_hr5[task])


def test_ceiling_refuses_real_data():
    class Real:
        root, manifest = "data/amazon", {"source": "amazon2014", "scale": None, "seed": 0}

    with pytest.raises(ValueError, match="no latent truth"):
        embedded_world(Real())


def test_ceiling_cli_prints_the_three_tasks(tiny_data):
    res = CliRunner().invoke(app, ["ceiling", "--data", str(tiny_data)])
    assert res.exit_code == 0, res.output
    assert NAME in res.output
    for task in TASKS_SHOWN:
        assert f"  {task} " in res.output
    bad = CliRunner().invoke(app, ["ceiling", "--data", str(tiny_data), "--split", "new_user"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_demo_table_has_the_ceiling_on_top_for_the_embedded_world_only(tiny_data, tmp_path, monkeypatch):
    out = tmp_path / "runs"
    res = CliRunner().invoke(app, ["demo", "--data", str(tiny_data), "--out", str(out), "--models", "pop", "--jobs", "1",
                                   "--no-leaderboard"])
    assert res.exit_code == 0, res.output
    table = res.output.split("## Table 1 - recommendation (test)", 1)[1].split("##", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows[0].startswith(f"| ceiling | {NAME} | ") and rows[1].startswith("| simple | pop |")
    assert f"| {NAME} |" in res.output.split("## Table 2(d) - search, candidates from the whole catalogue", 1)[1]
    monkeypatch.setattr(demo, "EMBEDDED_SOURCE", "another-source")  # as for a real-data dataset
    res = CliRunner().invoke(app, ["demo", "--data", str(tiny_data), "--out", str(out), "--models", "pop", "--jobs", "1",
                                   "--no-leaderboard"])
    assert res.exit_code == 0 and NAME not in res.output
    assert "no ceiling row" in res.output and "real data has no latent truth" in res.output
