"""Leaderboard: submit -> validate -> build, and one crafted bad submission per validation rule.

Crafted runs use a hand-made prepared dataset (manifest, items, two task files) and scores from
`benchmark.eval.scoring.score_predictions`, as `unimp-bench run` writes them, so any change to a
prediction, a score or an interval is caught. A submission is an index row plus an archive: the tests
edit an extracted copy of the archive (`sub`) and `problems_of` packs it again (updating only the row's
archive sha256 and size), so each edit reaches the validator through a real archive.
"""
from __future__ import annotations

import copy
import importlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.api import Model
from benchmark.data import layout
from benchmark.data.io import sha256_file, write_json, write_jsonl
from benchmark.data.manifest import write_manifest
from benchmark.eval.results import predictions_name
from benchmark.tasks import TASKS
from leaderboard import build, build_cli, submit, validate, validate_cli
from leaderboard.archive import archive_name, extract_archive
from leaderboard.common import MAX_SUBMISSION_BYTES, SubmissionError
from leaderboard.index import read_index, write_index

validate_mod = importlib.import_module("leaderboard.validate")  # the module (the package exports the function)

N_ITEMS = 20
REC_TARGETS = [3, 7, 11, 2, 9, 14]
RATINGS = [5.0, 4.0, 2.0, 3.0, 1.0]

# ---- crafted dataset and runs ------------------------------------------------------------------------
def _instances(task: str, split: str, n: int, **cols) -> pd.DataFrame:
    base = {c: [None] * n for c in layout.INSTANCE_COLUMNS}
    base.update(id=[f"{task}/{split}/{i}" for i in range(n)], user=[f"u{i}" for i in range(n)],
                history=[[(i + j) % 15 for j in range(1, 4)] for i in range(n)],
                instruction=[TASKS[task].instruction] * n)
    base.update(cols)
    return pd.DataFrame(base)


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)


def make_dataset(root: Path, title: str = "item") -> Path:
    root.mkdir(parents=True)
    items = pd.DataFrame({
        "item": list(range(N_ITEMS)), "raw_id": [f"B{i:04d}" for i in range(N_ITEMS)],
        "domain": ["Baby"] * 15 + ["Office_Products"] * 5, "title": [f"{title} {i}" for i in range(N_ITEMS)],
        "brand": [None] * N_ITEMS, "price": [float("nan")] * N_ITEMS, "category": ["A > B"] * N_ITEMS,
        "description": [None] * N_ITEMS, "image": [None] * N_ITEMS,
        "text": [f"[IMG] title item {i} [EOC]" for i in range(N_ITEMS)],
    })
    write_parquet(root / layout.ITEMS, items)
    write_parquet(layout.task_path(root, "recommendation", "test"),
                  _instances("recommendation", "test", len(REC_TARGETS), target_item=REC_TARGETS))
    write_parquet(layout.task_path(root, "rating", "test"),
                  _instances("rating", "test", len(RATINGS), item=list(range(len(RATINGS))), target_rating=RATINGS))
    write_manifest(root, {"seed": 0, "scale": "crafted", "source": "crafted"})
    return root


def sha_of(data: Path) -> str:
    return json.loads((data / layout.MANIFEST).read_text())["dataset_sha256"]


def _rec_rows(shift: int = 0) -> list[dict]:
    rows = []
    for i, t in enumerate(REC_TARGETS):
        ranked = [x for x in range(15) if x != t][:10]
        pos = (i + shift) % 12  # target at rank pos+1, or missing when pos >= 10
        if pos < 10:
            ranked = ranked[:pos] + [t] + ranked[pos:9]
        rows.append({"id": f"recommendation/test/{i}", "ranked": ranked})
    return rows


def _rating_rows(offset: float) -> list[dict]:
    rows = []
    for i, r in enumerate(RATINGS):
        value = None if i == 0 else min(5.0, max(1.0, r + offset))
        rows.append({"id": f"rating/test/{i}", "output": "?" if value is None else str(value), "rating": value})
    return rows


def make_run(root: Path, data: Path, run_id: str = "run-1", model: str = "dummy", shift: int = 0,
             perturbation: str | None = None, config: dict | None = None, width: float | None = None,
             extra_entries: list[dict] | None = None) -> Path:
    """A run folder as `unimp-bench run` writes it. width=None: real bootstrap intervals (50 resamples,
    recorded in extra); else a synthetic interval of +-width around the main score."""
    from benchmark.data.dataset import PreparedDataset
    from benchmark.eval.scoring import score_predictions

    run = root / run_id
    ds = PreparedDataset(data)
    entries = []
    for task, rows in (("recommendation", _rec_rows(shift)), ("rating", _rating_rows(0.5 + shift / 10))):
        rel = predictions_name(task, "test")
        write_jsonl(run / rel, rows)
        inst = ds.instances(task, "test")
        got = score_predictions(task, inst, rows, ds, n_boot=50 if width is None else 0, seed=0)
        spec = TASKS[task]
        main = got.scores[spec.main_score]
        hi = 4.0 if task == "rating" else 1.0
        intervals = got.intervals if width is None else {spec.main_score: [max(0.0, main - width), min(hi, main + width)]}
        entries.append({
            "task": task, "task_version": spec.version, "split": "test", "status": "ok", "error": None,
            "n": len(inst), "scores": dict(got.scores), "intervals": intervals,
            "main_score": spec.main_score, "extra": dict(got.extra, fit_time_s=0.0) if width is None else {},
            "predictions": rel, "predictions_sha256": sha256_file(run / rel), "wall_time_s": 0.1,
        })
    for task in ("selection", "image"):
        entries.append({"task": task, "task_version": "1", "split": "test", "status": "unsupported", "error": None,
                        "n": 0, "scores": {}, "intervals": {}, "main_score": TASKS[task].main_score,
                        "extra": {}, "predictions": None, "predictions_sha256": None, "wall_time_s": 0.0})
    entries += extra_entries or []
    write_json(run / "config.json", config or {})
    (run / "summary.md").write_text("# summary\n")
    (run / "model").mkdir()
    (run / "model" / "checkpoint.bin").write_bytes(b"\0" * 10)
    write_json(run / "results.json", {
        "schema_version": 1, "run_id": run_id, "created": "2026-11-21T15:00:00+00:00",
        "model": {"name": model, "revision": "1", "config": config or {}},
        "dataset": {"name": "crafted", "sha256": ds.sha256, "seed": 0, "scale": "crafted", "source": "crafted"},
        "seed": 0, "perturbation": perturbation,
        "environment": {"python": "3.11", "platform": "linux", "packages": {"numpy": "2"}, "git": None},
        "wall_time_s": 1.0, "results": entries,
    })
    return run


