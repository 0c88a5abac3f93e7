"""`make demo`: run the benchmark's models on the embedded default, print the tables, fill the leaderboard."""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmark.data import layout
from benchmark.eval.evaluator import RunOptions, run
from benchmark.api.models_index import MODELS
from benchmark.eval.summary import summary_markdown

DEMO_MODELS = ("random", "pop", "bm25", "bm25-personal", "mean-rating", "mean-rating-star", "nearest-review",
               "retrieved-image", "lightgcn", "sasrec", "s3rec", "unimp")
# CPU budgets for the demo (recorded in each result's model config). RecBole's documented defaults
# (300 epochs; S3-Rec 500 pre-training epochs) take hours on 2 cores; pass your own with `unimp-bench run`.
DEMO_CONFIGS = {
    "lightgcn": {"epochs": 40, "stopping_step": 5, "threads": 1},
    "sasrec": {"epochs": 5, "stopping_step": 2, "MAX_ITEM_LIST_LENGTH": 20, "train_batch_size": 256, "threads": 1},
    "s3rec": {"pretrain_epochs": 2, "epochs": 5, "stopping_step": 2, "MAX_ITEM_LIST_LENGTH": 20,
              "train_batch_size": 256, "threads": 1},
    "unimp": {"preset": "tiny", "torch_threads": 1},
}
# Rough run lengths (minutes on 2 cores) that order the parallel demo: longest first.
DEMO_ORDER = {"unimp": 15, "s3rec": 9, "sasrec": 5, "lightgcn": 3}


def _run_one(data: Path, out: Path, name: str) -> float:
    """One model on every task and split (a worker process); returns its wall time."""
    t0 = time.time()
    print(f"[demo] running {name} on every task and split ...", flush=True)
    run(data, out, RunOptions(model=name, tasks=layout.TASKS, splits=layout.EVAL_SPLITS,
                              config=DEMO_CONFIGS.get(name, {}), run_id=name))
    print(f"[demo] {name} done in {time.time() - t0:.0f}s", flush=True)
    return time.time() - t0


def _warm_image_judge(data: Path) -> None:
    """Train (or load) the image judge once, before parallel runs would each train it."""
    from benchmark.data.dataset import PreparedDataset
    from benchmark.metrics.image import AttributeJudge, default_cache_dir

    AttributeJudge.for_dataset(PreparedDataset(data), default_cache_dir())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("data/world-default"))
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--models", default=",".join(DEMO_MODELS))
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="Models run at once, one torch thread each (default: 2, or 1 on one core).")
    parser.add_argument("--leaderboard", type=Path, default=Path("leaderboard"))
    parser.add_argument("--no-leaderboard", action="store_true", help="Do not submit the runs or build the board.")
    args = parser.parse_args(argv)
    names = []
    for name in args.models.split(","):
        if name not in MODELS:
            print(f"[demo] {name}: not registered in this build, skipped")
        elif (args.out / name / "results.json").is_file():
            print(f"[demo] {name}: reusing {args.out / name}")
            names.append(name)
        else:
            names.append(name)
    todo = [n for n in names if not (args.out / n / "results.json").is_file()]
    if todo and args.jobs > 1:
        _warm_image_judge(args.data)
        # the longest runs first, so the short ones fill the other worker meanwhile
        todo.sort(key=lambda n: -DEMO_ORDER.get(n, 0))
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for f in [pool.submit(_run_one, args.data, args.out, n) for n in todo]:
                f.result()
    else:
        for n in todo:
            _run_one(args.data, args.out, n)
    docs = [json.loads((args.out / n / "results.json").read_text()) for n in names]
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
