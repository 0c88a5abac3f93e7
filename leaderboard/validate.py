"""Validate every submission of a leaderboard against the prepared datasets it claims to use.

The leaderboard is index.jsonl (one row per submission, `leaderboard.index`) plus one archive per row
(`leaderboard.archive`, kept outside git). Checks, each failure a `Problem` naming the submission and
the field or file:
  index      each row's schema and metric ranges, unique sorted ids (also without archives: --index-only);
  archive    the archive's size and sha256 equal the row's; members are allowed regular files only;
  files      only known kinds of files, safe names, no symlinks, size limit (`common.scan_folder`);
  place      <slug(model.name)>/<run_id> agrees with results.json;
  row        the index row says exactly what the archive's results.json and model_meta.json say;
  schema     results.json and model_meta.json: no unknown or missing field, types, ranges, no NaN;
  dataset    dataset.sha256 is one of the known prepared datasets;
  coverage   each ok result's predictions cover exactly the split's instances (no missing,
             duplicate or unknown ids), with well-formed lines and a matching sha256; ranked
             item tokens are items of the split's catalogue;
  scores     recomputing the scores from the predictions against the frozen targets gives the
             submitted scores within `common.TOLERANCE`. The targets of the scored splits are sealed:
             each dataset is opened with its labels folder (given, or `<data>.labels` beside it).
Results with status "unsupported" or "error" need no predictions.
"""
from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from benchmark.data.dataset import PreparedDataset
from benchmark.data.errors import IntegrityError
from benchmark.data.io import sha256_file, write_text
from benchmark.data.labels import default_labels_dir, find_labels
from benchmark.eval.scoring import score_predictions
from benchmark.tasks import TASKS
from leaderboard import schema
from leaderboard.archive import ARCHIVES_DIR, check_archive_file, extract_archive, row_archive
from leaderboard.common import (
    CONFIG_FILE,
    IMAGES_DIR,
    MAX_SUBMISSION_BYTES,
    META_FILE,
    PREDICTIONS_DIR,
    RESULTS_FILE,
    TOLERANCE,
    Problem,
    check_relpath,
    is_safe_name,
    loads_strict,
    read_json_file,
    resolve_inside,
    scan_folder,
    slug,
)
from leaderboard.index import compare_row, read_index


class DatasetCache:
    """Opens each prepared dataset once, with its labels (`labels` {sha256: folder}, else the folder beside
    the data), and keeps the instance tables it was asked for."""

    def __init__(self, datasets: dict[str, str | Path], labels: dict[str, str | Path] | None = None):
        self.paths = {sha: Path(p) for sha, p in datasets.items()}
        self.labels = {sha: Path(p) for sha, p in (labels or {}).items()}
        self._open: dict[str, object] = {}
        self._instances: dict[tuple[str, str, str], object] = {}

    def get(self, sha: str):
        if sha not in self._open:
            path = self.paths[sha]
            data = PreparedDataset(path, labels=self.labels.get(sha) or find_labels(path))
            if not data.can_score:
                raise ValueError(f"{path}: the answers of its scored splits are sealed and no labels folder was "
                                 f"given (none at {default_labels_dir(path)}; pass --labels)")
            self._open[sha] = data
        return self._open[sha]

    def instances(self, sha: str, task: str, split: str):
        key = (sha, task, split)
        if key not in self._instances:
            self._instances[key] = TASKS[task].load(self.get(sha), split)
        return self._instances[key]


def check_line(task: str, row, where: str, sub: str, folder: Path, split: str) -> list[Problem]:
    """Shape of one prediction line: the fields its task declares, their types (the task's own check),
    and files it names inside the submission."""
    if not isinstance(row, dict):
        return [Problem(sub, where, "must be a JSON object")]
    spec = TASKS[task]
    fields = {"id", *spec.line_fields}
    problems = [Problem(sub, f"{where}.{k}", "unknown field") for k in sorted(set(row) - fields - set(spec.optional_fields))]
    problems += [Problem(sub, f"{where}.{k}", "missing field") for k in sorted(fields - set(row))]
    if problems:
        return problems
    if not isinstance(row["id"], str):
        problems.append(Problem(sub, f"{where}.id", "must be a string"))
    unsafe = {k: why for k in spec.file_fields if (why := check_relpath(row[k]))}  # paths first: never follow them
    problems += [Problem(sub, f"{where}.{k}", why) for k, why in unsafe.items()]
    bad = [(k, why) for k, why in spec.check_line(row, split) if k not in unsafe]
    problems += [Problem(sub, f"{where}.{k}", why) for k, why in bad]
    for k in spec.file_fields:
        if k in unsafe or any(f == k for f, _ in bad):
            continue
        p = resolve_inside(folder, row[k])
        if p is None or not p.is_file():
            problems.append(Problem(sub, f"{where}.{k}", f"{k} file {row[k]!r} is not in the submission"))
    return problems


