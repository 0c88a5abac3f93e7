"""Build leaderboard/README.md and leaderboard/index.html from leaderboard/index.jsonl alone.

The build validates every row itself and never trusts a stored score (`assess`): a row that fails (NaN, a
missing field, an archive or hash mismatch, a score that does not recompute) is left out, with a one-line
reason printed; a row whose dataset (with its labels) or archive the build was not given is "unverified",
listed apart and never ranked; the others are "scored" (recomputed against the sealed answers).

Given the same index, archives and datasets the output is the same (no clock, no machine facts), so the
same inputs give byte-identical files. Both files are generated, not committed (`make board`). Markdown tables are
written by tabulate (GitHub pipe format) with every cell escaped for Markdown; the HTML page is a Jinja2
template (`leaderboard.render_html`).
"""
from __future__ import annotations

import html
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from benchmark.data.io import write_text
from leaderboard.archive import ARCHIVES_DIR, row_archive
from leaderboard.common import Problem
from leaderboard.index import read_index
from leaderboard.legend import LEGEND, LEVELS, PAPER_NOTE
from leaderboard.paper_numbers import LABEL as PAPER_LABEL
from leaderboard.paper_numbers import PAPER_TABLES, PaperTable
from leaderboard.render_html import FIGURE, FIGURE_CAPTION, render_html
from leaderboard.tables import (
    Cell,
    Submission,
    Table,
    cell_text,
    dataset_tables,
    fmt,
    group_by_dataset,
)
from leaderboard.validate import DatasetCache, datasets_from_paths, validate_row
from leaderboard.verify import NOT_PRIVATE, read_verified

README = "README.md"
INDEX = "index.html"

HOW_TO_SUBMIT = [
    "## How to submit", "",
    "1. Run the benchmark: `unimp-bench run --model NAME --data DATA --out runs/` writes a run folder.",
    "2. `unimp-bench leaderboard submit runs/RUN_ID --meta model_meta.json` checks the run, writes its archive "
    "(results.json, config.json, summary.md, predictions, images and `model_meta.json`: name, revision, parameters, "
    "training_data, license, reference, ablation) as `archives/<sha256>.tar.gz` and adds its row to `index.jsonl`. "
    "An existing submission is never overwritten.",
    "3. `unimp-bench leaderboard validate --data DATA` recomputes every score from the archives' predictions against "
    "the sealed answers (`DATA.labels`, kept by the maintainers) and checks that each row says what its archive "
    "says; `unimp-bench leaderboard build --data DATA` does the same for every row before it renders this page "
    "and `index.html`: what fails is left out, what it cannot recompute is listed as unverified.",
    "4. Open a pull request with the `index.jsonl` change, and hand the archive to a maintainer "
    "(see `MAINTAINERS.md`).", "",
]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#!{}<>])")


def md(text: str) -> str:
    """Text safe inside a Markdown table cell: HTML-escaped, Markdown specials backslash-escaped."""
    text = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def md_cell(c: Cell) -> str:
    value, ci = cell_text(c)
    text = f"{value} {ci}".strip()
    if c.best:
        return f"**{text}**"
    return f"{text} ≈" if c.tie else text


def md_grid(headers: list[str], rows: list[list[str]], align: list[str]) -> list[str]:
    """A pipe table (GitHub Markdown, alignment colons); cells must already be Markdown-escaped (`md`)."""
    text = tabulate(rows, headers=headers, tablefmt="pipe", colalign=align, disable_numparse=True)
    return text.splitlines()


def md_paper(p: PaperTable) -> list[str]:
    lines = [f"<sub>{md(p.title)}, as published: {md(PAPER_LABEL)}</sub>", ""]
    lines += md_grid([f"Model, {md(PAPER_LABEL)}", *map(md, p.columns)],
                     [[md(name), *(fmt(v) for v in values)] for name, values in p.rows],
                     ["left"] + ["right"] * len(p.columns))
    return lines + [""]


