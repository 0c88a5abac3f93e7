"""A small grid on VALIDATION for the RecBole baselines' learning rate and hidden size.

    python bench/tune_baselines.py [--data data/world-default] [--models sasrec,lightgcn,unisrec]
                                   [--grid learning_rate=0.001,0.003:hidden=64,128] [--out runs/tune-baselines]

Each cell trains the model on the main regime with the demo's settings (unimp_bench/demo.py) changed by the
cell's values, until early stopping on RecBole's valid metric (MRR@10 on the validation file, the metric
early stopping uses), and records that best valid score, the epochs and the stop reason as one line of
`OUT/grid.jsonl`. Finished cells are read back, so the script can be stopped and started again. `hidden`
is the model's width: `hidden_size` (SASRec, S3-Rec, UniSRec) or `embedding_size` (LightGCN, MF). The
chosen setting per model is the best valid score; the test split is never read (the models see the
dataset's model view, whose test answers are sealed).
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's benchmark and baselines

from benchmark.api.registry import load  # noqa: E402
from benchmark.data.dataset import PreparedDataset  # noqa: E402
from unimp_bench.demo import DEMO_CONFIGS  # noqa: E402

WIDTH_KEY = {"lightgcn": "embedding_size", "mf": "embedding_size"}  # otherwise hidden_size


def parse_grid(text: str) -> dict[str, list]:
    """'learning_rate=0.001,0.003:hidden=64,128' -> {"learning_rate": [0.001, 0.003], "hidden": [64, 128]}."""
    grid = {}
    for part in filter(None, text.split(":")):
        key, _, values = part.partition("=")
        if not values:
            raise SystemExit(f"--grid: {part!r} is not KEY=V1,V2")
        grid[key.strip()] = [json.loads(v) for v in values.split(",")]
    return grid


def cell_config(model: str, cell: dict, base: dict | None = None) -> dict:
    config = {**DEMO_CONFIGS.get(model, {}), **(base or {})}
    for key, value in cell.items():
        config[WIDTH_KEY.get(model, "hidden_size") if key == "hidden" else key] = value
    if "hidden_size" in config and "n_heads" in config:
        assert config["hidden_size"] % config["n_heads"] == 0
    return config


def train_cell(data: PreparedDataset, model: str, config: dict, work: Path) -> dict:
    t0 = time.perf_counter()
    m = load(model)(config=config, seed=0, run_dir=work)
    m.fit(data, "main")
    training = m.describe()["stopping"]["main"]
    return {"model": model, "config": config, "valid": training["best_valid"], "epochs": training["epochs"],
            "best_epoch": training["best_epoch"], "stop": training["stop"],
            "seconds": round(time.perf_counter() - t0, 1)}


def table(rows: list[dict]) -> str:
    lines = ["| model | setting | valid MRR@10 | epochs (best, stop) | seconds |", "|---|---|---:|---|---:|"]
    best = {}
    for r in rows:
        if r["valid"]["mrr@10"] > best.get(r["model"], {"valid": {"mrr@10": -1.0}})["valid"]["mrr@10"]:
            best[r["model"]] = r
    for r in rows:
        mark = " **chosen**" if best[r["model"]] is r else ""
        lines.append(f"| {r['model']} | {json.dumps(r['cell'])}{mark} | {r['valid']['mrr@10']:.4f} | "
                     f"{r['epochs']} ({r['best_epoch']}, {r['stop']}) | {r['seconds']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/world-default"), help="prepared dataset")
    ap.add_argument("--models", default="sasrec", help="comma-separated RecBole models")
    ap.add_argument("--grid", default="learning_rate=0.001,0.003:hidden=64,128",
                    help="KEY=V1,V2[:KEY=...]; `hidden` is the model's width")
    ap.add_argument("--out", type=Path, default=Path("runs/tune-baselines"), help="grid.jsonl and work folders")
    ap.add_argument("--base", type=json.loads, default={}, help="JSON settings over the demo's (e.g. for a smoke run)")
    ap.add_argument("--table-only", action="store_true", help="print the table of finished cells, train nothing")
    args = ap.parse_args(argv)
    if not (args.data / "manifest.json").is_file():
        print(f"{args.data}: not a prepared dataset (no manifest.json)", file=sys.stderr)
        return 2
    grid = parse_grid(args.grid)
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "grid.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.is_file() else []
    done = {(r["model"], json.dumps(r["cell"], sort_keys=True)) for r in rows}
    data = PreparedDataset(args.data).model_view()  # inputs only: test answers stay sealed
    for model in args.models.split(","):
        for values in itertools.product(*grid.values()):
            cell = dict(zip(grid, values))
            key = (model, json.dumps(cell, sort_keys=True))
            if key in done or args.table_only:
                continue
            name = f"{model}-" + "-".join(f"{k}{v}" for k, v in cell.items())
            print(f"[tune] {name} ...", flush=True)
            row = dict(train_cell(data, model, cell_config(model, cell, args.base), args.out / name), cell=cell)
            print(f"[tune] {name}: valid {row['valid']} in {row['epochs']} epochs ({row['stop']}), "
                  f"{row['seconds']:.0f} s", flush=True)
            with log.open("a", encoding="utf-8") as f:  # one line per finished cell: a kill loses one cell
                f.write(json.dumps(row) + "\n")
            rows.append(row)
    print(table(sorted((r for r in rows if r["model"] in args.models.split(",")), key=lambda r: r["model"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