def read_predictions(path: Path, task: str, split: str, sub: str, folder: Path) -> tuple[list[dict], list[Problem]]:
    """Parse a predictions JSONL file line by line; problems name FILE:LINE."""
    rel = path.relative_to(folder).as_posix()
    rows: list[dict] = []
    problems: list[Problem] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            where = f"{rel}:{lineno}"
            if not line.strip():
                problems.append(Problem(sub, where, "empty line"))
                continue
            try:
                row = loads_strict(line)
            except ValueError as e:
                problems.append(Problem(sub, where, f"not valid JSON: {e}"))
                continue
            bad = check_line(task, row, where, sub, folder, split)
            problems += bad
            if not bad:
                rows.append(row)
    return rows, problems


def check_coverage(ids: Iterable[str], expected: Iterable[str], sub: str, field: str) -> list[Problem]:
    """Predictions must cover exactly the instances: no missing, duplicate or unknown ids."""
    ids, expected_set = list(ids), set(expected)
    seen: set[str] = set()
    dup = sorted({i for i in ids if i in seen or seen.add(i)})
    unknown = sorted(set(ids) - expected_set)
    missing = sorted(expected_set - set(ids))
    problems = []
    for what, bad in (("duplicate", dup), ("unknown", unknown), ("missing", missing)):
        if bad:
            shown = ", ".join(bad[:5]) + (f", ... ({len(bad)} in all)" if len(bad) > 5 else "")
            problems.append(Problem(sub, field, f"{what} instance ids: {shown}"))
    return problems


def check_catalogue(rows: list[dict], dataset, split: str, sub: str, rel: str) -> list[Problem]:
    """Ranked item tokens must be items of the split's catalogue, the only items the evaluator ranks:
    a token that is no item, or an item of the other domains (e.g. an Office_Products item on test),
    is a problem of its line. `rows` are the file's lines in order (a bad line stops validation first)."""
    mask = dataset.catalogue_mask(split)
    domains = dataset.items["domain"].to_numpy()
    problems = []
    for lineno, row in enumerate(rows, 1):
        bad = [t for t in row["ranked"] if not (0 <= t < len(mask) and mask[t])]
        if bad:
            shown = ", ".join(f"{t} ({domains[t] if 0 <= t < len(mask) else 'not an item'})" for t in bad)
            problems.append(Problem(sub, f"{rel}:{lineno}",
                                    f"instance {row['id']}: ranked item tokens outside the {split} catalogue: {shown}"))
    return problems


MAX_BOOT = 10_000  # bootstrap resamples the validator is willing to redo


def recompute(task: str, instances, rows: list[dict], dataset, folder: Path, extra: dict):
    """Scores (and, when the run recorded its bootstrap, intervals) recomputed from the predictions.

    The scorer settings come from the run's `extra`: n_boot / bootstrap_seed, fallback_rating, the
    BERTScore model and layer (the default model is named, not a path: passed as None). Image paths
    in the rows are relative to the submission folder, handed over as `run_dir`."""
    kwargs: dict = {"run_dir": folder}
    n_boot, seed = extra.get("n_boot"), extra.get("bootstrap_seed")
    ok_int = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
    kwargs["n_boot"] = n_boot if ok_int(n_boot) and 0 <= n_boot <= MAX_BOOT and ok_int(seed) else 0
    kwargs["seed"] = seed if kwargs["n_boot"] else 0
    kwargs.update(TASKS[task].scorer_settings(extra))
    return score_predictions(task, instances, rows, dataset, **kwargs)


def _close(a, b) -> bool:
    return abs(float(a) - float(b)) <= TOLERANCE


def compare_scores(submitted: dict, recomputed: dict, sub: str, where: str) -> list[Problem]:
    problems = []
    for m in sorted(set(submitted) | set(recomputed)):
        f = f"{where}.scores.{m}"
        if m not in recomputed:
            problems.append(Problem(sub, f, "submitted, but the scorer does not compute it"))
        elif m not in submitted:
            problems.append(Problem(sub, f, f"missing (recomputed {recomputed[m]!r})"))
        elif not _close(submitted[m], recomputed[m]):
            problems.append(Problem(sub, f, f"submitted {submitted[m]!r} but the predictions give {recomputed[m]!r}"))
    return problems


