"""`unimp-bench demo` (`make demo`): run the benchmark's models on the embedded default, print the tables,
fill the leaderboard."""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmark.api.registry import FAMILIES, MODELS
from benchmark.data.dataset import PreparedDataset
from benchmark.data.regimes import EVAL_SPLITS
from benchmark.eval.evaluator import RunOptions, run
from benchmark.eval.summary import summary_markdown
from benchmark.tasks import TASKS
from leaderboard.build import build
from leaderboard.index import read_index, row_id
from leaderboard.submit import submit

DEMO_MODELS = ("random", "pop", "bm25", "bm25-personal", "mean-rating", "mean-rating-star", "nearest-review",
               "retrieved-image", "lightgcn", "sasrec", "s3rec", "vbpr", "causalrec", "amr", "unisrec",
               "p5-style", "vip5-style", "unimp")
# CPU budgets for the demo (recorded in each result's model config). RecBole's documented defaults
# (300 epochs; S3-Rec 500 pre-training epochs) take hours on 2 cores; pass your own with `unimp-bench run`.
DEMO_CONFIGS = {
    "lightgcn": {"epochs": 40, "stopping_step": 5, "threads": 1},
    "sasrec": {"epochs": 5, "stopping_step": 2, "MAX_ITEM_LIST_LENGTH": 20, "train_batch_size": 256, "threads": 1},
    "s3rec": {"pretrain_epochs": 2, "epochs": 5, "stopping_step": 2, "MAX_ITEM_LIST_LENGTH": 20,
              "train_batch_size": 256, "threads": 1},
    "vbpr": {"threads": 1},
    "causalrec": {"threads": 1},
    "amr": {"threads": 1},
    "unisrec": {"stopping_step": 3, "MAX_ITEM_LIST_LENGTH": 20, "train_batch_size": 256, "hidden_size": 64,
                "n_exps": 4, "threads": 1},
    "p5-style": {"examples_per_epoch": 6000, "stopping_step": 2, "threads": 1},
    "vip5-style": {"examples_per_epoch": 6000, "stopping_step": 2, "threads": 1},
    "unimp": {"preset": "tiny", "torch_threads": 1},
}
# Rough run lengths (minutes on 2 cores) that order the parallel demo: longest first.
DEMO_ORDER = {"unimp": 15, "p5-style": 12, "vip5-style": 12, "s3rec": 9, "sasrec": 5, "unisrec": 5, "lightgcn": 3,
              "vbpr": 3, "amr": 2, "causalrec": 2}


def _run_one(data: Path, out: Path, name: str) -> float:
    """One model on every task and split (a worker process); returns its wall time."""
    t0 = time.time()
    print(f"[demo] running {name} on every task and split ...", flush=True)
    run(data, out, RunOptions(model=name, tasks=tuple(TASKS), splits=EVAL_SPLITS,
                              config=DEMO_CONFIGS.get(name, {}), run_id=name))
    print(f"[demo] {name} done in {time.time() - t0:.0f}s", flush=True)
    return time.time() - t0


def _warm_image_judge(data: Path) -> None:
    """Train (or load) the image judge once, before parallel runs would each train it."""
    from benchmark.metrics.image import AttributeJudge, default_cache_dir  # heavy: torch

    AttributeJudge.for_dataset(PreparedDataset(data), default_cache_dir())


def default_jobs() -> int:
    """Models run at once: 2, or 1 on one core."""
    return min(2, os.cpu_count() or 1)


def demo(data: Path, out: Path, models=DEMO_MODELS, jobs: int | None = None, leaderboard: Path | None = None) -> None:
    """Run `models` on `data` into `out` (finished runs are reused), print the tables; with `leaderboard`,
    submit the runs there and build the board."""
    jobs = default_jobs() if jobs is None else jobs
    names = []
    for name in models:
        if name not in MODELS:
            print(f"[demo] {name}: not registered in this build, skipped")
        elif (out / name / "results.json").is_file():
            print(f"[demo] {name}: reusing {out / name}")
            names.append(name)
        else:
            names.append(name)
    todo = [n for n in names if not (out / n / "results.json").is_file()]
    if todo and jobs > 1:
        _warm_image_judge(data)
        # the longest runs first, so the short ones fill the other worker meanwhile
        todo.sort(key=lambda n: -DEMO_ORDER.get(n, 0))
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for f in [pool.submit(_run_one, data, out, n) for n in todo]:
                f.result()
    else:
        for n in todo:
            _run_one(data, out, n)
    docs = [json.loads((out / n / "results.json").read_text()) for n in names]
    # rows grouped by the paper's families (simple baselines first, UniMP last)
    families = {n: MODELS[n].family for n in sorted(names, key=lambda n: FAMILIES.index(MODELS[n].family))}
    print(summary_markdown(docs, families))
    if leaderboard is not None:
        _leaderboard(out, leaderboard, docs)


def _leaderboard(out: Path, leaderboard: Path, docs) -> None:
    present = {r["id"] for r in read_index(leaderboard)[0]}
    for doc in docs:
        if row_id(doc["model"]["name"], doc["run_id"]) not in present:  # a row is never replaced
            submit(out / doc["run_id"], leaderboard, None)
    build(leaderboard)
    print(f"[demo] leaderboard: {leaderboard / 'README.md'} and {leaderboard / 'index.html'}")