def md_table(t: Table) -> list[str]:
    lines = [f"### {md(t.title)}", "", md(t.note), ""]
    if not t.rows:
        lines += ["_No submissions._", ""]
    else:
        rows = [[md(r.model), md(r.detail), " ".join(md(k.split("/", 1)[1]) for k in r.runs), *(md_cell(c) for c in r.cells)]
                for r in t.rows]
        lines += md_grid(["Model", "Details", "Runs", *(md(c.header) for c in t.columns)], rows,
                         ["left"] * 3 + ["right"] * len(t.columns))
        lines.append("")
    if t.paper is not None:
        lines += md_paper(t.paper)
    return lines


def md_models(subs: list[Submission]) -> list[str]:
    """One row per (model, revision) from the model cards."""
    seen: dict[tuple[str, str], tuple[dict, list[str]]] = {}
    for s in subs:
        k = (s.name, s.results["model"]["revision"])
        seen.setdefault(k, (s.meta, []))[1].append(s.key)
    lines = ["## Models", ""]
    if not seen:
        return lines + ["_No submissions yet._", ""]
    rows = []
    for (name, rev), (meta, keys) in sorted(seen.items()):
        params = meta.get("parameters")
        data = meta.get("training_data")
        data = ", ".join(data) if isinstance(data, list) else data
        rows.append([md(name), md(rev), f"{params:,}" if isinstance(params, int) else "—", md(data or "—"),
                     md(meta.get("license") or "—"), md(meta.get("reference") or "—"), str(len(keys))])
    lines += md_grid(["Model", "Revision", "Parameters", "Training data", "License", "Reference", "Submissions"], rows,
                     ["left"] * 6 + ["right"])
    return lines + [""]


def render_readme(subs: list[Submission]) -> str:
    groups = group_by_dataset(subs)
    lines = [
        "# unimp-bench leaderboard", "",
        "Generated by `make board` (`unimp-bench leaderboard build --data DATA`), which recomputes every ranked "
        "score from the archives against the sealed answers; not committed, do not edit by hand. `index.html` has the same tables, sortable, with plots.", "",
        f"{len(subs)} submission(s) on {len(groups)} prepared dataset(s).", "",
        LEGEND, "", PAPER_NOTE, "",
    ]
    if not groups:
        lines += ["## No submissions yet", ""]
        for p in PAPER_TABLES.values():
            lines += md_paper(p)
    for sha, label, members in groups:
        lines += [f"## Dataset {md(label)}", "", f"Full sha256: `{sha}`" if re.fullmatch(r"[0-9a-f]{64}", sha) else f"sha256: {md(sha)}", ""]
        for t in dataset_tables(members):
            lines += md_table(t)
    lines += md_models(subs) + HOW_TO_SUBMIT
    return "\n".join(lines).rstrip("\n") + "\n"


REPRODUCED, SCORED, UNVERIFIED = "reproduced", "scored", "unverified"


