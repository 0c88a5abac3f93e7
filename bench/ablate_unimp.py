"""UniMP's ablation table: one switch changed at a time from the `tiny` preset, each run trained on the
default world and scored on test recommendation and search (both candidate rules), with the evaluator's
95% bootstrap intervals.

    python bench/ablate_unimp.py [--data data/world-default] [--out runs/ablation] [--steps 400]
                                 [--only base,no-transition] [--table-only]

Every variant is an ordinary `unimp-bench run` (its folder under --out keeps config, seed, versions and the
dataset sha256); a finished variant is reused, so the script can be stopped and started again. Image
generation is off in every variant (it does not touch these tasks; it spares the VQ tokenizer's training).
Checkpoints are chosen on the whole validation split (`n_valid: null`), never on test.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BASE = {"preset": "tiny", "torch_threads": 1, "image_generation": False, "n_valid": None}

# name -> (settings changed from the base, what the row tests: the paper's table or the switch)
VARIANTS = {
    "base": ({}, "tiny preset, every switch on"),
    "no-transition": ({"transition_loss": 0.0}, "every-transition supervision off"),
    "no-content-init": ({"content_init": False, "tie_item_ids": False}, "item ids random and untied"),
    "fusion-none": ({"fusion": "none"}, "no vision (Table 7: w/o vision)"),
    "multitask-last": ({"strategy": "multitask+last"}, "the paper's headline strategy (Table 8)"),
    "focal-0": ({"focal_gamma": 0.0}, "plain cross-entropy (Table 7: w/o focal loss)"),
    "no-exclusive-mask": ({"exclusive_mask": False}, "every token sees every image (Table 3)"),
    "no-reconstruction": ({"context_reconstruction": False}, "history attributes unsupervised (Table 7)"),
    "single-task": ({"train_tasks": ["recommendation", "search"]}, "recommendation and search only"),
    "fusion-early": ({"fusion": "early"}, "Table 3: early fusion"),
    "fusion-late": ({"fusion": "late"}, "Table 3: late fusion"),
}
TASKS = ("recommendation", "search", "search-catalogue")


def _run(data: Path, out: Path, name: str, steps: int) -> Path:
    folder = out / f"unimp-{name}"
    if (folder / "results.json").exists():
        print(f"{name}: reusing {folder}", flush=True)
        return folder
    settings, _ = VARIANTS[name]
    config = {**BASE, "max_steps": steps, "eval_every": max(steps // 2, 1), **settings}
    cmd = [sys.executable, "-m", "unimp_bench", "run", "--model", "unimp", "--data", str(data), "--out", str(out),
           "--run-id", folder.name, "--task", ",".join(TASKS), "--split", "test", "--config", json.dumps(config)]
    print(f"{name}: {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True)
    return folder


def _cell(results: dict, task: str) -> str:
    for e in results["results"]:
        if e["task"] == task and e["split"] == "test" and e.get("status") == "ok":
            low, high = e["intervals"]["hr@5"]
            return f"{e['scores']['hr@5']:.4f} [{low:.4f}, {high:.4f}]"
    return "—"


def table(out: Path, names) -> str:
    rows = ["| variant | what it changes | rec HR@5 | search HR@5 (category) | search HR@5 (catalogue) | wall s |",
            "|---|---|---:|---:|---:|---:|"]
    for name in names:
        path = out / f"unimp-{name}" / "results.json"
        if not path.exists():
            continue
        res = json.loads(path.read_text())
        rows.append(f"| {name} | {VARIANTS[name][1]} | " + " | ".join(_cell(res, t) for t in TASKS)
                    + f" | {res['wall_time_s']:,.0f} |")
    return "\n".join(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/world-default"))
    ap.add_argument("--out", type=Path, default=Path("runs/ablation"))
    ap.add_argument("--steps", type=int, default=400, help="training steps of 16 prompts per variant")
    ap.add_argument("--only", default=",".join(VARIANTS), help="comma list of variants, in order")
    ap.add_argument("--table-only", action="store_true", help="print the table of the finished variants")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    if not args.table_only:
        for name in names:
            _run(args.data, args.out, name, args.steps)
    print(table(args.out, names))


if __name__ == "__main__":
    main()
