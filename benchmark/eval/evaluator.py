"""`unimp-bench run`: fit a model per regime, ask it the verbs each task needs, score, write the run folder."""
from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from benchmark.api import Model, registry
from benchmark.data.dataset import PreparedDataset
from benchmark.data.environment import environment
from benchmark.data.io import remove_stale_staging, sha256_file, staged_dir, write_json, write_jsonl, write_text
from benchmark.data.labels import default_labels_dir, find_labels
from benchmark.data.perturb import PerturbedDataset
from benchmark.data.regimes import EVAL_SPLITS, REGIMES
from benchmark.eval.gallery import write_gallery
from benchmark.eval.results import SCHEMA_VERSION, check_run_id, predictions_name
from benchmark.eval.scoring import score_predictions
from benchmark.eval.summary import summary_markdown
from benchmark.metrics.bootstrap import check_n_boot
from benchmark.tasks import TASKS


@dataclass
class RunOptions:
    model: str
    tasks: tuple[str, ...] = tuple(TASKS)
    splits: tuple[str, ...] = EVAL_SPLITS
    seed: int = 0
    config: dict = field(default_factory=dict)
    perturbation: str | None = None
    n_boot: int = 1000
    bertscore_model: str | None = None
    run_id: str | None = None
    labels: str | None = None       # the dataset's labels folder [default: `<data>.labels` beside it, if there]


def _entry(task: str, split: str, status: str, **kw) -> dict:
    spec = TASKS[task]
    base = {"task": task, "task_version": spec.version, "split": split, "status": status, "error": None, "n": 0,
            "scores": {}, "intervals": {}, "main_score": spec.main_score, "extra": {}, "predictions": None,
            "predictions_sha256": None, "wall_time_s": 0.0}
    base.update(kw)
    return base


def _model_entry(model: Model) -> dict:
    """name, revision and config as given; whatever else the model reports (resolved hyper-parameters,
    choices made on validation, loss convention) under "details"."""
    desc = dict(model.describe())
    entry = {k: desc.pop(k) for k in ("name", "revision") if k in desc}
    entry["config"] = desc.pop("config", {})
    entry["details"] = desc
    return entry


def run(data_path: str | Path, out_root: str | Path, opts: RunOptions) -> Path:
    """Evaluate `opts.model` on every requested task and split; returns the run folder."""
    check_n_boot(opts.n_boot)  # before anything is written (intervals are part of every result)
    t_start = time.time()
    run_id = check_run_id(opts.run_id if opts.run_id is not None
                          else f"{opts.model}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}")
    out_root = Path(out_root).resolve()  # absolute: some models (RecBole) chdir into the run folder
    final = out_root / run_id
    if os.path.lexists(final):
        raise FileExistsError(f"{final} exists; choose another --run-id or --out")
    if final.resolve().parent != out_root:  # check_run_id makes this impossible; the last guard before writing
        raise ValueError(f"--run-id {run_id!r}: {final.resolve()} is not inside --out {out_root}")
    data = PreparedDataset(data_path)  # the model's view: the scored splits' inputs only
    labels = find_labels(data_path, opts.labels)
    scoring = PreparedDataset(data_path, labels=labels) if labels is not None and data.sealed else data
    if not scoring.can_score:
        print(f"cannot score: no labels folder for {data_path} (none at {default_labels_dir(data_path)}; give "
              "--labels). Predictions are written, every result is marked \"unscored\".", flush=True)
    infer_data = data.model_view()
    if opts.perturbation:
        infer_data = PerturbedDataset(infer_data, opts.perturbation, seed=opts.seed)
    remove_stale_staging(out_root)
    # Built under a staging name and renamed at the end: a refused, failed or interrupted run leaves no run
    # folder (a killed one leaves a staging folder, removed by the next run into the same --out).
    with staged_dir(final) as run_dir:
        _evaluate(data, infer_data, run_dir, run_id, opts, t_start, scoring)
    return final