def compare_intervals(submitted: dict, recomputed: dict, sub: str, where: str) -> list[Problem]:
    """Only when the recompute redid the bootstrap (else `recomputed` is empty and nothing is compared)."""
    if not recomputed:
        return []
    problems = []
    for m in sorted(submitted):
        got = recomputed.get(m)
        if got is None:
            problems.append(Problem(sub, f"{where}.intervals.{m}", "the scorer gives no interval for it"))
        elif not (_close(submitted[m][0], got[0]) and _close(submitted[m][1], got[1])):
            problems.append(Problem(sub, f"{where}.intervals.{m}",
                                    f"submitted {submitted[m]!r} but the bootstrap recorded in extra gives {list(got)!r}"))
    return problems


def check_entry_data(e: dict, i: int, doc: dict, sub: str, folder: Path, cache: DatasetCache) -> list[Problem]:
    """Coverage, line shapes, sha256 and recomputed scores of one ok result."""
    where = f"results[{i}]"
    rel = e["predictions"]
    path = resolve_inside(folder, rel)
    if path is None or not path.is_file():
        return [Problem(sub, f"{where}.predictions", f"{rel!r} is not a file in the submission")]
    if sha256_file(path) != e["predictions_sha256"]:
        return [Problem(sub, f"{where}.predictions_sha256", f"does not match the sha256 of {rel}")]
    rows, problems = read_predictions(path, e["task"], e["split"], sub, folder)
    if problems:
        return problems
    sha = doc["dataset"]["sha256"]
    try:
        instances = cache.instances(sha, e["task"], e["split"])
    except (OSError, ValueError) as ex:
        return [Problem(sub, f"{where}.split", f"cannot read the dataset's {e['task']}/{e['split']} instances: {ex}")]
    problems = check_coverage([r["id"] for r in rows], instances["id"].tolist(), sub, rel)
    if len(instances) != e["n"]:
        problems.append(Problem(sub, f"{where}.n", f"{e['n']} but the split has {len(instances)} instances"))
    if e["task"] in ("recommendation", "search") and not problems:
        problems = check_catalogue(rows, cache.get(sha), e["split"], sub, rel)
    if problems:
        return problems
    try:
        got = recompute(e["task"], instances, rows, cache.get(sha), folder, e["extra"])
    except Exception as ex:  # noqa: BLE001 - any scorer failure is a problem of this submission
        return [Problem(sub, f"{where}.scores", f"recomputing failed: {type(ex).__name__}: {ex}")]
    problems = (compare_scores(e["scores"], dict(got.scores), sub, where)
                + compare_intervals(e["intervals"], dict(got.intervals), sub, where))
    why = judge_differs(e["extra"], got.extra) if problems and e["task"] == "image" else None
    return [Problem(p.submission, p.field, f"{p.message} ({why})") for p in problems] if why else problems


def judge_differs(submitted: dict, recomputed: dict) -> str | None:
    """Why image scores may differ without tampering: the run scored with another image judge (its
    weights sha256, in extra.judge.identity, differs from the one recomputed here, or was not recorded)."""
    def sha(extra):
        ident = extra.get("judge", {}).get("identity") if isinstance(extra.get("judge"), dict) else None
        return ident.get("weights_sha256") if isinstance(ident, dict) else None

    theirs, ours = sha(submitted), sha(recomputed)
    if theirs == ours:
        return None
    run = f"weights sha256 {theirs[:12]}" if isinstance(theirs, str) else "not recorded"
    return (f"the run's image judge ({run}) is not the judge recomputed here ({str(ours)[:12]}): "
            "judge-based scores differ with the judge, not necessarily a changed score; re-run to compare")


