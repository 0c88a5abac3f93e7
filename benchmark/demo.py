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

DEMO_MODELS = ("random", "pop", "bm25", "bm25-personal", "mean-rating", "nearest-review",
               "sasrec", "s3rec", "lightgcn", "unimp")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("data/world-default"))
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--models", default=",".join(DEMO_MODELS))
    parser.add_argument("--leaderboard", type=Path, default=Path("leaderboard"))
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
                                               run_id=name))
            print(f"[demo] {name} done in {time.time() - t0:.0f}s", flush=True)
        docs.append(json.loads((run_dir / "results.json").read_text()))
    print(summary_markdown(docs))
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
