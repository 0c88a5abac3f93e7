"""`unimp-bench leaderboard verify`: re-run a submission's recipe and compare.

A submission's results.json is its recipe: the model name, its config (checked against the model's
settings), the seed, the perturbation, the code revision (`environment.git`) and the dataset sha256. Verify
re-runs that recipe on the given dataset with its labels and compares, for every result with status ok:
  - a model that declares `deterministic` must give byte-identical predictions (same sha256);
  - any other model must have its re-run main score inside the submission's 95% interval.
All of them match: "reproduced". A submission whose code revision is not the checkout's is refused unless
`any_revision` (the comparison then says so).

Each task is re-run in isolation: a fresh model, fitted and asked on a task view of the dataset
(benchmark.data.views) that holds the training and validation files and the scored inputs of that task only.
The public inputs of one task answer another (the item a rating question names is the user's recommendation
answer), so a model that reads another task's scored file gets other predictions here and is not reproduced.
The isolation is of the folder the model is given (and of its instance, one per task); the re-run is in this
process, not a sandbox.

The private world (`private_seed_file`): the maintainer keeps a secret seed in a file; verify generates the
embedded world at the submission's scale with it (in a private temporary folder, removed afterwards; the seed is
never printed nor written anywhere else), re-runs the recipe there and reports public and private main scores
with their intervals. A model that memorised the public world's answers (which anyone can regenerate from the
public seed) collapses there: the submission is flagged "does not reproduce on a private world" when its
public main score lies beyond the private interval's far end by more than PRIVATE_MARGIN.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from benchmark.api import registry
from benchmark.api.config_schema import ConfigError, check_model_config
from benchmark.data.dataset import PreparedDataset
from benchmark.data.environment import git_commit
from benchmark.data.io import sha256_file, write_text
from benchmark.data.labels import default_labels_dir, find_labels
from benchmark.data.views import build_view
from benchmark.eval.evaluator import RunOptions, run
from benchmark.metrics.registry import METRICS
from benchmark.tasks import TASKS
from leaderboard import schema
from leaderboard.archive import extract_archive
from leaderboard.common import RESULTS_FILE, loads_strict, read_json_file

REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced"
VERIFIED_FILE = "verified.jsonl"  # in the leaderboard folder: one verify outcome per archive, kept by maintainers
NOT_PRIVATE = "does not reproduce on a private world"
ISOLATED = ", re-run without the other tasks' scored inputs"  # why an honest-looking submission may differ
# Chosen on honest baselines: pop, random, mean-rating, bm25 and nearest-review, every ok task/split, public
# world seed 0 against private seeds 1-4 at tiny scale (n_boot 200). The largest honest gap, public main score
# beyond the private 95% interval's far end, was 0.167 (random, recommendation/new_user: 12 instances, so
# one hit moves HR@5 by 0.083); the next were 0.083. The margin sits above it; a model that memorised the
# public answers is beyond by ~0.9.
PRIVATE_MARGIN = 0.25


@dataclass
class Verdict:
    outcome: str                                         # REPRODUCED, NOT_REPRODUCED, or "refused"
    lines: list[str] = field(default_factory=list)       # what was compared, one line each
    rerun_dir: Path | None = None                        # work_dir: the re-runs' folders, one per task
    private: str | None = None   # None (not run), "agrees" or NOT_PRIVATE


def _submission_folder(path: Path, tmp: Path) -> Path:
    """A run or submission folder as is; an archive extracted safely into `tmp`."""
    if path.is_dir():
        return path
    problems = extract_archive(path, tmp / "submission", path.name)
    if problems:
        raise ValueError("; ".join(map(str, problems)))
    return tmp / "submission"


def _recipe(folder: Path) -> dict:
    doc, problems = read_json_file(folder / RESULTS_FILE, str(folder), RESULTS_FILE)
    problems = problems or schema.check_results(doc, str(folder))
    if problems:
        raise ValueError("; ".join(map(str, problems[:3])))
    return doc


def read_secret_seed(path: str | Path) -> int:
    """The integer in `path`; the error never shows the file's content."""
    try:
        return int(Path(path).read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError, ValueError):
        raise ValueError(f"{path}: must hold one integer (the private world's seed)") from None


