"""bench/within_category_signal.py on the tiny world: its popularity read-out is the `pop` baseline's search score,
the generator favours the user's tastes, and each chosen read-out is compared with popularity by a paired test."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "within_category_signal.py"
spec = importlib.util.spec_from_file_location("within_category_signal", SCRIPT)
signal = importlib.util.module_from_spec(spec)
spec.loader.exec_module(signal)


def test_popularity_read_out_is_the_pop_baseline(tiny_data, tmp_path):
    import json

    from benchmark.eval.evaluator import RunOptions, run

    report = signal.main(["--data", str(tiny_data)])
    pop_run = run(tiny_data, tmp_path, RunOptions(model="pop", tasks=("search",), splits=("test",), n_boot=5,
                                                  run_id="pop"))
    doc = json.loads((pop_run / "results.json").read_text())
    pop_hr5 = next(e["scores"]["hr@5"] for e in doc["results"] if e["task"] == "search" and e["split"] == "test")
    read = report["read-out, search HR@5 within the category"]
    assert read["popularity"]["test"] == round(pop_hr5, 4)
    for name in ("popularity + history agreement, weights chosen on valid",
                 "popularity + transitions from the history, weight chosen on valid"):
        test = read[name]["test minus popularity"]
        assert abs(test["diff"] - (read[name]["test"] - read["popularity"]["test"])) < 2e-4  # both rounded to 4 places
        assert 0 < test["p_value"] <= 1 and test["low"] <= test["diff"] <= test["high"]
    for name, rates in report["generator"].items():  # the generator picks by match: tastes show in its draws
        assert rates["drawn"] > rates["random item"], (name, rates)