@pytest.fixture
def data(tmp_path) -> Path:
    return make_dataset(tmp_path / "data")


def unpack(lb: Path, row: dict, dest: Path) -> Path:
    """Extract a row's archive into dest/<id>/ (an editable copy of the submission)."""
    folder = dest / row["id"]
    assert extract_archive(lb / "archives" / archive_name(row["archive"]["sha256"]), folder, row["id"]) == []
    return folder


def repack(lb: Path, sub: Path, sync_row: bool = False) -> None:
    """Pack the edited folder `sub` (links kept as links) into an archive and point its row at it;
    `sync_row`: also make the row say what the edited results.json says."""
    import hashlib
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(sub.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                continue
            tar.add(path, arcname=path.relative_to(sub).as_posix(), recursive=False)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    (lb / "archives" / archive_name(sha)).write_bytes(data)
    rows, problems = read_index(lb)
    assert problems == []
    key = f"{sub.parent.name}/{sub.name}"
    if sync_row:
        from leaderboard.index import make_row

        doc, meta = (json.loads((sub / n).read_text()) for n in ("results.json", "model_meta.json"))
        rows = [make_row(doc, meta, sha, len(data)) if r["id"] == key else r for r in rows]
    write_index(lb, [dict(r, archive={"sha256": sha, "size": len(data)}) if r["id"] == key else r for r in rows])


@pytest.fixture
def board(tmp_path, data) -> tuple[Path, Path]:
    """A leaderboard with one valid submission; returns (leaderboard dir, editable copy of its archive)."""
    lb = tmp_path / "lb"
    row = submit(make_run(tmp_path / "runs", data), lb, {"parameters": 10, "license": "MIT"})
    return lb, unpack(lb, row, tmp_path / "work")


def problems_of(lb: Path, data: Path, **kw) -> list:
    """Validate after packing every edited copy under work/ again."""
    work = lb.parent / "work"
    for sub in sorted(work.glob("*/*")) if work.is_dir() else []:
        repack(lb, sub)
    return validate(lb, {sha_of(data): data}, **kw)


def edit_json(path: Path, fn) -> None:
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


def md_rows(section: str) -> list[list[str]]:
    """Body cells of the first Markdown table in `section` (split on unescaped pipes, stripped)."""
    import re

    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])] for line in lines[2:]]


def assert_problem(problems, field: str, text: str) -> None:
    assert any(field in p.field and text in p.message for p in problems), \
        f"expected a problem on {field!r} saying {text!r}; got:\n" + "\n".join(map(str, problems))
    assert all(p.submission for p in problems)


# ---- round trip ---------------------------------------------------------------------------------------
def test_round_trip_submit_validate_build(tmp_path, board, data):
    lb, sub = board
    (row,), _ = read_index(lb)
    assert row["id"] == "dummy/run-1" and row["model_meta"]["parameters"] == 10
    assert (lb / "archives" / f"{row['archive']['sha256']}.tar.gz").stat().st_size == row["archive"]["size"]
    assert sorted(p.relative_to(sub).as_posix() for p in sub.rglob("*") if p.is_file()) == [
        "config.json", "model_meta.json", "predictions/rating__test.jsonl",
        "predictions/recommendation__test.jsonl", "results.json", "summary.md"]  # model/ left behind
    meta = json.loads((sub / "model_meta.json").read_text())
    assert meta["parameters"] == 10 and meta["name"] == "dummy" and meta["license"] == "MIT"
    assert problems_of(lb, data) == []
    assert validate_cli(lb, [data]) == 0

    build(lb, {sha_of(data): data})
    readme = (lb / "README.md").read_text()
    assert "### Table 1: recommendation (test)" in readme and "paper (different data)" in readme
    assert "| dummy " in readme and "| run-1 " in readme
    selection = readme.split("### Table 2(c)")[1].split("###")[0]
    assert md_rows(selection)[0] == ["dummy", "rev 1, seed 0", "run-1", "unsupported", "unsupported", "unsupported"]
    page = (lb / "index.html").read_text()
    assert page.count("<svg") == 2 and 'class="sortable"' in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script src" not in page and "<link" not in page


def test_submit_leaves_unreferenced_predictions_behind(tmp_path, data):
    """A task whose scoring failed after its predictions were written: the file stays in the run."""
    run = make_run(tmp_path / "runs", data)
    (run / "predictions" / "search__test.jsonl").write_text('{"id": "x", "ranked": []}\n')
    (run / "images" / "image__test").mkdir(parents=True)
    (run / "images" / "image__test" / "image_test_0.png").write_bytes(b"\x89PNG")
    sub = unpack(tmp_path / "lb", submit(run, tmp_path / "lb"), tmp_path / "work")
    assert not (sub / "predictions" / "search__test.jsonl").exists() and not (sub / "images").exists()
    assert problems_of(tmp_path / "lb", data) == []
    (sub / "images" / "image__test").mkdir(parents=True)
    (sub / "images" / "image__test" / "image_test_0.png").write_bytes(b"\x89PNG")
    assert_problem(problems_of(tmp_path / "lb", data), "images/image__test/image_test_0.png", "without predictions")


