"""`unimp-bench run`: fit a model per regime, ask it the verbs each task needs, score, write the run folder."""
from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from benchmark.data import layout
from benchmark.api import registry
from benchmark.api import IMAGE_TOKEN_SCORES, Model, regime_of
from benchmark.data.dataset import PreparedDataset
from benchmark.data.environment import environment
from benchmark.data.io import sha256_file, write_json, write_jsonl, write_text
from benchmark.eval.results import SCHEMA_VERSION, TOP_K, predictions_name
from benchmark.tasks import TASK_SPECS

BATCH = 256


@dataclass
class RunOptions:
    model: str
    tasks: tuple[str, ...] = layout.TASKS
    splits: tuple[str, ...] = layout.EVAL_SPLITS
    seed: int = 0
    config: dict = field(default_factory=dict)
    perturbation: str | None = None
    n_boot: int = 1000
    bertscore_model: str | None = None
    run_id: str | None = None


def _batches(frame: pd.DataFrame, desc: str):
    for start in tqdm(range(0, len(frame), BATCH), desc=desc, unit="batch", leave=False,
                      total=(len(frame) + BATCH - 1) // BATCH):
        yield frame.iloc[start:start + BATCH]


def _histories(frame: pd.DataFrame) -> list:
    return [list(h) if h is not None else [] for h in frame["history"]]


def _selection_scores(model: Model, frame: pd.DataFrame, desc: str) -> list[np.ndarray]:
    out = []
    for batch in _batches(frame, desc):
        out.extend(np.asarray(model.rank("selection", batch), dtype=np.float64))
    return out


def predict(model: Model, task: str, split: str, data: PreparedDataset, instances: pd.DataFrame) -> list[dict]:
    """The prediction records (benchmark.eval.results format) of one task on one split."""
    from benchmark.metrics.ranking import topk_after_masking

    ids = instances["id"].tolist()
    desc = f"{model.name} {task}/{split}"
    if task in ("recommendation", "search"):
        allowed = data.catalogue_mask(split)
        ranked = []
        for batch in _batches(instances, desc):
            scores = np.asarray(model.rank(task, batch), dtype=np.float32)
            if scores.shape != (len(batch), data.n_items):
                raise ValueError(f"{model.name}.rank returned shape {scores.shape}, expected {(len(batch), data.n_items)}")
            ranked.extend(topk_after_masking(scores, TOP_K, _histories(batch), allowed).tolist())
        return [{"id": i, "ranked": [t for t in r if t >= 0]} for i, r in zip(ids, ranked)]
    if task == "selection":
        cands = [list(c) for c in instances["candidates"]]
        if model.implements("select"):
            selected = [s for batch in _batches(instances, desc) for s in model.select(batch)]
            scores = [None] * len(ids)
        else:  # threshold the candidate scores, threshold chosen on the validation split only
            from benchmark.metrics.selection import apply_threshold, choose_threshold

            valid = data.instances("selection", layout.VALID_SPLIT_FOR[split])
            threshold = choose_threshold(_selection_scores(model, valid, f"{desc} (valid)"),
                                         [list(p) for p in valid["target_items"]], [list(c) for c in valid["candidates"]])
            scores = _selection_scores(model, instances, desc)
            selected = apply_threshold(scores, cands, threshold)
        return [{"id": i, "selected": [int(x) for x in s], "scores": None if sc is None else [float(x) for x in sc]}
                for i, s, sc in zip(ids, selected, scores)]
    if task == "rating":
        from benchmark.metrics.rating import parse_rating

        outs = [o for batch in _batches(instances, desc) for o in model.predict_rating(batch)]
        return [{"id": i, "output": str(o), "rating": parse_rating(o)} for i, o in zip(ids, outs)]
    if task == "explanation":
        texts = [t for batch in _batches(instances, desc) for t in model.generate_text(batch)]
        return [{"id": i, "text": str(t)} for i, t in zip(ids, texts)]
    if task == "image":
        images = [im for batch in _batches(instances, desc) for im in model.generate_images(batch)]
        rel_dir = Path("images") / f"{task}__{split}"
        (model.run_dir.parent / rel_dir).mkdir(parents=True, exist_ok=True)
        records = []
        for i, im in zip(ids, images):
            rel = rel_dir / (i.replace("/", "_") + ".png")
            im.save(model.run_dir.parent / rel)
            record = {"id": i, "image": rel.as_posix()}
            if "retrieved" in im.info:  # the items a two-stage generator retrieved first (shown in the gallery)
                record["retrieved"] = [int(x) for x in im.info["retrieved"]]
            for key in IMAGE_TOKEN_SCORES:  # a token model's teacher-forced scores of the target's codes
                if key in im.info:
                    record[key] = float(im.info[key])
            records.append(record)
        return records
    raise ValueError(f"unknown task {task!r}")


def _entry(task: str, split: str, status: str, **kw) -> dict:
    spec = TASK_SPECS[task]
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
    from benchmark.eval.scoring import score_predictions

    t_start = time.time()
    data = PreparedDataset(data_path)
    infer_data = data
    if opts.perturbation:
        from benchmark.data.perturb import PerturbedDataset

        infer_data = PerturbedDataset(data, opts.perturbation, seed=opts.seed)
    run_id = opts.run_id or f"{opts.model}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}"
    run_dir = (Path(out_root) / run_id).resolve()  # absolute: some models (RecBole) chdir into it
    if run_dir.exists():
        raise FileExistsError(f"{run_dir} exists; choose another --run-id or --out")
    (run_dir / "model").mkdir(parents=True)
    write_json(run_dir / "config.json", opts.config)
    model = registry.load(opts.model)(config=opts.config, seed=opts.seed, run_dir=run_dir / "model")
    results = []
    for regime in ("main", "new_domain"):
        splits = [s for s in opts.splits if regime_of(s) == regime]
        if not splits:
            continue
        counts = data.manifest["instances"]
        needed = []
        for s in splits:
            for t in opts.tasks:
                if not counts.get(f"{t}/{s}"):
                    results.append(_entry(t, s, "unsupported", error="the dataset has no instances of this task and split"))
                elif model.supports(t, s):
                    needed.append((t, s))
                else:
                    results.append(_entry(t, s, "unsupported"))
        if not needed:
            continue
        t0 = time.time()
        try:
            model.fit(data, regime)
        except Exception as e:  # a failed fit marks the regime's tasks as errors; the run goes on
            traceback.print_exc()
            results += [_entry(t, s, "error", error=f"fit failed: {type(e).__name__}: {e}") for t, s in needed]
            continue
        fit_time = time.time() - t0
        model.set_inference_data(infer_data)
        for task, split in needed:
            t0 = time.time()
            instances = data.instances(task, split)
            try:
                preds = predict(model, task, split, data, instances)
                rel = predictions_name(task, split)
                write_jsonl(run_dir / rel, preds)
                res = score_predictions(task, instances, preds, data, n_boot=opts.n_boot, seed=opts.seed,
                                        bertscore_model=opts.bertscore_model, run_dir=run_dir)
                if task == "image":
                    from benchmark.eval.gallery import write_gallery

                    write_gallery(run_dir, f"{task}__{split}", instances, preds, data)
                results.append(_entry(task, split, "ok", n=res.n, scores=res.scores, intervals=res.intervals,
                                      extra=dict(res.extra, fit_time_s=round(fit_time, 2)), predictions=rel,
                                      predictions_sha256=sha256_file(run_dir / rel),
                                      wall_time_s=round(time.time() - t0, 3)))
            except Exception as e:
                traceback.print_exc()
                results.append(_entry(task, split, "error", error=f"{type(e).__name__}: {e}",
                                      wall_time_s=round(time.time() - t0, 3)))
    order = {(t, s): i for i, (s, t) in enumerate((s, t) for s in layout.EVAL_SPLITS for t in layout.TASKS)}
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
    from benchmark.eval.summary import summary_markdown

    write_text(run_dir / "summary.md", summary_markdown([doc]))
    return run_dir


def load_results(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "results.json").read_text())
