"""Build leaderboard/README.md and leaderboard/index.html from leaderboard/index.jsonl alone.

The output depends only on the index rows (no clock, no machine facts, no archives), so the same index
gives byte-identical files. Both files are generated, not committed (`make board`). Markdown tables are
written by tabulate (GitHub pipe format) with every cell escaped for Markdown; the HTML page is a Jinja2
template (`leaderboard.render_html`).
"""
from __future__ import annotations

import html
import re
import sys
from pathlib import Path

from tabulate import tabulate

from benchmark.data.io import write_text
from leaderboard.common import SubmissionError
from leaderboard.legend import LEGEND, PAPER_NOTE
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
    load_submissions,
)

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
    "the frozen targets and checks that each row says what its archive says; `make board` (or "
    "`unimp-bench leaderboard build`) renders this page and `index.html` from `index.jsonl`.",
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
        "Generated by `make board` (`unimp-bench leaderboard build`) from `index.jsonl` alone; not committed, "
        "do not edit by hand. `index.html` has the same tables, sortable, with plots.", "",
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


def build(leaderboard_dir: str | Path) -> None:
    """Write README.md and index.html of `leaderboard_dir` from its index.jsonl (atomic writes)."""
    root = Path(leaderboard_dir)
    subs = load_submissions(root)
    figure = FIGURE if (root / f"{FIGURE}.svg").is_file() else None  # the demo's figure, when there
    readme = render_readme(subs)
    if figure and (root / f"{FIGURE}.png").is_file():
        readme = readme.replace(LEGEND, f"![{FIGURE_CAPTION}]({FIGURE}.png)\n\n{LEGEND}", 1)
    write_text(root / README, readme)
    write_text(root / INDEX, render_html(subs, f"{FIGURE}.svg" if figure else None))


def build_cli(leaderboard_dir: str | Path) -> int:
    """Build and say where; exit code 0, or 1 (with the problems) when the index does not pass its schema."""
    try:
        build(leaderboard_dir)
    except SubmissionError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"wrote {Path(leaderboard_dir) / README} and {Path(leaderboard_dir) / INDEX}")
    return 0
