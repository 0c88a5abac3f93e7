"""`unimp-bench run`: fit a model per regime, ask it the verbs each task needs, score, write the run folder."""
from __future__ import annotations

import glob
import json
import os
import shutil
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from benchmark.api import CURVES_FILE, Model, registry
from benchmark.data.dataset import PreparedDataset
from benchmark.data.environment import environment
from benchmark.data.io import (
    process_exists,
    remove_stale_staging,
    sha256_file,
    staged_dir,
    write_json,
    write_jsonl,
    write_text,
)
from benchmark.data.labels import default_labels_dir, find_labels
from benchmark.data.perturb import PerturbedDataset
from benchmark.data.regimes import EVAL_SPLITS, REGIMES
from benchmark.eval.gallery import write_gallery
from benchmark.eval.results import SCHEMA_VERSION, check_run_id, predictions_name
from benchmark.eval.scoring import score_predictions
from benchmark.eval.summary import summary_markdown
from benchmark.metrics import device
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
    limit: int | None = None        # score only the first N instances of each task and split (smoke runs)
    device: str = "auto"            # auto, cpu, cuda or cuda:N (benchmark.metrics.device)
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
    entry["details"] = dict(desc, device=device.current())  # where it ran (not part of the config)
    return entry


# While a run is built, its staging folder holds RESUME_FILE (the run's options and dataset) and one file per
# finished (task, split) in PROGRESS_DIR; a killed run keeps them, `run --resume` continues from them, and both
# are removed when the run completes.
RESUME_FILE = "resume.json"
PROGRESS_DIR = "progress"


def find_resumable(out_root: str | Path, ref: str | Path) -> Path:
    """The staging folder of a killed run: `ref` is that folder, or the run id of one inside `out_root`."""
    out_root = Path(out_root).resolve()
    if (Path(ref) / RESUME_FILE).is_file():
        return Path(ref).resolve()
    name = Path(ref).name
    if (out_root / name / "results.json").is_file():
        raise FileExistsError(f"{out_root / name} is complete: nothing to resume")
    found = sorted(p for p in out_root.glob(f".{glob.escape(name)}.partial-*") if (p / RESUME_FILE).is_file())
    dead = [p for p in found if not process_exists(int(p.name.rsplit("-", 1)[1]))]
    if not dead:
        known = sorted(p.name.split(".partial-")[0][1:] for p in out_root.glob(".*.partial-*") if (p / RESUME_FILE).is_file())
        busy = f"; {found[0]} belongs to a process that is still running" if found else ""
        raise FileNotFoundError(f"no killed run {name!r} to resume in {out_root}{busy} (resumable there: "
                                f"{', '.join(known) or 'none'})")
    return dead[-1]


def run(data_path: str | Path | None, out_root: str | Path, opts: RunOptions, resume: str | Path | None = None) -> Path:
    """Evaluate `opts.model` on every requested task and split; returns the run folder. `resume`: a killed
    run (see `find_resumable`) to continue with its own options (only opts.device applies); its finished
    (task, split) results are kept and models that keep checkpoints in their folder restart from them."""
    check_n_boot(opts.n_boot)  # before anything is written (intervals are part of every result)
    device.use(device.resolve(opts.device))  # DeviceError (a ValueError) before anything is written
    t_start = time.time()
    out_root = Path(out_root).resolve()  # absolute: some models (RecBole) chdir into the run folder
    stage = None
    if resume is not None:
        stage = find_resumable(out_root, resume)
        saved = json.loads((stage / RESUME_FILE).read_text())
        kept = {k: tuple(v) if isinstance(v, list) else v for k, v in saved["options"].items()}
        opts, data_path, out_root = RunOptions(**dict(kept, device=opts.device)), saved["data"], stage.parent
    run_id = check_run_id(opts.run_id if opts.run_id is not None
                          else f"{opts.model}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}")
    opts = replace(opts, run_id=run_id)  # recorded for a resume
    final = out_root / run_id
    if os.path.lexists(final):
        raise FileExistsError(f"{final} exists; choose another --run-id or --out")
    if final.resolve().parent != out_root:  # check_run_id makes this impossible; the last guard before writing
        raise ValueError(f"--run-id {run_id!r}: {final.resolve()} is not inside --out {out_root}")
    data = PreparedDataset(data_path)  # the model's view: the scored splits' inputs only
    if stage is not None and data.sha256 != saved["dataset_sha256"]:
        raise FileExistsError(f"cannot resume {stage}: {data_path} is no longer the dataset it started on "
                              f"(sha256 {data.sha256[:12]}..., was {saved['dataset_sha256'][:12]}...)")
    labels = find_labels(data_path, opts.labels)
    scoring = PreparedDataset(data_path, labels=labels) if labels is not None and data.sealed else data
    if not scoring.can_score:
        print(f"cannot score: no labels folder for {data_path} (none at {default_labels_dir(data_path)}; give "
              "--labels). Predictions are written, every result is marked \"unscored\".", flush=True)
    infer_data = data.model_view()
    if opts.perturbation:
        infer_data = PerturbedDataset(infer_data, opts.perturbation, seed=opts.seed)
    if stage is None:
        remove_stale_staging(out_root, keep_marker=RESUME_FILE)
    # Built under a staging name and renamed at the end: a refused or failed run leaves no run folder. A killed
    # or interrupted (Ctrl-C) one leaves its staging folder, which `--resume` continues (cleanups keep it).
    with staged_dir(final, resume_from=stage, keep_on_interrupt=True) as run_dir:
        if stage is None:
            (run_dir / "model").mkdir()
            write_json(run_dir / "config.json", opts.config)
            write_json(run_dir / RESUME_FILE, {"options": asdict(opts), "data": str(Path(data_path).resolve()),
                                               "dataset_sha256": data.sha256})
        try:
            _evaluate(data, infer_data, run_dir, run_id, opts, t_start, scoring)
        except KeyboardInterrupt:
            print(f"\ninterrupted: {run_id} is kept in {run_dir}; continue it with `unimp-bench run --resume "
                  f"{run_id} --out {out_root}`, or delete that folder")
            raise
    return final