def test_submit_never_overwrites(tmp_path, board, data):
    lb, sub = board
    before = (lb / "index.jsonl").read_bytes()
    archives = sorted((lb / "archives").iterdir())
    run2 = make_run(tmp_path / "runs2", data, shift=3)  # same model and run id, other scores
    with pytest.raises(FileExistsError, match="already exists"):
        submit(run2, lb, None)
    assert (lb / "index.jsonl").read_bytes() == before
    assert sorted((lb / "archives").iterdir()) == archives  # no orphan archive of the refused run
    submit(tmp_path / "runs" / "run-1", lb, {"parameters": 10, "license": "MIT"})  # the same run again: no change
    assert (lb / "index.jsonl").read_bytes() == before


def test_submit_replaces_only_a_row_whose_archive_is_missing_when_asked(tmp_path, board, data):
    lb, _ = board
    before = (lb / "index.jsonl").read_bytes()
    run2 = make_run(tmp_path / "runs2", data, shift=3)  # same model and run id, other scores
    with pytest.raises(FileExistsError, match="already exists"):  # its archive is here: never replaced
        submit(run2, lb, None, replace_unarchived=True)
    assert (lb / "index.jsonl").read_bytes() == before
    shutil.rmtree(lb / "archives")  # a clone: the row without its archive
    row = submit(run2, lb, None, replace_unarchived=True)
    assert read_index(lb) == ([row], []) and row["results"] != json.loads(before)["results"]
    assert (lb / "archives" / archive_name(row["archive"]["sha256"])).is_file()


def test_archive_is_deterministic(tmp_path, data):
    """The same run gives the same archive bytes (sorted members, fixed mtime/uid/gid, gzip mtime 0)."""
    import tarfile

    run = make_run(tmp_path / "runs", data)
    a = submit(run, tmp_path / "a")
    os.utime(run / "results.json", (1, 1))  # file times do not matter
    b = submit(run, tmp_path / "b", archives_dir=tmp_path / "elsewhere")
    assert a["archive"] == b["archive"]
    with tarfile.open(tmp_path / "elsewhere" / archive_name(b["archive"]["sha256"])) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname) for m in members} == {(0, 0, 0, "")}


def test_build_is_byte_identical(tmp_path, data):
    outs = []
    for name in ("a", "b"):
        lb = tmp_path / name
        for i, shift in enumerate((0, 2, 5)):
            submit(make_run(tmp_path / f"runs-{name}-{i}", data, run_id=f"r{i}", model=f"m{i}", shift=shift), lb)
        build(lb, {sha_of(data): data})
        first = ((lb / "README.md").read_bytes(), (lb / "index.html").read_bytes())
        build(lb, {sha_of(data): data})
        assert ((lb / "README.md").read_bytes(), (lb / "index.html").read_bytes()) == first
        outs.append(first)
    assert outs[0] == outs[1]


def test_unsupported_and_error_need_no_predictions(tmp_path, data):
    err = {"task": "search", "task_version": "1", "split": "test", "status": "error", "error": "boom", "n": 0,
           "scores": {}, "intervals": {}, "main_score": "hr@5", "extra": {}, "predictions": None,
           "predictions_sha256": None, "wall_time_s": 0.0}
    lb = tmp_path / "lb"
    submit(make_run(tmp_path / "runs", data, extra_entries=[err]), lb)
    assert problems_of(lb, data) == []
    build(lb, {sha_of(data): data})
    search = (lb / "README.md").read_text().split("### Table 2(d)")[1].split("###")[0]
    assert md_rows(search)[0][3:] == ["error"] * 3


# ---- one crafted bad submission per rule -------------------------------------------------------------
def _set(path: list, value):
    def fn(doc):
        target = doc
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value
    return fn


def _delete(path: list):
    def fn(doc):
        target = doc
        for k in path[:-1]:
            target = target[k]
        del target[path[-1]]
    return fn


RESULTS_MUTATIONS = {
    "unknown top field": (_set(["leaderboard_rank"], 1), "leaderboard_rank", "unknown field"),
    "unknown entry field": (_set(["results", 0, "bonus"], 1), "results[0].bonus", "unknown field"),
    "missing top field": (_delete(["seed"]), "seed", "missing field"),
    "missing entry field": (_delete(["results", 1, "n"]), "results[1].n", "missing field"),
    "missing dataset field": (_delete(["dataset", "sha256"]), "dataset.sha256", "missing field"),
    "wrong type": (_set(["seed"], "0"), "seed", "must be an integer"),
    "bool for int": (_set(["results", 0, "n"], True), "results[0].n", "must be an integer"),
    "unknown dataset": (_set(["dataset", "sha256"], "b" * 64), "dataset.sha256", "not a known prepared dataset"),
    "tampered score": (lambda d: d["results"][0]["scores"].__setitem__("hr@5", d["results"][0]["scores"]["hr@5"] + 1e-4),
                       "results[0].scores.hr@5", "predictions give"),
    "out of range": (_set(["results", 0, "scores", "hr@5"], 1.5), "results[0].scores.hr@5", "outside the range"),
    "unknown metric": (_set(["results", 0, "scores", "accuracy"], 0.5), "results[0].scores.accuracy", "unknown metric"),
    "inverted interval": (_set(["results", 0, "intervals", "hr@5"], [0.9, 0.1]), "results[0].intervals.hr@5", "> high"),
    "tampered interval": (lambda d: d["results"][1]["intervals"]["mae"].__setitem__(1, d["results"][1]["intervals"]["mae"][1] + 0.05),
                          "results[1].intervals.mae", "bootstrap recorded in extra"),
    "tampered rmse": (lambda d: d["results"][1]["scores"].__setitem__("rmse", d["results"][1]["scores"]["rmse"] * 0.9),
                      "results[1].scores.rmse", "predictions give"),
    "negative n_boot": (_set(["results", 1, "extra", "n_boot"], -5), "results[1].extra.n_boot", "integer >= 1"),
    "zero n_boot": (_set(["results", 1, "extra", "n_boot"], 0), "results[1].extra.n_boot", "integer >= 1"),
    "wrong n": (_set(["results", 0, "n"], 99), "results[0].n", "instances"),
    "unknown task": (_set(["results", 0, "task"], "dancing"), "results[0].task", "must be one of"),
    "duplicate result": (lambda d: d["results"].append(copy.deepcopy(d["results"][0])), "results[", "duplicate result"),
    "path escape": (_set(["results", 0, "predictions"], "../x"), "results[0].predictions", "escapes"),
    "absolute path": (_set(["results", 0, "predictions"], "/etc/passwd"), "results[0].predictions", "absolute path"),
    "other file as predictions": (_set(["results", 0, "predictions"], "summary.md"), "results[0].predictions", "must be"),
    "sha mismatch": (_set(["results", 0, "predictions_sha256"], "0" * 64), "results[0].predictions_sha256", "does not match"),
    "run id vs folder": (_set(["run_id"], "run-2"), "run_id", "folder name"),
    "model vs folder": (_set(["model", "name"], "other"), "model.name", "folder must be"),
    "scores on unsupported": (_set(["results", 2, "scores"], {"f1": 0.5}), "results[2].scores", "has no scores"),
    "ok without predictions": (_set(["results", 1, "predictions"], None), "results[1].predictions", "needs its predictions"),
}