def _evaluate(data: PreparedDataset, infer_data: PreparedDataset, run_dir: Path, run_id: str, opts: RunOptions,
              t_start: float, scoring: PreparedDataset) -> None:
    """`data`/`infer_data`: what the model sees (inputs only for the scored splits); `scoring`: the dataset
    with its sealed answers, used only to score the predictions (`can_score` False: not scored)."""

    (run_dir / "model").mkdir()
    write_json(run_dir / "config.json", opts.config)
    model = registry.load(opts.model)(config=opts.config, seed=opts.seed, run_dir=run_dir / "model")
    model_data = data.model_view()
    results = []
    for regime in REGIMES.values():
        splits = [s for s in opts.splits if s in regime.eval_splits]
        if not splits:
            continue
        needed = []
        for s in splits:
            for t in opts.tasks:
                spec = TASKS[t]
                if not spec.n_instances(data, s):
                    results.append(_entry(t, s, "unsupported", error="the dataset has no instances of this task and split"))
                elif model.supports(spec.model_task, s):
                    needed.append((spec, s))
                else:
                    results.append(_entry(t, s, "unsupported"))
        if not needed:
            continue
        t0 = time.time()
        try:
            model.fit(model_data, regime.name)
        except Exception as e:  # a failed fit marks the regime's tasks as errors; the run goes on
            traceback.print_exc()
            results += [_entry(spec.name, s, "error", error=f"fit failed: {type(e).__name__}: {e}") for spec, s in needed]
            continue
        fit_time = time.time() - t0
        model.set_inference_data(infer_data)
        for spec, split in needed:
            t0 = time.time()
            instances = spec.load(data, split)
            try:
                preds = spec.predict(model, split, model_data, instances, run_dir)
                rel = predictions_name(spec.name, split)
                write_jsonl(run_dir / rel, preds)
                if not scoring.can_score:
                    results.append(_entry(spec.name, split, "unscored", n=len(preds), predictions=rel,
                                          predictions_sha256=sha256_file(run_dir / rel),
                                          error="no labels: the answers of this split are sealed (give --labels)",
                                          wall_time_s=round(time.time() - t0, 3)))
                    continue
                answers = spec.load(scoring, split)
                res = score_predictions(spec.name, answers, preds, scoring, n_boot=opts.n_boot, seed=opts.seed,
                                        bertscore_model=opts.bertscore_model, run_dir=run_dir)
                if spec.gallery:
                    write_gallery(run_dir, f"{spec.name}__{split}", answers, preds, scoring)
                results.append(_entry(spec.name, split, "ok", n=res.n, scores=res.scores, intervals=res.intervals,
                                      extra=dict(res.extra, fit_time_s=round(fit_time, 2)), predictions=rel,
                                      predictions_sha256=sha256_file(run_dir / rel),
                                      wall_time_s=round(time.time() - t0, 3)))
            except Exception as e:
                traceback.print_exc()
                results.append(_entry(spec.name, split, "error", error=f"{type(e).__name__}: {e}",
                                      wall_time_s=round(time.time() - t0, 3)))
    order = {(t, s): i for i, (s, t) in enumerate((s, t) for s in EVAL_SPLITS for t in TASKS)}
    results.sort(key=lambda r: order[(r["task"], r["split"])])
    doc = {
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "created": datetime.now(timezone.utc).isoformat(),
        "model": _model_entry(model),
        "dataset": {"name": data.root.name, "sha256": data.sha256, "seed": data.manifest["seed"],
                    "scale": data.manifest.get("scale"), "source": data.manifest["source"]},
        "seed": opts.seed, "perturbation": opts.perturbation, "environment": environment(),
        "wall_time_s": round(time.time() - t_start, 2), "results": results,
    }
    write_json(run_dir / "results.json", doc)
    write_text(run_dir / "summary.md", summary_markdown([doc]))


def load_results(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "results.json").read_text())