def _private_check(doc: dict, opts: RunOptions, seed: int, ok: list[dict], tmp: Path) -> tuple[str, list[str]]:
    from benchmark.prepare import EMBEDDED_SOURCE, prepare_default

    scale = doc["dataset"].get("scale")
    if doc["dataset"].get("source") != EMBEDDED_SOURCE or scale not in ("tiny", "default", "paper"):
        return "not run", ["private world: only for submissions on the embedded world (its source and scale)"]
    world = prepare_default(out=tmp / "private", raw=tmp / "private-raw", scale=scale, seed=seed)
    again = _isolated_runs(world, default_labels_dir(world), tmp / "private-runs", opts, ok, tmp / "private-views")
    lines, flagged = [], False
    for e in ok:
        r = again.get((e["task"], e["split"]))
        main = e["main_score"]
        if r is None or r["status"] != "ok" or main not in r["intervals"]:
            lines.append(f"private world {e['task']}/{e['split']}: no score")
            continue
        low, high = r["intervals"][main]
        higher = METRICS[main].higher_is_better
        gap = e["scores"][main] - high if higher else low - e["scores"][main]
        beyond = gap > PRIVATE_MARGIN
        flagged |= beyond
        lines.append(f"{e['task']}/{e['split']}: {main} public {e['scores'][main]:.4f}, private {r['scores'][main]:.4f} "
                     f"[{low:.4f}, {high:.4f}]" + (f": beyond the private interval by {gap:.4f} > margin "
                                                    f"{PRIVATE_MARGIN}" if beyond else ""))
    return (NOT_PRIVATE if flagged else "agrees"), lines


def _isolated_runs(data: Path, labels: Path | None, out: Path, opts: RunOptions, ok: list[dict],
                   views: Path) -> dict[tuple[str, str], dict]:
    """{(task, split): result} of the recipe `opts` re-run once per instance folder (a variant shares its
    task's) on a task view of `data` holding only that folder's scored inputs; run folders go to `out`."""
    files = PreparedDataset(data).manifest["files"]
    groups: dict[str, list[dict]] = {}
    for e in ok:
        groups.setdefault(TASKS[e["task"]].instance_set, []).append(e)
    again = {}
    for folder, entries in groups.items():
        view = build_view(data, views / folder / data.name, folder, files)
        try:
            rerun = run(view, out, replace(opts, tasks=tuple(dict.fromkeys(e["task"] for e in entries)),
                                           splits=tuple(dict.fromkeys(e["split"] for e in entries)),
                                           run_id=f"{opts.run_id}-{folder}", labels=labels and str(labels)))
        finally:
            shutil.rmtree(views / folder, ignore_errors=True)
        again.update({(e["task"], e["split"]): e for e in _recipe(rerun)["results"]})
    return again


def verify(submission: str | Path, data: str | Path, labels: str | Path | None = None, any_revision: bool = False,
           work_dir: str | Path | None = None, private_seed_file: str | Path | None = None) -> Verdict:
    """Re-run the recipe of `submission` (run folder, extracted submission or archive) on `data` and compare;
    with `private_seed_file`, also on a private world (see the module's docstring)."""
    secret = read_secret_seed(private_seed_file) if private_seed_file is not None else None
    submission, data = Path(submission), Path(data)
    with tempfile.TemporaryDirectory(prefix="lb-verify-") as tmp:
        try:
            doc = _recipe(_submission_folder(submission, Path(tmp)))
        except ValueError as e:
            return Verdict("refused", [f"{submission}: not a valid submission: {e}"])
        ds = PreparedDataset(data, labels=find_labels(data, labels))
        if not ds.can_score:
            return Verdict("refused", [f"{data}: no labels folder (give --labels): the re-run could not be scored"])
        if ds.sha256 != doc["dataset"]["sha256"]:
            return Verdict("refused", [f"the submission was run on dataset {doc['dataset']['sha256']}, --data {data} is "
                                       f"{ds.sha256}"])
        name, config = doc["model"]["name"], doc["model"]["config"]
        if name not in registry.MODELS:
            return Verdict("refused", [f"model {name!r} is not registered in this checkout"])
        try:
            check_model_config(name, config)
        except ConfigError as e:
            return Verdict("refused", [f"the recipe's config does not pass the model's settings: {e}"])
        theirs, ours = doc["environment"].get("git"), git_commit()
        lines = []
        if theirs != ours:
            note = f"code revision: the submission ran {theirs}, this checkout is {ours}"
            if not any_revision:
                return Verdict("refused", [note + "; check out that revision, or pass --any-revision"])
            lines.append(note + " (--any-revision: compared anyway)")
        ok = [e for e in doc["results"] if e["status"] == "ok"]
        if not ok:
            return Verdict("refused", ["no result with status ok to re-run"])
        extra = ok[0]["extra"]
        opts = RunOptions(model=name, tasks=tuple(dict.fromkeys(e["task"] for e in ok)),
                          splits=tuple(dict.fromkeys(e["split"] for e in ok)), seed=doc["seed"], config=config,
                          perturbation=doc["perturbation"], n_boot=int(extra.get("n_boot", 1000)),
                          bertscore_model=extra.get("bertscore_model"), run_id="rerun")
        out = Path(work_dir) if work_dir is not None else Path(tmp) / "runs"
        again = _isolated_runs(data, ds.labels and ds.labels.root, out, opts, ok, Path(tmp) / "views")
        private, private_lines = None, []
        if secret is not None:
            private, private_lines = _private_check(doc, replace(opts, labels=None, run_id="private"), secret, ok,
                                                    Path(tmp))
    deterministic = registry.load(name).deterministic
    matched = True
    lines.append("isolation: each task re-run by a fresh model on a copy of the dataset that holds only that "
                 "task's scored inputs")
    for e in ok:
        key = f"{e['task']}/{e['split']}"
        r = again.get((e["task"], e["split"]))
        if r is None or r["status"] != "ok":
            matched = False
            why = f"{r['status']}: {r['error']}" if r and r.get("error") else r["status"] if r else "missing"
            lines.append(f"{key}: the re-run has no scores ({why}){ISOLATED}")
            continue
        main = e["main_score"]
        if deterministic:
            same = r["predictions_sha256"] == e["predictions_sha256"]
            matched &= same
            lines.append(f"{key}: predictions {'identical' if same else 'DIFFER'} (deterministic model"
                         f"{'' if same else ISOLATED}); "
                         f"{main} submitted {e['scores'][main]:.4f}, re-run {r['scores'][main]:.4f}")
        else:
            low, high = e["intervals"].get(main, [e["scores"][main]] * 2)
            inside = low <= r["scores"][main] <= high
            matched &= inside
            lines.append(f"{key}: re-run {main} {r['scores'][main]:.4f} {'inside' if inside else 'OUTSIDE'} the "
                         f"submitted 95% interval [{low:.4f}, {high:.4f}]"
                         + ("" if inside else f" ({ISOLATED.lstrip(', ')})"))
    outcome = REPRODUCED if matched and private != NOT_PRIVATE else NOT_REPRODUCED
    return Verdict(outcome, lines + private_lines, Path(work_dir) if work_dir else None, private)