@pytest.mark.parametrize("case", sorted(RESULTS_MUTATIONS))
def test_bad_results_json(board, data, case):
    lb, sub = board
    mutate, field, text = RESULTS_MUTATIONS[case]
    edit_json(sub / "results.json", mutate)
    problems = problems_of(lb, data)
    assert_problem(problems, field, text)
    assert all(p.submission == "dummy/run-1" for p in problems)
    assert validate_cli(lb, [data]) == 1


def test_tolerance_is_one_in_a_million(board, data):
    lb, sub = board
    edit_json(sub / "results.json", lambda d: d["results"][0]["scores"].__setitem__(
        "hr@5", d["results"][0]["scores"]["hr@5"] + 5e-7))
    repack(lb, sub, sync_row=True)  # the row says what the archive says: only the recomputation compares
    assert validate(lb, {sha_of(data): data}) == []
    edit_json(sub / "results.json", lambda d: d["results"][0]["scores"].__setitem__(
        "hr@5", d["results"][0]["scores"]["hr@5"] + 1e-5))
    assert_problem(problems_of(lb, data), "results[0].scores.hr@5", "predictions give")


def test_nan_in_results_json(board, data):
    lb, sub = board
    text = (sub / "results.json").read_text()
    doc = json.loads(text)
    doc["results"][0]["scores"]["hr@5"] = float("nan")
    (sub / "results.json").write_text(json.dumps(doc))  # Python writes the bare token NaN
    assert "NaN" in (sub / "results.json").read_text()
    assert_problem(problems_of(lb, data), "results.json", "NaN")


def _rewrite_predictions(sub: Path, task: str, fn) -> None:
    """Change a predictions file and update its sha256 so that only the change itself is wrong."""
    rel = predictions_name(task, "test")
    rows = [json.loads(line) for line in (sub / rel).read_text().splitlines()]
    lines = fn(rows)
    (sub / rel).write_text("".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines))
    i = 0 if task == "recommendation" else 1
    edit_json(sub / "results.json", _set(["results", i, "predictions_sha256"], sha256_file(sub / rel)))


PREDICTION_MUTATIONS = {
    "missing id": (lambda rows: rows[:-1], "missing instance ids: recommendation/test/5"),
    "duplicate id": (lambda rows: rows + [rows[0]], "duplicate instance ids: recommendation/test/0"),
    "unknown id": (lambda rows: rows[:-1] + [{**rows[-1], "id": "recommendation/test/77"}], "unknown instance ids"),
    "NaN in a line": (lambda rows: rows[:-1] + ['{"id": "recommendation/test/5", "ranked": [NaN]}\n'], "NaN"),
    "bad line shape": (lambda rows: rows[:-1] + [{"id": rows[-1]["id"], "ranked": ["x"]}], "distinct item tokens"),
    "extra line field": (lambda rows: rows[:-1] + [{**rows[-1], "score": 1}], "unknown field"),
    "too many items": (lambda rows: rows[:-1] + [{**rows[-1], "ranked": list(range(11))}], "at most 10"),
    # the test split ranks over items 0-14 (Baby); 15-19 are the new domain's, 20 and up no items at all
    "unknown item token": (lambda rows: rows[:-1] + [{**rows[-1], "ranked": rows[-1]["ranked"][:9] + [999]}],
                           "instance recommendation/test/5: ranked item tokens outside the test catalogue: 999 (not an item)"),
    "new-domain item on test": (lambda rows: rows[:1] + [{**rows[1], "ranked": rows[1]["ranked"][:9] + [17]}] + rows[2:],
                                "instance recommendation/test/1: ranked item tokens outside the test catalogue: 17 (Office_Products)"),
    "negative item token": (lambda rows: rows[:-1] + [{**rows[-1], "ranked": [-1] + rows[-1]["ranked"][1:]}],
                            "outside the test catalogue: -1 (not an item)"),
}


@pytest.mark.parametrize("case", sorted(PREDICTION_MUTATIONS))
def test_bad_predictions(board, data, case):
    lb, sub = board
    fn, text = PREDICTION_MUTATIONS[case]
    _rewrite_predictions(sub, "recommendation", fn)
    problems = problems_of(lb, data)
    assert_problem(problems, "predictions/recommendation__test.jsonl", text)


