"""index.html: one static page, everything inline (CSS, JS, SVG plots), usable offline from file://.

Every piece of submission text goes through `html.escape`; no submission data reaches the script.
"""
from __future__ import annotations

import html
import math
from pathlib import Path

from benchmark.tasks import TASKS
from leaderboard.common import SUBMISSIONS_DIR
from leaderboard.legend import LEGEND, PAPER_NOTE
from leaderboard.paper_numbers import LABEL as PAPER_LABEL
from leaderboard.paper_numbers import PAPER_TABLES, PaperTable
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

STATIC = Path(__file__).parent  # page.css and page.js sit beside this file (package data)
MAX_PLOT_POINTS = 40


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def _static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _legend_html() -> str:
    """The README legend with its Markdown emphasis turned into HTML."""
    text = esc(LEGEND).replace("**Bold**", "<b>Bold</b>")
    parts = text.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


# ---- tables ----------------------------------------------------------------------------------------
def td(c: Cell) -> str:
    value, ci = cell_text(c)
    if c.status != OK:
        return f'<td class="status" data-sort="">{esc(value)}</td>'
    cls = " ".join(k for k, on in (("best", c.best), ("tie", c.tie)) if on)
    cls_attr = f' class="{cls}"' if cls else ""
    title = f' title="95% interval [{fmt(c.low)}, {fmt(c.high)}]"' if c.has_interval else ""
    ci_html = f' <span class="ci">{esc(ci)}</span>' if ci else ""
    return f'<td{cls_attr} data-sort="{c.value!r}"{title}>{esc(value)}{ci_html}</td>'


def table_html(t: Table, table_id: str) -> str:
    out = [f"<h3>{esc(t.title)}</h3>", f'<p class="note">{esc(t.note)}</p>']
    if not t.rows:
        out.append('<p class="note"><em>No submissions.</em></p>')
    else:
        heads = ['<th class="text" data-type="text">Model</th>', '<th class="text" data-type="text">Details</th>',
                 '<th class="text" data-type="text">Runs</th>']
        for j, c in enumerate(t.columns):
            main = ' data-main="true"' if j == t.main_column else ""
            better = "lower" if c.lower_is_better else "higher"
            heads.append(f'<th data-type="num" data-better="{better}"{main} title="{esc(c.task)} / {esc(c.split)} / {esc(c.metric)}">{esc(c.header)}</th>')
        out.append(f'<table class="sortable" id="{esc(table_id)}"><thead><tr>{"".join(heads)}</tr></thead><tbody>')
        for r in t.rows:
            runs = " ".join(f'<a href="{esc(SUBMISSIONS_DIR + "/" + k + "/")}">{esc(k.split("/", 1)[1])}</a>' for k in r.runs)
            out.append(
                f'<tr><td class="text" data-sort="{esc(r.model)}">{esc(r.model)}</td>'
                f'<td class="text" data-sort="{esc(r.detail)}">{esc(r.detail)}</td>'
                f'<td class="text" data-sort="{esc(" ".join(r.runs))}">{runs}</td>'
                + "".join(td(c) for c in r.cells) + "</tr>"
            )
        out.append("</tbody></table>")
    if t.paper is not None:
        out.append(paper_html(t.paper))
    return "\n".join(out)


def paper_html(p: PaperTable) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in p.columns)
    rows = "".join(f"<tr><td>{esc(n)}</td>" + "".join(f"<td>{fmt(v)}</td>" for v in vals) + "</tr>" for n, vals in p.rows)
    return (f'<table class="paper"><caption>{esc(p.title)}, as published: {esc(PAPER_LABEL)}</caption>'
            f'<thead><tr><th>Model</th>{head}</tr></thead><tbody>{rows}</tbody></table>')


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


