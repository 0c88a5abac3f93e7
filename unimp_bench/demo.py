"""`unimp-bench demo` (`make demo`): run the benchmark's models on the embedded default, print the tables,
fill the leaderboard."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from benchmark.api.registry import FAMILIES, MODELS, settings
from benchmark.data.dataset import PreparedDataset
from benchmark.data.io import write_bytes
from benchmark.data.regimes import EVAL_SPLITS
from benchmark.eval import ceiling
from benchmark.eval.evaluator import RunOptions, run
from benchmark.eval.plots import plot_runs
from benchmark.eval.summary import summary_markdown
from benchmark.prepare import EMBEDDED_SOURCE
from benchmark.tasks import TASKS
from leaderboard.archive import ARCHIVES_DIR, row_archive
from leaderboard.build import build
from leaderboard.index import read_index, row_id
from leaderboard.submit import submit

DEMO_MODELS = ("random", "pop", "bm25", "bm25-personal", "mean-rating", "mean-rating-star", "nearest-review",
               "retrieved-image", "lightgcn", "sasrec", "s3rec", "vbpr", "causalrec", "amr", "unisrec", "p5-style",
               "vip5-style", "unimp")
# Settings for the demo (recorded in each result's model config). The RecBole models train until validation
# stops improving (patience 5 evaluations; the epoch caps are far above where early stopping ends them on the
# default world). Learning rate x width grid on validation MRR@10 (bench/tune_baselines.py): LightGCN width 128;
# SASRec keeps lr 1e-3, width 64 (best of its 4 cells); UniSRec and S3-Rec not tuned yet. S3-Rec's
# pre-training has no validation signal: a fixed 10 epochs (RecBole's 500 would take hours on 2 cores).
DEMO_CONFIGS = {
    "lightgcn": {"epochs": 300, "stopping_step": 5, "embedding_size": 128, "threads": 1},
    "sasrec": {"epochs": 200, "stopping_step": 5, "MAX_ITEM_LIST_LENGTH": 20, "train_batch_size": 256, "threads": 1},
    "s3rec": {"pretrain_epochs": 10, "epochs": 200, "stopping_step": 5, "MAX_ITEM_LIST_LENGTH": 20,
              "train_batch_size": 256, "threads": 1},
    # Cornac: the cells chosen on valid by bench/tune_cornac.py (configs/<model>.yaml hold the same values)
    "vbpr": {"learning_rate": 0.02, "k": 64, "k2": 64, "stopping_step": 3, "threads": 1},
    "causalrec": {"learning_rate": 0.005, "k": 64, "k2": 64, "stopping_step": 3, "threads": 1},
    "amr": {"learning_rate": 0.02, "k": 10, "k2": 10, "stopping_step": 3, "threads": 1},
    "unisrec": {"epochs": 200, "stopping_step": 5, "MAX_ITEM_LIST_LENGTH": 20, "train_batch_size": 256, "hidden_size": 64,
                "n_exps": 4, "threads": 1},
    "p5-style": {"examples_per_epoch": 6000, "stopping_step": 2, "threads": 1},
    "vip5-style": {"examples_per_epoch": 6000, "stopping_step": 2, "threads": 1},
    "unimp": {"preset": "tiny", "torch_threads": 1},
}
# Rough run lengths (minutes on 2 cores) that order the parallel demo: longest first.
DEMO_ORDER = {"unimp": 30, "s3rec": 30, "sasrec": 12, "unisrec": 12, "vip5-style": 8, "p5-style": 7, "lightgcn": 3,
              "vbpr": 3, "amr": 2, "causalrec": 2}


def run_id(name: str, dataset_sha256: str, seed: int = 0) -> str:
    """`<model>-<hash>`: the hash of everything the demo's result depends on (model, its demo config and what a
    preset in it resolves to, the dataset, the seed, the task versions), so a folder of that name is a result that can be reused as is."""
    config = DEMO_CONFIGS.get(name, {})
    key = {"model": name, "config": config, "dataset": dataset_sha256, "seed": seed,
           "tasks": {t: spec.version for t, spec in TASKS.items()}}
    resolve = getattr(settings(name), "resolved", None) if name in MODELS else None
    if resolve is not None:  # the values a named preset stands for (UniMP), not only its name
        key["resolved"] = resolve(config)
    return f"{name}-{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]}"


def _run_one(data: Path, out: Path, name: str, rid: str) -> float:
    """One model on every task and split (a worker process); returns its wall time."""
    t0 = time.time()
    print(f"[demo] running {name} on every task and split into {out / rid} ...", flush=True)
    run(data, out, RunOptions(model=name, tasks=tuple(TASKS), splits=EVAL_SPLITS,
                              config=DEMO_CONFIGS.get(name, {}), run_id=rid))
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
    sha = PreparedDataset(data).sha256
    ids, todo = {}, []
    for name in models:
        if name not in MODELS:
            print(f"[demo] {name}: not registered in this build, skipped")
            continue
        ids[name] = rid = run_id(name, sha)
        stale = sorted(p.name for p in out.glob(f"{name}*") if p.name != rid and (p / "results.json").is_file()
                       and _model_of(p) == name)
        if (out / rid / "results.json").is_file():
            print(f"[demo] {name}: reusing {out / rid} (same model, demo config, dataset {sha[:8]}, seed and task "
                  "versions)")
        else:
            why = (f"; not reusing {', '.join(stale)} (another config, dataset or benchmark version)" if stale else "")
            print(f"[demo] {name}: to run{why}")
            todo.append(name)
    total, done = len(ids), len(ids) - len(todo)
    if todo and jobs > 1:
        _warm_image_judge(data)
        # the longest runs first, so the short ones fill the other worker meanwhile
        todo.sort(key=lambda n: -DEMO_ORDER.get(n, 0))
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_run_one, data, out, n, ids[n]): n for n in todo}
            for f in as_completed(futures):
                done += 1
                print(f"[demo] {done}/{total} models: {futures[f]} done in {f.result():.0f}s", flush=True)
    else:
        for n in todo:
            seconds = _run_one(data, out, n, ids[n])
            done += 1
            print(f"[demo] {done}/{total} models: {n} done in {seconds:.0f}s", flush=True)
    docs = [json.loads((out / ids[n] / "results.json").read_text()) for n in ids]
    # rows grouped by the paper's families (simple baselines first, UniMP last)
    families = {n: MODELS[n].family for n in sorted(ids, key=lambda n: FAMILIES.index(MODELS[n].family))}
    print(summary_markdown(_with_ceiling(data, docs), {ceiling.NAME: ceiling.FAMILY, **families}))
    figures = plot_runs([out / ids[n] for n in ids], out)  # every model's main test score with its 95% CI
    for path in figures:
        print(f"[demo] figure: {path}")
    if leaderboard is not None:
        _leaderboard(out, leaderboard, docs, figures, data)


def _with_ceiling(data: Path, docs: list[dict]) -> list[dict]:
    """The table's rows: the ranking ceiling first (the embedded world's only: real data has no latent truth)."""
    if PreparedDataset(data).manifest.get("source") != EMBEDDED_SOURCE:
        print(f"[demo] no ceiling row: {data} is not the embedded world, and real data has no latent truth")
        return docs
    print("[demo] computing the ranking ceiling (an oracle of the world's generating process) ...", flush=True)
    return [ceiling.ranking_ceiling(data)] + docs


def _model_of(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / "results.json").read_text())["model"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _leaderboard(out: Path, leaderboard: Path, docs, figures: list[Path], data: Path) -> None:
    present = {r["id"]: r for r in read_index(leaderboard)[0]}
    for doc in docs:
        rid = row_id(doc["model"]["name"], doc["run_id"])
        row = present.get(rid)
        if row is not None and row_archive(leaderboard / ARCHIVES_DIR, row).is_file():
            # a row that can be checked is never replaced: the same model, config, dataset and seed is there
            print(f"[demo] leaderboard: {rid} already there (the same result), not submitted again")
        else:  # on a clone the committed rows have no archive (not in git): the user's own run takes their place
            submit(out / doc["run_id"], leaderboard, None, replace_unarchived=True)
            instead = (f", replacing the row of that id: its archive is not in {leaderboard / ARCHIVES_DIR}, so it "
                       "could not be recomputed" if row else "")
            print(f"[demo] leaderboard: submitted {out / doc['run_id']} as {rid}{instead}")
    for path in figures:  # the board shows the figure of this demo (leaderboard/build.py embeds it)
        write_bytes(leaderboard / path.name, path.read_bytes())
    board = build(leaderboard, {PreparedDataset(data).sha256: data})  # every entry recomputed, never trusted
    for line in board.left_out:
        print(f"[demo] {line}")
    print(f"[demo] leaderboard: {leaderboard / 'README.md'} and {leaderboard / 'index.html'}")
