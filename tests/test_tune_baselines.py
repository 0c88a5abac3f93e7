"""bench/tune_baselines.py: one grid cell trained on the tiny world, recorded, reused on a second call."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("recbole")
SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "tune_baselines.py"
spec = importlib.util.spec_from_file_location("tune_baselines", SCRIPT)
tune = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tune)


def test_grid_cell_is_recorded_and_reused(tiny_data, tmp_path, capsys):
    assert tune.parse_grid("learning_rate=0.001,0.003:hidden=16") == {"learning_rate": [0.001, 0.003], "hidden": [16]}
    assert tune.cell_config("lightgcn", {"hidden": 32})["embedding_size"] == 32
    args = ["--data", str(tiny_data), "--models", "sasrec", "--grid", "learning_rate=0.001:hidden=16",
            "--out", str(tmp_path), "--base", json.dumps({"epochs": 2, "n_heads": 2, "inner_size": 32,
                                                           "train_batch_size": 512})]
    assert tune.main(args) == 0
    rows = [json.loads(line) for line in (tmp_path / "grid.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["config"]["hidden_size"] == 16 and rows[0]["stop"] == "epoch cap"
    assert 0 < rows[0]["valid"]["mrr@10"] <= 1 and rows[0]["epochs"] == 2
    capsys.readouterr()
    assert tune.main(args) == 0  # nothing left to train: the recorded cell is reused
    out = capsys.readouterr().out
    assert "[tune]" not in out and '| sasrec | {"learning_rate": 0.001, "hidden": 16} **chosen** |' in out
    assert tune.main(["--data", str(tmp_path / "nowhere")]) == 2
