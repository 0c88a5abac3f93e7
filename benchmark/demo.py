"""`make demo`: run the benchmark's models on the embedded default, print the tables, fill the leaderboard."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmark import layout
from benchmark.evaluator import RunOptions, run
from benchmark.models_index import MODELS
from benchmark.summary import summary_markdown

DEMO_MODELS = ("random", "pop", "bm25", "bm25-personal", "mean-rating", "nearest-review", "retrieved-image",
               "lightgcn", "sasrec", "s3rec", "unimp")
# CPU budgets for the demo (recorded in each result's model config). RecBole's documented defaults
# (300 epochs; S3-Rec 500 pre-training epochs) take hours on 2 cores; pass your own with `unimp-bench run`.
DEMO_CONFIGS = {
    "lightgcn": {"epochs": 40, "stopping_step": 5, "threads": 1},
    "sasrec": {"epochs": 5, "stopping_step": 2, "MAX_ITEM_LIST_LENGTH": 20, "train_batch_size": 256, "threads": 1},
    "s3rec": {"pretrain_epochs": 2, "epochs": 5, "stopping_step": 2, "MAX_ITEM_LIST_LENGTH": 20,
              "train_batch_size": 256, "threads": 1},
    "unimp": {"preset": "tiny", "torch_threads": 1},
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("data/world-default"))
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--models", default=",".join(DEMO_MODELS))
    parser.add_argument("--leaderboard", type=Path, default=Path("leaderboard"))
    parser.add_argument("--no-leaderboard", action="store_true", help="Do not submit the runs or build the board.")
    args = parser.parse_args(argv)
    docs = []
    for name in args.models.split(","):
        if name not in MODELS:
            print(f"[demo] {name}: not registered in this build, skipped")
            continue
        run_dir = args.out / name
        if (run_dir / "results.json").is_file():
            print(f"[demo] {name}: reusing {run_dir}")
        else:
            t0 = time.time()
            print(f"[demo] running {name} on every task and split ...", flush=True)
            run(args.data, args.out, RunOptions(model=name, tasks=layout.TASKS, splits=layout.EVAL_SPLITS,
                                               config=DEMO_CONFIGS.get(name, {}), run_id=name))
            print(f"[demo] {name} done in {time.time() - t0:.0f}s", flush=True)
        docs.append(json.loads((run_dir / "results.json").read_text()))
    print(summary_markdown(docs))
    if not args.no_leaderboard:
        _leaderboard(args, docs)


def _leaderboard(args, docs) -> None:
    try:
        from leaderboard.build import build
        from leaderboard.submit import submit
    except ImportError:
        return
    for doc in docs:
        target = args.leaderboard / "submissions" / doc["model"]["name"] / doc["run_id"]
        if not target.exists():
            submit(args.out / doc["run_id"], args.leaderboard, None)
    build(args.leaderboard)
    print(f"[demo] leaderboard: {args.leaderboard / 'README.md'} and {args.leaderboard / 'index.html'}")


if __name__ == "__main__":
    main()