def validate_submission(folder: Path, cache: DatasetCache, max_bytes: int = MAX_SUBMISSION_BYTES,
                        sub: str | None = None, allow_unknown_datasets: bool = False) -> list[Problem]:
    """All problems of one submission folder. With `allow_unknown_datasets`, a submission on a dataset
    not in `cache` gets every check except coverage and recomputed scores (for CI without the data)."""
    folder = Path(folder)
    sub = sub or f"{folder.parent.name}/{folder.name}"
    files, problems = scan_folder(folder, sub, max_bytes=max_bytes, strict=True)
    if any(p.field == "(size)" for p in problems):
        return problems  # do not read oversized input
    doc, bad = read_json_file(folder / RESULTS_FILE, sub, RESULTS_FILE)
    problems += bad
    if doc is None:
        return problems
    schema_problems = schema.check_results(doc, sub)
    if CONFIG_FILE in files:
        config, bad = read_json_file(folder / CONFIG_FILE, sub, CONFIG_FILE)
        problems += bad
        if not bad and not isinstance(config, dict):
            problems.append(Problem(sub, CONFIG_FILE, "must be a JSON object"))
    meta, bad = read_json_file(folder / META_FILE, sub, META_FILE)
    problems += schema_problems + bad
    if meta is not None:
        problems += schema.check_meta(meta, doc, sub)
    if schema_problems:
        return problems
    if doc["run_id"] != folder.name or not is_safe_name(doc["run_id"]):
        problems.append(Problem(sub, "run_id", f"{doc['run_id']!r} must be a safe name equal to the folder name {folder.name!r}"))
    if slug(doc["model"]["name"]) != folder.parent.name:
        problems.append(Problem(sub, "model.name", f"folder must be {slug(doc['model']['name'])}/, not {folder.parent.name}/"))
    referenced = {e["predictions"] for e in doc["results"] if e["predictions"]}
    image_dirs = {f"{IMAGES_DIR}/{e['task']}__{e['split']}/" for e in doc["results"] if e["predictions"]}
    for rel in files:
        if rel.startswith(PREDICTIONS_DIR + "/") and rel not in referenced:
            problems.append(Problem(sub, rel, "predictions file not referenced by results.json"))
        if rel.startswith(IMAGES_DIR + "/") and not any(rel.startswith(d) for d in image_dirs):
            problems.append(Problem(sub, rel, "image of a task/split without predictions in results.json"))
    sha = doc["dataset"]["sha256"]
    if sha not in cache.paths:
        if not allow_unknown_datasets:
            problems.append(Problem(sub, "dataset.sha256", f"{sha!r} is not a known prepared dataset"))
        return problems
    for i, e in enumerate(doc["results"]):
        if e["status"] == "ok":
            problems += check_entry_data(e, i, doc, sub, folder, cache)
    return problems


@dataclass
class Report:
    """What `validate` found: problems, and how many rows had their scores recomputed."""

    problems: list[Problem] = field(default_factory=list)
    rows: int = 0
    recomputed: int = 0         # rows whose archive was checked and whose scores were recomputed
    not_recomputed: int = 0     # rows checked from the index alone (no archive, unknown dataset or --index-only)


def validate_row(row: dict, archives_dir: Path, cache: DatasetCache, max_bytes: int = MAX_SUBMISSION_BYTES,
                 allow_unknown_datasets: bool = False) -> tuple[list[Problem], bool]:
    """(problems, recomputed) of one index row against its archive in `archives_dir`: the archive's size
    and sha256, its members, every check of `validate_submission` on the extracted folder, and the row
    equal to the archive's results.json and model_meta.json."""
    sub = row["id"]
    path = row_archive(archives_dir, row)
    if not path.exists():
        return [Problem(sub, "archive", f"{path.name} not found in {archives_dir}: scores not recomputed "
                        "(get it with `unimp-bench leaderboard fetch`, or pass --index-only)")], False
    problems = check_archive_file(path, row["archive"]["sha256"], row["archive"]["size"], sub)
    if problems:
        return problems, False
    with tempfile.TemporaryDirectory(prefix="lb-validate-") as tmp:
        folder = Path(tmp) / sub  # <model-slug>/<run-id>, as validate_submission expects
        problems = extract_archive(path, folder, sub, max_bytes=max_bytes)
        if problems:
            return problems, False
        problems = validate_submission(folder, cache, max_bytes=max_bytes, sub=sub,
                                       allow_unknown_datasets=allow_unknown_datasets)
        doc, _ = read_json_file(folder / RESULTS_FILE, sub, RESULTS_FILE)
        meta, _ = read_json_file(folder / META_FILE, sub, META_FILE)
        if not schema.check_results(doc, sub) and not schema.check_meta(meta, doc, sub):
            problems += compare_row(row, doc, meta)
    return problems, row["dataset"]["sha256"] in cache.paths


