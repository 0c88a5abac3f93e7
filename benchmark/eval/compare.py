"""`unimp-bench compare`: one baseline run against one or more runs, paired bootstrap on the same instances.

Everything a user can get wrong (a folder that is no run, runs on different datasets, a task, split or metric
name that does not exist or was not scored) is a `CompareError` whose message names the valid choices; the
dataset comes from the runs' results.json (`data/<name>`, checked by sha256) unless --data overrides it.
"""
from __future__ import annotations

import json
from pathlib import Path

from benchmark.data.dataset import PreparedDataset
from benchmark.data.labels import find_labels
from benchmark.data.regimes import EVAL_SPLITS
from benchmark.eval.results import predictions_name
from benchmark.eval.scoring import ALPHA, compare_scored, score_predictions
from benchmark.metrics.bootstrap import check_n_boot
from benchmark.tasks import TASKS


class CompareError(ValueError):
    """A misuse of `compare`, with a message that says what to do."""


def load_run(run_dir: Path) -> dict:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise CompareError(f"{run_dir} is not a run folder: no results.json (a run folder is what `unimp-bench run` "
                           "prints as 'run folder:')")
    try:
        doc = json.loads(path.read_text())
        doc["dataset"]["sha256"], doc["results"]  # noqa: B018  (the fields compare relies on)
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CompareError(f"{path}: not a results file written by `unimp-bench run` ({type(e).__name__}: {e})") from None
    return doc


def resolve_dataset(docs: list[tuple[Path, dict]], data: Path | None) -> PreparedDataset:
    """The dataset every run was made on: --data when given (it must be that dataset), else data/<name>."""
    shas = {doc["dataset"]["sha256"]: (run, doc["dataset"]) for run, doc in docs}
    if len(shas) > 1:
        listing = "; ".join(f"{run}: {ds['name']} sha256 {sha[:12]}" for sha, (run, ds) in shas.items())
        raise CompareError(f"the runs were made on different datasets ({listing}); compare needs the same instances")
    sha, (run, info) = next(iter(shas.items()))
    path = Path(data) if data is not None else Path("data") / info["name"]
    if not (path / "manifest.json").is_file():
        how = "--data" if data is not None else f"the runs' dataset {info['name']!r} (from {run}/results.json)"
        raise CompareError(f"{path}: no prepared dataset there ({how}); pass --data <folder of dataset "
                           f"{info['name']!r}, sha256 {sha[:12]}...>")
    # verifies the files against the manifest (DataError when tampered); scoring needs the sealed answers
    ds = PreparedDataset(path, labels=find_labels(path))
    if ds.sha256 != sha:
        raise CompareError(f"{path} is dataset sha256 {ds.sha256[:12]}..., but the runs were made on "
                           f"{info['name']!r} sha256 {sha[:12]}...; pass --data with that dataset")
    return ds


def _predictions(run_dir: Path, doc: dict, task: str, split: str) -> list[dict]:
    entry = next((r for r in doc["results"] if r.get("task") == task and r.get("split") == split), None)
    if entry is None or entry.get("status") != "ok":
        scored = [f"{r['task']}/{r['split']}" for r in doc["results"] if r.get("status") == "ok"]
        why = "was not evaluated" if entry is None else f"is {entry.get('status')!r}"
        raise CompareError(f"{run_dir}: {task}/{split} {why} in this run; scored there: {', '.join(scored) or 'nothing'}")
    path = Path(run_dir) / predictions_name(task, split)
    if not path.is_file():
        raise CompareError(f"{path} not found (results.json says {task}/{split} was scored)")
    preds = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        try:
            preds.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise CompareError(f"{path} line {i}: not JSON ({e.msg})") from None
    return preds


def check_names(task: str, split: str, metrics: tuple[str, ...] | None) -> None:
    if task not in TASKS:
        raise CompareError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    spec = TASKS[task]
    if split not in EVAL_SPLITS:
        raise CompareError(f"unknown split {split!r}; choose from {', '.join(EVAL_SPLITS)}")
    bad = [m for m in metrics or () if m not in spec.metrics and m != "all"]
    if bad:
        raise CompareError(f"{task} has no metric {', '.join(map(repr, bad))}; choose from all, {', '.join(spec.metrics)}")


def compare(baseline: Path, runs: list[Path], task: str, split: str, *, metrics: tuple[str, ...] | None = None,
            data: Path | None = None, n_boot: int = 1000, seed: int = 0, bertscore_model: str | None = None) -> dict:
    """Each run against `baseline` on `metrics` (default: the task's table metrics; ("all",): every metric with
    per-instance data)."""
    check_names(task, split, metrics)
    try:
        check_n_boot(n_boot)
    except ValueError as e:
        raise CompareError(f"--n-boot: {e}") from None
    docs = [(Path(r), load_run(Path(r))) for r in (baseline, *runs)]
    ds = resolve_dataset(docs, data)
    preds = [_predictions(r, doc, task, split) for r, doc in docs]
    spec = TASKS[task]
    instances = spec.load(ds, split)
    kw = {"bertscore_model": bertscore_model} if bertscore_model else {}
    scored = []
    for (run, _), p in zip(docs, preds):
        try:
            scored.append(score_predictions(task, instances, p, ds, n_boot=0, seed=seed, run_dir=run, **kw))
        except ValueError as e:  # predictions not covering the instances exactly
            raise CompareError(f"{run}: {e}") from None
    pairable = [m for m in spec.metrics if all(m in r.per_instance for r in scored)]  # optional ones: in every run
    if metrics == ("all",):
        metrics = tuple(pairable)
    bad = [m for m in metrics or () if m not in pairable]
    if bad:
        raise CompareError(f"{', '.join(bad)} is a set-level metric (no per-instance values to pair); "
                           f"choose from {', '.join(pairable)}")
    rows = []
    for (run, _), res in zip(docs[1:], scored[1:]):
        for metric in metrics or [m for m in spec.table_metrics if m in pairable]:
            rows.append({"run": str(run), **compare_scored(scored[0], res, metric, n_boot=n_boot, seed=seed)})
    return {"task": task, "split": split, "baseline": str(baseline), "dataset": docs[0][1]["dataset"],
            "n_boot": n_boot, "seed": seed, "alpha": ALPHA, "test": "paired bootstrap", "rows": rows}


def _verdict(row: dict) -> str:
    if row["low"] <= 0 <= row["high"]:
        return "no clear difference"
    better = (row["diff"] > 0) == row["higher_is_better"]
    return "better" if better else "worse"


def format_table(result: dict) -> str:
    """The comparison as a plain-text table (diff = run - baseline)."""
    head = (f"{result['task']} / {result['split']}: each run against baseline {result['baseline']}\n"
            f"diff = run - baseline; 95% interval and two-sided p from a paired bootstrap ({result['n_boot']} "
            f"resamples, seed {result['seed']}); n = instances")
    cols = ("run", "metric", "baseline", "run score", "diff", "95% CI", "p", "n", "verdict")
    body = [(Path(r["run"]).name, r["metric"], f"{r['baseline']:.4f}", f"{r['score']:.4f}", f"{r['diff']:+.4f}",
             f"[{r['low']:+.4f}, {r['high']:+.4f}]", f"{r['p_value']:.3f}", str(r["n"]), _verdict(r))
            for r in result["rows"]]
    widths = [max(len(c), *(len(b[i]) for b in body)) if body else len(c) for i, c in enumerate(cols)]
    line = lambda cells: "  ".join(f"{c:<{w}s}" if i in (0, 1, 8) else f"{c:>{w}s}"  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([head, "", line(cols), *(line(b) for b in body)])