def test_out_of_catalogue_token_names_file_line_and_instance(board, data):
    lb, sub = board
    _rewrite_predictions(sub, "recommendation", lambda rows: rows[:1] + [{**rows[1], "ranked": rows[1]["ranked"][:9] + [17]}] + rows[2:])
    problems = problems_of(lb, data)
    assert [(p.submission, p.field) for p in problems] == [("dummy/run-1", "predictions/recommendation__test.jsonl:2")]
    assert "recommendation/test/1" in problems[0].message and validate_cli(lb, [data]) == 1


def test_nan_rating_line(board, data):
    lb, sub = board
    _rewrite_predictions(sub, "rating", lambda rows: rows[:-1] + ['{"id": "rating/test/4", "output": "x", "rating": NaN}\n'])
    assert_problem(problems_of(lb, data), "predictions/rating__test.jsonl:5", "NaN")


META_MUTATIONS = {
    "unknown meta field": (_set(["stars"], 5), "model_meta.stars", "unknown field"),
    "missing meta field": (_delete(["license"]), "model_meta.license", "missing field"),
    "overlong meta": (_set(["reference"], "x" * 1000), "model_meta.reference", "longer than"),
    "meta name mismatch": (_set(["name"], "someone-else"), "model_meta.name", "differs"),
}


@pytest.mark.parametrize("case", sorted(META_MUTATIONS))
def test_bad_model_meta(board, data, case):
    lb, sub = board
    mutate, field, text = META_MUTATIONS[case]
    edit_json(sub / "model_meta.json", mutate)
    assert_problem(problems_of(lb, data), field, text)


def test_symlink_in_submission(board, data):
    lb, sub = board
    (sub / "summary.md").unlink()
    os.symlink("/etc/hostname", sub / "summary.md")
    assert_problem(problems_of(lb, data), "archive:summary.md", "symbolic links")


def test_symlinked_results_json_is_not_read(tmp_path, board, data):
    lb, sub = board
    outside = tmp_path / "outside.json"
    (sub / "results.json").rename(outside)
    os.symlink(outside, sub / "results.json")
    problems = problems_of(lb, data)
    assert_problem(problems, "archive:results.json", "symbolic links")
    assert not any("model_meta" in p.field for p in problems)  # the archive was refused before anything was read


def test_unexpected_file(board, data):
    lb, sub = board
    (sub / "run.sh").write_text("rm -rf /\n")
    (sub / "predictions" / ".hidden").write_text("x")
    problems = problems_of(lb, data)
    assert_problem(problems, "archive:run.sh", "unexpected file")
    assert_problem(problems, "archive:predictions/.hidden", "leading dot")


def test_config_json_must_be_strict_json_object(board, data):
    lb, sub = board
    (sub / "config.json").write_text('{"lr": NaN}')
    assert_problem(problems_of(lb, data), "config.json", "NaN")
    (sub / "config.json").write_text("[1, 2]")
    assert_problem(problems_of(lb, data), "config.json", "must be a JSON object")


def test_unreferenced_predictions_file(board, data):
    lb, sub = board
    (sub / "predictions" / "search__test.jsonl").write_text("")
    assert_problem(problems_of(lb, data), "predictions/search__test.jsonl", "not referenced")


def test_oversize_submission(board, data):
    lb, sub = board
    with open(sub / "summary.md", "wb") as f:  # sparse: costs no disk
        f.truncate(MAX_SUBMISSION_BYTES + 1)
    assert_problem(problems_of(lb, data), "(size)", "over the limit")
    assert not list(lb.parent.glob("**/summary.md.*"))


def test_unknown_dataset_allowed_only_on_request(tmp_path, board, data):
    lb, sub = board
    assert_problem(validate(lb, {}), "dataset.sha256", "not a known prepared dataset")
    assert validate(lb, {}, allow_unknown_datasets=True) == []
    edit_json(sub / "results.json", _set(["seed"], "0"))  # schema checks still apply
    repack(lb, sub)
    assert_problem(validate(lb, {}, allow_unknown_datasets=True), "seed", "must be an integer")


def test_dataset_mapping_checked(tmp_path, board, data):
    lb, _ = board
    other = make_dataset(tmp_path / "other", title="other")
    assert_problem(validate(lb, {sha_of(data): other}), sha_of(data), "has sha256")


# ---- submit refuses bad runs ----------------------------------------------------------------------------
def test_submit_ignores_links_it_would_not_copy(tmp_path, data):
    run = make_run(tmp_path / "runs", data)
    os.symlink("/etc", run / "latest-log")
    os.symlink("/etc/hostname", run / "model" / "link")
    sub = unpack(tmp_path / "lb", submit(run, tmp_path / "lb"), tmp_path / "work")
    assert not (sub / "latest-log").exists() and not (sub / "model").exists()


def test_submit_refuses_symlink_and_escape(tmp_path, data):
    run = make_run(tmp_path / "runs", data)
    os.symlink("/etc/hostname", run / "predictions" / "search__test.jsonl")
    with pytest.raises(SubmissionError, match="symbolic links"):
        submit(run, tmp_path / "lb")
    (run / "predictions" / "search__test.jsonl").unlink()
    edit_json(run / "results.json", _set(["results", 0, "predictions"], "../../etc/passwd"))
    with pytest.raises(SubmissionError, match="escapes"):
        submit(run, tmp_path / "lb")
    assert not (tmp_path / "lb" / "submissions" / "dummy").exists() or \
        not any((tmp_path / "lb" / "submissions" / "dummy").iterdir())


def test_submit_refuses_unsafe_run_id_and_unknown_meta(tmp_path, data):
    run = make_run(tmp_path / "runs", data)
    with pytest.raises(SubmissionError, match="unknown fields"):
        submit(run, tmp_path / "lb", {"stars": 5})
    edit_json(run / "results.json", _set(["run_id"], "../evil"))
    with pytest.raises(SubmissionError, match="safe folder name"):
        submit(run, tmp_path / "lb")