@dataclass
class Board:
    """What the build puts on the board: ranked entries (with their level), unverified ones (with why), and
    a one-line reason for each entry left out."""

    ranked: list[Submission] = field(default_factory=list)
    levels: dict[str, str] = field(default_factory=dict)                # id -> "reproduced" | "scored"
    notes: dict[str, str] = field(default_factory=dict)                 # id -> what verify said, when not reproduced
    unverified: list[tuple[Submission, str]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def _one_line_each(problems: list[Problem]) -> list[str]:
    by: dict[str, list[Problem]] = defaultdict(list)
    for p in problems:
        by[p.submission].append(p)
    lines = []
    for sub, ps in by.items():
        more = f" (and {len(ps) - 1} more problem(s))" if len(ps) > 1 else ""
        lines.append(f"left out {sub}: {ps[0].field}: {' '.join(ps[0].message.split())}{more}")
    return lines


def assess(leaderboard_dir: str | Path, datasets: dict[str, str | Path] | None = None,
           labels: dict[str, str | Path] | None = None, archives_dir: str | Path | None = None) -> Board:
    """Validate every row of the index itself (`leaderboard.validate`): schema (no NaN, no missing field),
    and, for a row on one of `datasets` ({sha256: folder}, opened with its labels) whose archive is in
    `archives_dir`, the archive's hash and every score recomputed from its predictions."""
    root = Path(leaderboard_dir)
    rows, problems = read_index(root)
    board = Board(left_out=_one_line_each(problems))
    bad = {p.submission for p in problems}
    cache = DatasetCache(datasets or {}, labels)
    archives = Path(archives_dir) if archives_dir is not None else root / ARCHIVES_DIR
    verified = read_verified(root)
    for row in sorted(rows, key=lambda r: r["id"]):
        if row["id"] in bad:  # e.g. a duplicate id: the row passed its schema but the index did not
            continue
        sub = Submission(row["id"], row, row["model_meta"])
        if row["dataset"]["sha256"] not in cache.paths:
            board.unverified.append((sub, "its dataset (with labels) was not given to the build"))
            continue
        if not row_archive(archives, row).is_file():
            board.unverified.append((sub, "its archive is not at hand"))
            continue
        try:
            found, _ = validate_row(row, archives, cache)
        except Exception as e:  # noqa: BLE001 - one broken entry never stops the board
            found = [Problem(row["id"], "(check)", f"could not be checked: {type(e).__name__}: {e}")]
        if found:
            board.left_out += _one_line_each(found)
        else:
            board.ranked.append(sub)
            rec = verified.get(row["archive"]["sha256"], {})
            reproduced = rec.get("outcome") == REPRODUCED and rec.get("private") != NOT_PRIVATE
            board.levels[sub.key] = REPRODUCED if reproduced else SCORED
            if rec and not reproduced:
                board.notes[sub.key] = f"verify: {rec.get('outcome')}, private world: {rec.get('private')}"
    return board


def md_levels(board: Board) -> list[str]:
    lines = ["## Entries and their level", "", md(LEVELS), ""]
    rows = [[md(s.key), md(s.results["dataset"]["name"]), board.levels[s.key], md(board.notes.get(s.key, ""))]
            for s in board.ranked]
    rows += [[md(s.key), md(s.results["dataset"]["name"]), UNVERIFIED, md(why)] for s, why in board.unverified]
    if not rows:
        return lines + ["_No entries._", ""]
    lines += md_grid(["Entry", "Dataset", "Level", "Note"], rows, ["left"] * 4)
    if board.unverified:
        lines += ["", "Unverified entries are not in the tables above: their scores were not recomputed by this build."]
    return lines + [""]


def build(leaderboard_dir: str | Path, datasets: dict[str, str | Path] | None = None,
          labels: dict[str, str | Path] | None = None, archives_dir: str | Path | None = None) -> Board:
    """Write README.md and index.html of `leaderboard_dir`: only entries the build recomputed are ranked
    (`assess`); returns the board, with the reason for each entry left out."""
    root = Path(leaderboard_dir)
    board = assess(root, datasets, labels, archives_dir)
    readme = render_readme(board.ranked)
    figure = FIGURE if (root / f"{FIGURE}.svg").is_file() else None  # the demo's figure, when there
    if figure and (root / f"{FIGURE}.png").is_file():
        readme = readme.replace(LEGEND, f"![{FIGURE_CAPTION}]({FIGURE}.png)\n\n{LEGEND}", 1)
    head, sep, tail = readme.partition("## Models")
    write_text(root / README, head + "\n".join(md_levels(board)) + "\n" + sep + tail)
    write_text(root / INDEX, render_html(board.ranked, [(s.key, why) for s, why in board.unverified],
                                         f"{FIGURE}.svg" if figure else None))
    return board


def build_cli(leaderboard_dir: str | Path, dataset_paths=(), labels_paths=(), archives_dir=None) -> int:
    """Build and say where; one line per entry left out; exit code 0, or 1 when an entry was left out or a
    dataset cannot be opened with its labels."""
    dataset_paths, labels_paths = list(dataset_paths), list(labels_paths)
    try:
        datasets = datasets_from_paths(dataset_paths)
        by_path = {Path(p): sha for sha, p in datasets.items()}
        labels = {by_path[Path(d)]: Path(lab) for d, lab in zip(dataset_paths, labels_paths)}
        for sha in datasets:
            DatasetCache(datasets, labels).get(sha)  # sealed answers at hand, else say so now
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    board = build(leaderboard_dir, datasets, labels, archives_dir)
    for line in board.left_out:
        print(line, file=sys.stderr)
    print(f"wrote {Path(leaderboard_dir) / README} and {Path(leaderboard_dir) / INDEX}: {len(board.ranked)} scored, "
          f"{len(board.unverified)} unverified (not ranked), {len(board.left_out)} left out")
    return 1 if board.left_out else 0