def _evaluate(data: PreparedDataset, infer_data: PreparedDataset, run_dir: Path, run_id: str, opts: RunOptions,
              t_start: float, scoring: PreparedDataset) -> None:
    """`data`/`infer_data`: what the model sees (inputs only for the scored splits); `scoring`: the dataset
    with its sealed answers, used only to score the predictions (`can_score` False: not scored)."""
    model = registry.load(opts.model)(config=opts.config, seed=opts.seed, run_dir=run_dir / "model")
    model_data = data.model_view()
    progress = run_dir / PROGRESS_DIR
    done = {(e["task"], e["split"]): e for e in map(load_json, sorted(progress.glob("*.json")))}  # a resumed run
    if done:
        print(f"resuming {run_id}: keeping {', '.join(f'{t}/{s}' for t, s in done)}")
    results = []
    for regime in REGIMES.values():
        splits = [s for s in opts.splits if s in regime.eval_splits]
        for s in [s for s in splits if not data.has_split(s)]:  # a holdout prepare turned off: one line, no entries
            print(f"skipping split {s}: {data.missing_split(s)}")
            splits.remove(s)
        if not splits:
            continue
        needed = []
        for s in splits:
            for t in opts.tasks:
                spec = TASKS[t]
                if not spec.n_instances(data, s):
                    results.append(_entry(t, s, "unsupported", error="the dataset has no instances of this task and split"))
                elif (t, s) in done:
                    results.append(done[(t, s)])
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
            if opts.limit is not None:  # a smoke run: not comparable, and refused by the leaderboard (coverage)
                instances = instances.head(opts.limit)
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
                if opts.limit is not None:
                    answers = answers.head(opts.limit)
                res = score_predictions(spec.name, answers, preds, scoring, n_boot=opts.n_boot, seed=opts.seed,
                                        bertscore_model=opts.bertscore_model, run_dir=run_dir)
                if spec.gallery:
                    write_gallery(run_dir, f"{spec.name}__{split}", answers, preds, scoring)
                results.append(_entry(spec.name, split, "ok", n=res.n, scores=res.scores, intervals=res.intervals,
                                      extra=dict(res.extra, fit_time_s=round(fit_time, 2),
                                                 **({"limit": opts.limit} if opts.limit is not None else {})),
                                      predictions=rel,
                                      predictions_sha256=sha256_file(run_dir / rel),
                                      wall_time_s=round(time.time() - t0, 3)))
                write_json(progress / f"{spec.name}__{split}.json", results[-1])  # kept by a resume
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
    if (run_dir / "model" / CURVES_FILE).is_file():  # a model that trains logged its curves (`unimp-bench plot`)
        os.replace(run_dir / "model" / CURVES_FILE, run_dir / CURVES_FILE)
    write_json(run_dir / "results.json", doc)
    write_text(run_dir / "summary.md", summary_markdown([doc]))
    shutil.rmtree(progress, ignore_errors=True)  # complete: no longer resumable
    (run_dir / RESUME_FILE).unlink(missing_ok=True)


def load_results(run_dir: str | Path) -> dict:
    return load_json(Path(run_dir) / "results.json")


def load_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