# ---- tables -----------------------------------------------------------------------------------------------
def test_tables_best_ties_ablation_robustness_escaping(tmp_path, data):
    lb = tmp_path / "lb"
    runs = tmp_path / "runs"
    # shift 0: target at ranks 1..6 -> best; shift 1: ranks 2..7, wide intervals overlap the best
    submit(make_run(runs / "a", data, run_id="a", model="alpha", shift=0, width=0.3), lb)
    submit(make_run(runs / "b", data, run_id="b", model="beta", shift=1, width=0.3), lb)
    submit(make_run(runs / "c", data, run_id="c", model="gamma", shift=6, width=0.01), lb)
    submit(make_run(runs / "d", data, run_id="d", model="alpha", shift=2, config={"ablation": "w/o vision"}), lb)
    submit(make_run(runs / "e", data, run_id="e", model="alpha", shift=3, perturbation="NT"), lb)
    submit(make_run(runs / "f", data, run_id="f", model="<script>alert(1)</script>|x", shift=4), lb)
    assert problems_of(lb, data) == []
    build(lb, {sha_of(data): data})
    readme = (lb / "README.md").read_text()
    sections = {s.split("\n", 1)[0]: s for s in readme.split("### ")[1:]}
    t1 = sections["Table 1: recommendation (test)"]
    cells = md_rows(t1)
    assert [c[0] for c in cells][:3] == ["alpha", "beta", "&lt;script&gt;alert(1)&lt;/script&gt;\\|x"]
    hr5 = 3 + 3  # Model, Details, Runs, HR@3, NDCG@3, MRR@3 -> HR@5 is cell 6
    assert cells[0][hr5].startswith("**") and not cells[1][hr5].startswith("**")
    assert cells[1][hr5].endswith("≈")                       # beta's interval overlaps alpha's
    gamma = next(c for c in cells if c[0] == "gamma")
    assert not gamma[hr5].endswith("≈") and not gamma[hr5].startswith("**")
    assert "w/o vision" not in t1 and "perturbation" not in t1  # ablation and NT runs stay out of Table 1
    assert "ablation: w/o vision" in sections["Table 3: ablations (recommendation, test)"]
    t6 = md_rows(sections["Table 6: robustness (recommendation, test)"])
    assert t6[0][0] == "alpha" and t6[0][2] == "a e"
    assert "beta" not in [r[0] for r in t6]  # no perturbed run of beta
    page = (lb / "index.html").read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;|x" in page
    assert "<script>alert(1)" not in readme


def test_empty_leaderboard_builds(tmp_path):
    build(tmp_path / "lb")
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "No submissions yet" in readme and "UniMP" in readme  # the paper's numbers still shown
    assert validate(tmp_path / "lb", {}) == []


# ---- index and archives: tampering, safe extraction, fetch ------------------------------------------------
def test_index_row_must_match_the_archive(board, data):
    """A row whose score differs from its archive's results.json is a problem, even though the archive
    itself is valid (its predictions give its own scores)."""
    lb, _ = board
    (row,), _ = read_index(lb)
    row["results"][0]["scores"]["hr@5"] += 0.01
    write_index(lb, [row])
    problems = validate(lb, {sha_of(data): data})
    assert_problem(problems, "index.results[0].scores", "the archive's results.json says")
    assert not any(p.field.startswith("results[") for p in problems)  # the archive's own scores recompute


def test_archive_with_other_sha256_is_refused(tmp_path, board, data):
    lb, _ = board
    (row,), _ = read_index(lb)
    path = lb / "archives" / archive_name(row["archive"]["sha256"])
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 1  # same size, other bytes
    path.write_bytes(bytes(raw))
    assert_problem(validate(lb, {sha_of(data): data}), "archive.sha256", "refused")
    from leaderboard.fetch import fetch

    done, problems = fetch(str(lb / "archives"), lb, tmp_path / "fetched", tmp_path / "cache")
    assert done == 0 and not (tmp_path / "cache" / row["id"]).exists()
    assert_problem(problems, "archive.sha256", "refused")
    assert not list((tmp_path / "fetched").iterdir())  # nothing unchecked is kept


def _evil_archive(path: Path, kind: str) -> None:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("summary.md")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        info = tarfile.TarInfo({"dotdot": "../escaped.md", "absolute": "/tmp/escaped.md", "symlink": "results.json",
                                "hardlink": "config.json", "nested": "predictions/../../escaped.md"}[kind])
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, "summary.md"
        else:
            info.size = 4
        tar.addfile(info, io.BytesIO(b"evil") if info.isfile() else None)


@pytest.mark.parametrize("kind, text", [("dotdot", "escapes"), ("absolute", "absolute path"), ("symlink", "symbolic links"),
                                        ("hardlink", "hard links"), ("nested", "escapes")])
def test_unsafe_archive_members_are_refused(tmp_path, kind, text):
    """Nothing of an unsafe archive is extracted, inside or outside the cache folder."""
    archive = tmp_path / "evil.tar.gz"
    _evil_archive(archive, kind)
    cache = tmp_path / "deep" / "cache"
    problems = extract_archive(archive, cache / "m" / "r", "m/r")
    assert_problem(problems, "archive:", text)
    assert not (cache / "m" / "r").exists() and not list((cache / "m").iterdir())
    assert not (tmp_path / "escaped.md").exists() and not (tmp_path / "deep" / "escaped.md").exists()


def test_validate_without_archives_says_so(tmp_path, board, data, capsys):
    """No archive: the rows' schema is still checked, and the missing recomputation is a problem
    unless --index-only, which says for how many rows the scores were not recomputed."""
    lb, _ = board
    shutil_rmtree(lb / "archives")
    assert_problem(validate(lb, {sha_of(data): data}), "archive", "scores not recomputed")
    assert validate_cli(lb, [data], out=sys_stdout()) == 1
    assert validate(lb, {sha_of(data): data}, index_only=True) == []
    assert validate_cli(lb, [data], index_only=True, out=sys_stdout()) == 0
    assert "NOT recomputed for 1" in capsys.readouterr().out
    (row,), _ = read_index(lb)
    row["results"][0]["scores"]["hr@5"] = 1.5
    write_index(lb, [row])
    assert_problem(validate(lb, {}, index_only=True), "results[0].scores.hr@5", "outside the range")