def svg_plot(points: list[PlotPoint], metric: str, title: str) -> str:
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
    axis_y = top + row_h * max(len(points), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>']
    for t in ticks:
        out.append(f'<line class="grid" x1="{_n(x(t))}" y1="{top}" x2="{_n(x(t))}" y2="{axis_y}"/>')
        out.append(f'<text x="{_n(x(t))}" y="{axis_y + 14}" text-anchor="middle">{_tick_label(t, step)}</text>')
    out.append(f'<line class="axis" x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}"/>')
    out.append(f'<text x="{left + plot_w}" y="{axis_y + 27}" text-anchor="end">{esc(metric)}</text>')
    for i, p in enumerate(points):
        cy = top + row_h * i + row_h / 2
        label = p.label if len(p.label) <= 38 else p.label[:37] + "…"
        out.append(f'<text x="{left - 8}" y="{_n(cy + 4)}" text-anchor="end"><title>{esc(p.label)}</title>{esc(label)}</text>')
        if p.low is not None and p.high is not None:
            out.append(f'<line class="ci" x1="{_n(x(p.low))}" y1="{_n(cy)}" x2="{_n(x(p.high))}" y2="{_n(cy)}"/>')
        out.append(f'<circle class="pt" cx="{_n(x(p.value))}" cy="{_n(cy)}" r="4"/>')
        right_end = max(v for v in (p.value, p.high) if v is not None)
        out.append(f'<text x="{_n(x(right_end) + 6)}" y="{_n(cy + 4)}">{fmt(p.value)}</text>')
    if not points:
        out.append(f'<text x="{left}" y="{top + 15}">no runs</text>')
    out.append("</svg>")
    return "".join(out)


def plots_html(subs: list[Submission]) -> str:
    figs = []
    for task, spec in TASKS.items():
        pts = main_score_points(subs, task)
        if not pts:
            continue
        direction = "higher is better" if spec.higher_is_better else "lower is better"
        title = f"{task}: {spec.main_score} on test ({direction}), 95% intervals"
        figs.append(f'<figure data-task="{esc(task)}"><figcaption>{esc(title)}</figcaption>{svg_plot(pts, spec.main_score, title)}</figure>')
    return '<div class="plots">' + "".join(figs) + "</div>" if figs else ""


# ---- page ------------------------------------------------------------------------------------------
def models_html(subs: list[Submission]) -> str:
    seen: dict[tuple[str, str], tuple[dict, int]] = {}
    for s in subs:
        k = (s.name, s.results["model"]["revision"])
        meta, n = seen.get(k, (s.meta, 0))
        seen[k] = (meta, n + 1)
    rows = []
    for (name, rev), (meta, n) in sorted(seen.items()):
        params = meta.get("parameters")
        data = meta.get("training_data")
        data = ", ".join(data) if isinstance(data, list) else (data or "—")
        ref = meta.get("reference") or "—"
        ref_html = (f'<a href="{esc(ref)}" rel="noopener noreferrer">{esc(ref)}</a>'
                    if ref.startswith(("https://", "http://")) else esc(ref))
        rows.append(f"<tr><td>{esc(name)}</td><td>{esc(rev)}</td><td>{f'{params:,}' if isinstance(params, int) else '—'}</td>"
                    f"<td>{esc(data)}</td><td>{esc(meta.get('license') or '—')}</td><td>{ref_html}</td><td>{n}</td></tr>")
    if not rows:
        return '<h2>Models</h2><p class="note">No submissions yet.</p>'
    return ('<h2>Models</h2><table class="models"><thead><tr><th>Model</th><th>Revision</th><th>Parameters</th>'
            '<th>Training data</th><th>License</th><th>Reference</th><th>Submissions</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def render_html(subs: list[Submission]) -> str:
    groups = group_by_dataset(subs)
    body = [
        "<h1>unimp-bench leaderboard</h1>",
        f'<p class="legend">{len(subs)} submission(s) on {len(groups)} prepared dataset(s). '
        "Built from the files in <code>submissions/</code> alone.</p>",
        f'<p class="legend">{_legend_html()}</p>',
        f'<p class="legend">{esc(PAPER_NOTE)}</p>',
    ]
    if groups:
        buttons = "".join(f'<button type="button" role="tab" data-tab="ds-{i}" aria-selected="{"true" if i == 0 else "false"}">{esc(label)}</button>'
                          for i, (_, label, _) in enumerate(groups))
        body.append(f'<nav class="tabs" role="tablist">{buttons}</nav>')
    else:
        body.append('<section class="empty"><h2>No submissions yet</h2>'
                    + "".join(paper_html(p) for p in PAPER_TABLES.values()) + "</section>")
    for i, (sha, label, members) in enumerate(groups):
        sec = [f'<section class="dataset" id="ds-{i}" data-sha256="{esc(sha)}">', f"<h2>Dataset {esc(label)}</h2>",
               f'<p class="note">sha256 <code>{esc(sha)}</code></p>', plots_html(members)]
        sec += [table_html(t, f"ds-{i}-{t.key}") for t in dataset_tables(members)]
        sec.append("</section>")
        body.append("\n".join(sec))
    body.append(models_html(subs))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">\n"
        "<title>unimp-bench leaderboard</title>\n"
        f"<style>\n{_static('page.css')}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>\n{_static('page.js')}</script>\n</body>\n</html>\n"
    )