def validate_report(leaderboard_dir: str | Path, datasets: dict[str, str | Path], max_bytes: int = MAX_SUBMISSION_BYTES,
                    allow_unknown_datasets: bool = False, archives_dir: str | Path | None = None,
                    index_only: bool = False, labels: dict[str, str | Path] | None = None) -> Report:
    """Check leaderboard_dir/index.jsonl row by row (schema, ranges, ids, order) and, unless
    `index_only`, each row's archive in `archives_dir` (default leaderboard_dir/archives/) with every
    score recomputed against `datasets` ({sha256: prepared dataset folder}). A row whose archive is
    absent is a problem (its scores cannot be vouched for) unless `index_only`."""
    cache = DatasetCache(datasets, labels)
    report = Report()
    for sha in sorted(cache.paths):
        try:
            actual = cache.get(sha).sha256
        except (OSError, ValueError, KeyError) as e:
            report.problems.append(Problem("(datasets)", sha, f"cannot open {cache.paths[sha]}: {e}"))
            continue
        if actual != sha:
            report.problems.append(Problem("(datasets)", sha, f"{cache.paths[sha]} has sha256 {actual}"))
    rows, problems = read_index(leaderboard_dir)
    report.problems += problems
    report.rows = len(rows)
    archives = Path(archives_dir) if archives_dir is not None else Path(leaderboard_dir) / ARCHIVES_DIR
    for row in rows:
        if index_only:
            report.not_recomputed += 1
            continue
        problems, recomputed = validate_row(row, archives, cache, max_bytes, allow_unknown_datasets)
        report.problems += problems
        if recomputed and not problems:
            report.recomputed += 1
        elif not recomputed:
            report.not_recomputed += 1
    return report


def validate(leaderboard_dir: str | Path, datasets: dict[str, str | Path],
             max_bytes: int = MAX_SUBMISSION_BYTES, allow_unknown_datasets: bool = False,
             archives_dir: str | Path | None = None, index_only: bool = False,
             labels: dict[str, str | Path] | None = None) -> list[Problem]:
    """Problems of every submission in leaderboard_dir/index.jsonl (empty list: all valid); see
    `validate_report`. `allow_unknown_datasets`: submissions on other datasets are checked without their
    data (schema, files, sizes, row = archive) instead of being refused."""
    return validate_report(leaderboard_dir, datasets, max_bytes, allow_unknown_datasets, archives_dir, index_only,
                           labels).problems


def datasets_from_paths(paths: Iterable[str | Path]) -> dict[str, Path]:
    """{sha256: path} for prepared dataset folders."""
    return {PreparedDataset(p).sha256: Path(p) for p in paths}


MAX_PRINTED = 20  # problems printed; a broken predictions file can give one per line
REPORT_FILE = "validation-problems.txt"


def validate_cli(leaderboard_dir: str | Path, dataset_paths: Iterable[str | Path], out=None,
                 allow_unknown_datasets: bool = False, archives_dir: str | Path | None = None,
                 index_only: bool = False, report: str | Path | None = None,
                 labels_paths: Iterable[str | Path] = ()) -> int:
    """Print the first MAX_PRINTED problems, one a line, the count of the rest, and a summary that says how many
    rows were not recomputed; return the exit code (0 all valid, 1 any problem; a missing archive is a problem
    unless index_only). The full list goes to `report` when given, else to <leaderboard>/REPORT_FILE when some
    were not printed."""
    out = out or sys.stderr
    dataset_paths, labels_paths = list(dataset_paths), list(labels_paths)
    if len(labels_paths) > len(dataset_paths):
        print(f"(datasets): {len(labels_paths)} --labels for {len(dataset_paths)} --data; the i-th --labels belongs "
              "to the i-th --data", file=out)
        return 1
    try:
        datasets = datasets_from_paths(dataset_paths)
    except IntegrityError:
        raise  # the command refuses a tampered dataset outright (`error: ...`, exit 2)
    except (OSError, ValueError, KeyError) as e:
        print(f"(datasets): {e}", file=out)
        return 1
    by_path = {Path(p): sha for sha, p in datasets.items()}
    labels = {by_path[Path(d)]: Path(lab) for d, lab in zip(dataset_paths, labels_paths)}
    result = validate_report(leaderboard_dir, datasets, allow_unknown_datasets=allow_unknown_datasets,
                             archives_dir=archives_dir, index_only=index_only, labels=labels)
    problems = result.problems
    for p in problems[:MAX_PRINTED]:
        print(p, file=out)
    if report is not None or len(problems) > MAX_PRINTED:
        report = Path(report) if report is not None else Path(leaderboard_dir) / REPORT_FILE
        write_text(report, "".join(f"{p}\n" for p in problems))
        if len(problems) > MAX_PRINTED:
            print(f"... and {len(problems) - MAX_PRINTED} more in {report}", file=out)
    print(f"{result.rows} submission(s): scores recomputed from the archive for {result.recomputed}, "
          f"NOT recomputed for {result.not_recomputed}; {len(problems)} problem(s)", file=out)
    return 1 if problems else 0