def shutil_rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


def sys_stdout():
    import sys

    return sys.stdout


def test_bad_index_rows(board, data):
    lb, _ = board
    (row,), _ = read_index(lb)
    bad = dict(row, id="zzz/run-1", archive={"sha256": "xyz", "size": -1})
    (lb / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (bad, row, row)) + "{not json\n")
    problems = validate(lb, {sha_of(data): data}, index_only=True)
    assert_problem(problems, "archive.sha256", "64 lowercase hex")
    assert_problem(problems, "archive.size", ">= 0")
    assert_problem(problems, "id", "duplicate id")
    assert_problem(problems, "(order)", "sorted by id")
    assert_problem(problems, "(line)", "not valid JSON")


def test_fetch_from_a_folder_and_over_http(tmp_path, board, data):
    """fetch copies each archive by its sha256 name (local folder or http base URL), checks it and
    extracts it; validate then recomputes from the fetched archives."""
    import functools
    import http.server
    import threading

    from leaderboard.fetch import fetch

    lb, _ = board
    (row,), _ = read_index(lb)
    done, problems = fetch(str(lb / "archives"), lb, tmp_path / "a1", tmp_path / "c1")
    assert (done, problems) == (1, [])
    assert (tmp_path / "c1" / row["id"] / "results.json").is_file()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(lb / "archives"))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        done, problems = fetch(url, lb, tmp_path / "a2", tmp_path / "c2")
    finally:
        server.shutdown()
    assert (done, problems) == (1, [])
    assert validate(lb, {sha_of(data): data}, archives_dir=tmp_path / "a2") == []


# ---- on the real tiny dataset: a real run of the evaluator ----------------------------------------------
class TinyModel(Model):
    """Seeded random scores and a constant rating: enough to exercise every ranking and rating path."""

    name = "lb-tiny"

    def fit(self, data, regime: str) -> None:
        self.n_items = data.n_items

    def rank(self, task, requests):
        rng = np.random.default_rng(self.seed + len(requests))
        width = len(requests["candidates"].iloc[0]) if task == "selection" else self.n_items
        return rng.random((len(requests), width)).astype(np.float32)

    def predict_rating(self, requests):
        return ["4" if i % 3 else "no idea" for i in range(len(requests))]


def test_tiny_data_round_trip(tmp_path, tiny_data, monkeypatch):
    """`unimp-bench run` output on the tiny dataset goes through submit, validate and build; a tampered
    score in it is then caught."""
    from benchmark.api import registry
    from benchmark.data.dataset import PreparedDataset
    from benchmark.eval.evaluator import RunOptions, run

    monkeypatch.setattr(registry, "load", lambda name: TinyModel)
    run_dir = run(tiny_data, tmp_path / "runs",
                  RunOptions(model="lb-tiny", tasks=("recommendation", "search", "selection", "rating", "explanation"),
                             splits=("test", "new_user", "new_domain"), seed=0, n_boot=50, run_id="tiny-1"))
    lb = tmp_path / "lb"
    sub = unpack(lb, submit(run_dir, lb, {"parameters": 0, "training_data": ["tiny"], "license": "Apache-2.0"}), tmp_path / "work")
    datasets = {PreparedDataset(tiny_data).sha256: tiny_data}
    doc = json.loads((sub / "results.json").read_text())
    assert {e["status"] for e in doc["results"]} == {"ok", "unsupported"}  # explanation: no generate_text
    assert validate(lb, datasets) == []
    build(lb, datasets)
    readme = (lb / "README.md").read_text()
    assert "| tiny-1 " in readme and "new users HR@5" in readme

    i = next(i for i, e in enumerate(doc["results"]) if e["status"] == "ok" and e["task"] == "selection")
    edit_json(sub / "results.json", lambda d: d["results"][i]["scores"].__setitem__("f1", d["results"][i]["scores"]["f1"] + 0.01))
    repack(lb, sub)
    problems = validate(lb, datasets)
    assert_problem(problems, f"results[{i}].scores.f1", "predictions give")
    assert_problem(problems, f"index.results[{i}].scores", "the archive's results.json says")


@pytest.mark.parametrize("path, text", [
    ("../x.png", "escapes"), ("/etc/x.png", "absolute path"), ("images/image__test/../../x.png", "escapes"),
    ("images/image__valid/a.png", "must be under images/image__test/"), ("images/image__test/b.png", "not in the submission"),
    ("images/image__test/link.png", "not in the submission"), ("images/image__test/a.png", None),
])
def test_image_prediction_paths(tmp_path, path, text):
    """Image prediction lines point to files inside the submission only (no escape, no symlink)."""
    folder = tmp_path / "sub"
    (folder / "images" / "image__test").mkdir(parents=True)
    (folder / "images" / "image__test" / "a.png").write_bytes(b"\x89PNG")
    os.symlink(tmp_path / "outside.png", folder / "images" / "image__test" / "link.png")
    (tmp_path / "outside.png").write_bytes(b"\x89PNG")
    got = validate_mod.check_line("image", {"id": "image/test/0", "image": path}, "f:1", "s", folder, "test")
    if text is None:
        assert got == []
    else:
        assert_problem(got, "f:1.image", text)