def read_verified(leaderboard_dir: str | Path) -> dict[str, dict]:
    """{archive sha256: record} from verified.jsonl (lines that are not a record are ignored)."""
    path = Path(leaderboard_dir) / VERIFIED_FILE
    records = {}
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            r = loads_strict(line)
        except ValueError:
            continue
        if isinstance(r, dict) and isinstance(r.get("archive_sha256"), str):
            records[r["archive_sha256"]] = r
    return records


def record_verdict(leaderboard_dir: str | Path, archive: Path, verdict: Verdict) -> None:
    """Keep the outcome for the archive (by its sha256), replacing an earlier one; sorted, atomic."""
    records = read_verified(leaderboard_dir)
    sha = sha256_file(archive)
    records[sha] = {"archive_sha256": sha, "outcome": verdict.outcome, "private": verdict.private or "not run",
                    "code_revision": git_commit()}
    write_text(Path(leaderboard_dir) / VERIFIED_FILE,
               "".join(json.dumps(records[k], sort_keys=True) + "\n" for k in sorted(records)))


def verify_cli(submission, data, labels=None, any_revision: bool = False, out=None, private_seed_file=None,
               record: str | Path | None = None) -> int:
    """Print each comparison and the verdict; exit 0 reproduced, 1 not reproduced, 2 refused. With `record`
    (a leaderboard folder) and an archive as the submission, keep the outcome in its verified.jsonl."""
    import sys

    if record is not None and not Path(submission).is_file():
        print(f"error: --record needs the submission's archive (<sha256>.tar.gz), not {submission}", file=sys.stderr)
        return 2

    out = out or sys.stdout
    try:
        verdict = verify(submission, data, labels, any_revision, private_seed_file=private_seed_file)
    except (OSError, ValueError) as e:  # a dataset that cannot be opened, labels not as the manifest says
        print(f"error: {e}", file=sys.stderr)
        return 2
    for line in verdict.lines:
        print(line, file=out)
    flag = f" ({NOT_PRIVATE})" if verdict.private == NOT_PRIVATE else ""
    print(f"{submission}: {verdict.outcome}{flag}", file=out)
    if record is not None and verdict.outcome != "refused":
        record_verdict(record, Path(submission), verdict)
        print(f"recorded in {Path(record) / VERIFIED_FILE}", file=out)
    return {REPRODUCED: 0, NOT_REPRODUCED: 1}.get(verdict.outcome, 2)
