"""index.html: one static page, everything inline (CSS, JS, SVG plots), usable offline from file://.

The page is the Jinja2 template templates/page.html.j2 (autoescape on: every piece of submission text
is escaped by the template engine); this module only computes what it shows (cells, plot geometry).
No submission data reaches the script.
"""
from __future__ import annotations

import math
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from benchmark.tasks import TASKS
from leaderboard.legend import LEGEND, LEVELS, PAPER_NOTE
from leaderboard.paper_numbers import LABEL as PAPER_LABEL
from leaderboard.paper_numbers import PAPER_TABLES
from leaderboard.tables import (
    OK,
    Cell,
    PlotPoint,
    Submission,
    Table,
    cell_text,
    dataset_tables,
    fmt,
    group_by_dataset,
    main_score_points,
)

STATIC = Path(__file__).parent  # page.css, page.js and templates/ sit beside this file (package data)
MAX_PLOT_POINTS = 40

_ENV = Environment(loader=FileSystemLoader(STATIC / "templates"), autoescape=True, undefined=StrictUndefined,
                   keep_trailing_newline=True)


def _static(name: str) -> Markup:
    """A file of this package (trusted, not submission data), inlined as is."""
    return Markup((STATIC / name).read_text(encoding="utf-8"))


def _legend_html() -> Markup:
    """The README legend with its Markdown emphasis turned into HTML (the text escaped first)."""
    text = str(escape(LEGEND)).replace("**Bold**", "<b>Bold</b>")
    parts = text.split("`")
    return Markup("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))


# ---- tables ----------------------------------------------------------------------------------------
def cell_view(c: Cell) -> dict:
    value, ci = cell_text(c)
    if c.status != OK:
        return {"status": c.status, "text": value}
    return {"status": OK, "text": value, "ci": ci, "sort": repr(c.value),
            "classes": " ".join(k for k, on in (("best", c.best), ("tie", c.tie)) if on),
            "title": f"95% interval [{fmt(c.low)}, {fmt(c.high)}]" if c.has_interval else ""}


def table_view(t: Table, archives: dict[str, str]) -> dict:
    columns = [{"header": c.header, "better": "lower" if c.lower_is_better else "higher", "main": j == t.main_column,
                "title": f"{c.task} / {c.split} / {c.metric}"} for j, c in enumerate(t.columns)]
    rows = [{"model": r.model, "detail": r.detail, "runs_sort": " ".join(r.runs),
             "runs": [{"text": k.split("/", 1)[1], "title": f"{k}, archive sha256 {archives.get(k, '?')}"} for k in r.runs],
             "cells": [cell_view(c) for c in r.cells]} for r in t.rows]
    return {"key": t.key, "title": t.title, "note": t.note, "columns": columns, "rows": rows, "paper": t.paper}


# ---- plots -----------------------------------------------------------------------------------------
def _n(x: float) -> str:
    return f"{x:.2f}"


def nice_axis(lo: float, hi: float, target: int = 4) -> tuple[float, float, list[float]]:
    """An axis from <= lo to >= hi with round ticks (steps 1, 2, 2.5 or 5 times a power of ten)."""
    span = max(hi - lo, 1e-9)
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start, stop = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    n = int(round((stop - start) / step))
    return start, stop, [start + i * step for i in range(n + 1)]


def _tick_label(t: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if round(step / 10 ** math.floor(math.log10(step) + 1e-9), 6) == 2.5 else 0)
    return f"{t:.{decimals}f}"


def plot_geometry(points: list[PlotPoint], metric: str, title: str) -> dict:
    """A horizontal dot plot: one row per run, dot at the score, bar over its 95% interval."""
    points = points[:MAX_PLOT_POINTS]
    left, right, top, row_h, bottom = 250, 70, 10, 22, 30
    width = 640
    plot_w = width - left - right
    height = top + row_h * max(len(points), 1) + bottom
    values = [v for p in points for v in (p.value, p.low, p.high) if v is not None]
    lo, hi = min([0.0, *values]), max([0.0, *values])
    lo, hi, ticks = nice_axis(lo, hi if hi - lo > 1e-6 else lo + 1.0)
    step = ticks[1] - ticks[0]
    x = lambda v: left + (v - lo) / (hi - lo) * plot_w  # noqa: E731
    rows = []
    for i, p in enumerate(points):
        cy = top + row_h * i + row_h / 2
        right_end = max(v for v in (p.value, p.high) if v is not None)
        rows.append({"label": p.label, "short": p.label if len(p.label) <= 38 else p.label[:37] + "…",
                     "cy": _n(cy), "text_y": _n(cy + 4), "cx": _n(x(p.value)), "value": fmt(p.value),
                     "value_x": _n(x(right_end) + 6),
                     "ci": (_n(x(p.low)), _n(x(p.high))) if p.low is not None and p.high is not None else None})
    return {"title": title, "metric": metric, "width": width, "height": height, "top": top, "left": left,
            "right": left + plot_w, "axis_y": top + row_h * max(len(points), 1),
            "ticks": [(_n(x(t)), _tick_label(t, step)) for t in ticks], "points": rows}


def plots(subs: list[Submission]) -> list[dict]:
    figs = []
    for task, spec in TASKS.items():
        pts = main_score_points(subs, task)
        if pts:
            direction = "higher is better" if spec.higher_is_better else "lower is better"
            title = f"{task}: {spec.main_score} on test ({direction}), 95% intervals"
            figs.append({"task": task, "title": title, "plot": plot_geometry(pts, spec.main_score, title)})
    return figs


# ---- page ------------------------------------------------------------------------------------------
def models_view(subs: list[Submission]) -> list[dict]:
    seen: dict[tuple[str, str], tuple[dict, int]] = {}
    for s in subs:
        k = (s.name, s.results["model"]["revision"])
        meta, n = seen.get(k, (s.meta, 0))
        seen[k] = (meta, n + 1)
    rows = []
    for (name, rev), (meta, n) in sorted(seen.items()):
        params = meta.get("parameters")
        data = meta.get("training_data")
        ref = meta.get("reference") or "—"
        rows.append({"name": name, "revision": rev, "parameters": f"{params:,}" if isinstance(params, int) else "—",
                     "data": ", ".join(data) if isinstance(data, list) else (data or "—"),
                     "license": meta.get("license") or "—", "reference": ref,
                     "link": ref.startswith(("https://", "http://")), "n": n})
    return rows


FIGURE = "scores"  # scores.svg / scores.png beside the board: written by `make demo` (`unimp-bench plot`)
FIGURE_CAPTION = ("Every model's main test score per task with its 95% percentile-bootstrap interval, from the "
                  "runs of the last `make demo` (drawn by `unimp-bench plot`).")


def render_html(subs: list[Submission], unverified: list[tuple[str, str]] = (), figure: str | None = None) -> str:
    """`subs`: the entries the build recomputed (ranked); `unverified`: (id, why) of the others, listed apart;
    `figure`: the demo's scores figure beside the page, when there."""
    archives = {s.key: s.results["archive"]["sha256"] for s in subs}
    datasets = [{"index": i, "sha": sha, "label": label, "plots": plots(members),
                 "tables": [table_view(t, archives) for t in dataset_tables(members)]}
                for i, (sha, label, members) in enumerate(group_by_dataset(subs))]
    return _ENV.get_template("page.html.j2").render(
        n_subs=len(subs), datasets=datasets, unverified=list(unverified), levels=LEVELS, figure=figure, figure_caption=FIGURE_CAPTION, legend=_legend_html(), paper_note=PAPER_NOTE, paper_label=PAPER_LABEL,
        empty_papers=list(PAPER_TABLES.values()), models=models_view(subs), css=_static("page.css"), js=_static("page.js"))