def test_recompute_uses_the_run_scorer_settings(monkeypatch, tmp_path):
    """The scorer settings recorded in extra reach score_predictions; the default BERTScore model is
    recorded by name and must be passed as None (loaded from the pinned wheel, offline)."""
    from benchmark.metrics import text

    seen = {}
    monkeypatch.setattr(validate_mod, "score_predictions", lambda *a, **kw: seen.update(kw) or "result")
    extra = {"n_boot": 200, "bootstrap_seed": 7, "bertscore_model": text.DEFAULT_BERTSCORE_NAME, "bertscore_layer": 6}
    assert validate_mod.recompute("explanation", None, [], None, tmp_path, extra) == "result"
    assert seen == {"run_dir": tmp_path, "n_boot": 200, "seed": 7, "bertscore_model": None, "bertscore_layers": 6}
    validate_mod.recompute("rating", None, [], None, tmp_path, {"fallback_rating": 2, "n_boot": 10**9, "bootstrap_seed": 1})
    assert seen["fallback_rating"] == 2.0 and seen["n_boot"] == 0  # an absurd bootstrap is not redone


def test_validate_prints_at_most_20_problems_and_writes_them_all(tmp_path):
    import io

    lb = tmp_path / "board"
    lb.mkdir()
    (lb / "index.jsonl").write_text("not json\n" * 25)  # each line a problem: index.jsonl:LINE
    out = io.StringIO()
    assert validate_cli(lb, [], out=out) == 1
    lines = out.getvalue().splitlines()
    assert [line.split(":")[1] for line in lines[:20]] == [str(i) for i in range(1, 21)]
    report = lb / "validation-problems.txt"
    assert "index.jsonl:21" not in out.getvalue() and f"5 more in {report}" in lines[20]
    assert lines[-1].endswith("25 problem(s)")
    assert [line.split(":")[1] for line in report.read_text().splitlines()] == [str(i) for i in range(1, 26)]
    chosen = tmp_path / "all.txt"
    assert validate_cli(lb, [], out=io.StringIO(), report=chosen) == 1
    assert len(chosen.read_text().splitlines()) == 25


# ---- the build validates every entry itself -------------------------------------------------------------
def _rewrite_row(lb: Path, edit) -> None:
    """Edit the index row as text (a hand-made tampering, past every check of `submit`)."""
    line = (lb / "index.jsonl").read_text().splitlines()[0]
    (lb / "index.jsonl").write_text(edit(line) + "\n")


@pytest.mark.parametrize("tamper, reason", [
    (lambda line: line.replace('"hr@5":', '"hr@5":NaN,"x":', 1), "left out index.jsonl:1: (line): not valid JSON"),
    (lambda line: json.dumps({k: v for k, v in json.loads(line).items() if k != "seed"}),
     "left out dummy/run-1: seed:"),
    (lambda line: line.replace('"size":', '"size":1', 1), "left out dummy/run-1: archive"),
    (lambda line: json.dumps(_bump_hr5(json.loads(line))), "left out dummy/run-1: index.results[0].scores"),
])
def test_build_leaves_out_a_tampered_entry_with_its_reason(tmp_path, data, capsys, tamper, reason):
    lb = tmp_path / "lb"
    submit(make_run(tmp_path / "runs", data), lb)
    submit(make_run(tmp_path / "runs2", data, run_id="run-2", model="honest", shift=1), lb)
    rows = (lb / "index.jsonl").read_text().splitlines()
    _rewrite_row(lb, tamper)
    (lb / "index.jsonl").write_text((lb / "index.jsonl").read_text() + rows[1] + "\n")
    assert build_cli(lb, [data]) == 1  # never a traceback
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(reason), err
    readme = (lb / "README.md").read_text()
    assert "| honest " in readme and "| dummy " not in readme and "run-1" not in readme


def _bump_hr5(row: dict) -> dict:
    row["results"][0]["scores"]["hr@5"] = 0.99  # a better score than the predictions give
    return row


def test_entries_not_recomputed_are_unverified_listed_apart_never_ranked(tmp_path, data, capsys):
    lb = tmp_path / "lb"
    submit(make_run(tmp_path / "runs", data), lb)
    assert build_cli(lb, []) == 0  # no dataset given: nothing to recompute against
    readme = (lb / "README.md").read_text()
    entries = md_rows(readme.split("## Entries")[1].split("## Models")[0])
    assert entries == [["dummy/run-1", "crafted", "unverified", "its dataset (with labels) was not given to the build"]]
    assert "| dummy " not in readme.split("## Entries")[0]  # in no ranked table
    assert "1 unverified (not ranked)" in capsys.readouterr().out
    assert '<tr data-level="unverified"><td>dummy/run-1</td>' in (lb / "index.html").read_text()
    board = build(lb, {sha_of(data): data})
    assert board.levels == {"dummy/run-1": "scored"} and board.unverified == []
    entries = md_rows((lb / "README.md").read_text().split("## Entries")[1].split("## Models")[0])
    assert entries == [["dummy/run-1", "crafted", "scored", ""]]


def test_every_task_and_split_prediction_file_may_be_submitted():
    """A submission holds a predictions file for every declared task (variants with a hyphen included)."""
    from benchmark.data.regimes import EVAL_SPLITS
    from benchmark.eval.results import predictions_name
    from leaderboard.common import allowed_file

    for task in TASKS:
        for split in EVAL_SPLITS:
            assert allowed_file(predictions_name(task, split)), predictions_name(task, split)
    assert allowed_file("images/search-catalogue__test/a.png")
    assert not allowed_file("predictions/../x__test.jsonl") and not allowed_file("predictions/-x__test.jsonl")


def test_selection_scores_without_a_score_are_null_and_valid():
    """A ranking model gives -inf to candidates it never saw: the line stores null there (JSON has no
    infinity) and the validator accepts it; a string is still refused."""
    from benchmark.tasks.selection import _json_score

    sel = TASKS["selection"]
    assert [_json_score(x) for x in (1.5, float("-inf"), float("nan"))] == [1.5, None, None]
    assert sel.check_line({"selected": [1, 2], "scores": [0.3, None]}, "test") == []
    assert sel.check_line({"selected": [1], "scores": [0.3, "x"]}, "test") != []
