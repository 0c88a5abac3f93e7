"""From submissions to tables laid out like the paper's: the data model shared by README and HTML.

Only the rows of index.jsonl are read (scores, intervals, model cards; never the archives). Every
ordering is explicit so that the same index always gives the same tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmark.metrics.registry import METRICS
from benchmark.tasks import TASKS
from leaderboard.common import SubmissionError
from leaderboard.index import read_index
from leaderboard.paper_numbers import PAPER_TABLES, PaperTable
from leaderboard.schema import metric_lower_is_better

MISSING, OK = "missing", "ok"



@dataclass(frozen=True)
class Submission:
    key: str            # "<model-slug>/<run-id>", the index row's id
    results: dict       # the index row (model, dataset, seed, perturbation, results, archive)
    meta: dict          # its model card (model_meta)

    @property
    def name(self) -> str:
        return self.results["model"]["name"]

    @property
    def ablation(self) -> str | None:
        """The ablation this run is (model_meta.ablation, else model.config.ablation), or None."""
        a = self.meta.get("ablation") or self.results["model"].get("ablation")
        return a if isinstance(a, str) and a else None

    @property
    def perturbation(self) -> str | None:
        return self.results.get("perturbation")

    @property
    def dataset_sha(self) -> str:
        return self.results["dataset"]["sha256"]

    def entry(self, task: str, split: str) -> dict | None:
        for e in self.results["results"]:
            if e["task"] == task and e["split"] == split:
                return e
        return None


@dataclass(frozen=True)
class Column:
    header: str
    task: str
    split: str
    metric: str
    perturbation: str | None = None

    @property
    def lower_is_better(self) -> bool:
        return metric_lower_is_better(self.metric)


@dataclass
class Cell:
    status: str                      # "ok", "unsupported", "error" or "missing"
    value: float | None = None
    low: float | None = None
    high: float | None = None
    best: bool = False               # best in its column (exact ties all best)
    tie: bool = False                # not separable from the best: 95% intervals overlap

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None


@dataclass
class Row:
    model: str
    detail: str                      # revision, seed, ablation / perturbation
    runs: tuple[str, ...]            # submission keys the cells come from
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Table:
    key: str
    title: str
    note: str
    columns: list[Column]
    rows: list[Row]
    paper: PaperTable | None
    main_column: int = 0             # rows are sorted by this column


def load_submissions(leaderboard_dir: str | Path) -> list[Submission]:
    """Every row of leaderboard_dir/index.jsonl, sorted by id; raises SubmissionError when the index
    does not pass its schema (run the leaderboard validation)."""
    rows, problems = read_index(leaderboard_dir)
    if problems:
        raise SubmissionError(f"{leaderboard_dir}/index.jsonl: cannot build from it; run the leaderboard validation", problems)
    return [Submission(r["id"], r, r["model_meta"]) for r in sorted(rows, key=lambda r: r["id"])]


def describe_scorer(scorer: dict) -> str:
    """BERTScore's settings as a reader needs them to compare numbers. idf and baseline rescaling are
    not options of our scorer (always off, see benchmark/metrics/text.py); a row that records them says so."""
    idf = "idf" if scorer.get("bertscore_idf") else "no idf"
    rescale = "rescaled with baseline" if scorer.get("bertscore_rescale_with_baseline") else "no baseline rescaling"
    return f"{scorer.get('bertscore_model', 'unknown model')}, layer {scorer.get('bertscore_layer', '?')}, {idf}, {rescale}"


def bertscore_scorers(subs: list[Submission]) -> list[str]:
    """"bertscore-f1: <scorer> (runs)" for each distinct scorer behind the explanation scores shown."""
    by: dict[str, list[str]] = {}
    for s in subs:
        for e in s.results["results"]:
            if e["task"] == "explanation" and "bertscore-f1" in e["scores"]:
                runs = by.setdefault(describe_scorer(e.get("scorer", {})), [])
                if s.key not in runs:
                    runs.append(s.key)
    if len(by) == 1:
        return [f"bertscore-f1 scorer: {next(iter(by))} (all runs)."]
    return [f"bertscore-f1 scorer: {d} ({', '.join(runs)})." for d, runs in sorted(by.items())]


def cell_for(sub: Submission | None, col: Column) -> Cell:
    e = sub.entry(col.task, col.split) if sub is not None else None
    if e is None:
        return Cell(MISSING)
    if e["status"] != OK:
        return Cell(e["status"])
    if col.metric not in e["scores"]:
        return Cell(MISSING)
    iv = e["intervals"].get(col.metric)
    low, high = (float(iv[0]), float(iv[1])) if iv else (None, None)
    return Cell(OK, float(e["scores"][col.metric]), low, high)


def mark_best(rows: list[Row], columns: list[Column]) -> None:
    """Bold the best of each column; mark as ties the cells whose interval overlaps the best's."""
    for j, col in enumerate(columns):
        cells = [r.cells[j] for r in rows if r.cells[j].status == OK]
        if not cells:
            continue
        pick = min if col.lower_is_better else max
        best_value = pick(c.value for c in cells)
        bests = [c for c in cells if c.value == best_value]
        for c in bests:
            c.best = True
        for c in cells:
            if c.best or not c.has_interval:
                continue
            if any(b.has_interval and c.low <= b.high and b.low <= c.high for b in bests):
                c.tie = True


def _detail(sub: Submission, with_perturbation: bool = True) -> str:
    parts = [f"rev {sub.results['model']['revision']}", f"seed {sub.results['seed']}"]
    if sub.ablation:
        parts.append(f"ablation: {sub.ablation}")
    if with_perturbation and sub.perturbation:
        parts.append(f"perturbation: {sub.perturbation}")
    return ", ".join(parts)


def _sort_rows(rows: list[Row], col: Column, j: int) -> list[Row]:
    def key(r: Row):
        c = r.cells[j]
        v = c.value if c.status == OK else None
        missing = v is None
        signed = 0.0 if missing else (v if col.lower_is_better else -v)
        return (missing, signed, r.model, r.detail, r.runs)
    return sorted(rows, key=key)


def per_run_table(key: str, title: str, note: str, subs: list[Submission], columns: list[Column],
                  main_column: int, paper: str | None) -> Table:
    """One row per submission that has at least one of the columns' results."""
    rows = []
    for s in subs:
        cells = [cell_for(s, c) for c in columns]
        if any(c.status != MISSING for c in cells):
            rows.append(Row(s.name, _detail(s), (s.key,), cells))
    rows = _sort_rows(rows, columns[main_column], main_column)
    mark_best(rows, columns)
    return Table(key, title, note, columns, rows, PAPER_TABLES.get(paper) if paper else None, main_column)


def robustness_table(subs: list[Submission]) -> Table:
    """Table 6: one row per (model, revision, seed, ablation); clean / NT / NV runs side by side.
    When several runs share a row and perturbation, the first run id in sorted order is shown."""
    columns = [Column(f"{p or 'clean'} HR@5", "recommendation", "test", "hr@5", p) for p in (None, "NT", "NV")]
    groups: dict[tuple, dict[str | None, Submission]] = {}
    for s in subs:  # sorted by key, so setdefault keeps the first run id
        g = (s.name, s.results["model"]["revision"], s.results["seed"], s.ablation or "")
        groups.setdefault(g, {}).setdefault(s.perturbation, s)
    rows = []
    for g, members in sorted(groups.items()):
        if set(members) == {None}:
            continue  # no perturbed run: nothing to compare
        cells = [cell_for(members.get(c.perturbation), c) for c in columns]
        runs = tuple(members[p].key for p in (None, "NT", "NV") if p in members)
        first = members.get(None) or members[sorted(p for p in members if p)[0]]
        detail = _detail(first, with_perturbation=False)
        rows.append(Row(g[0], detail, runs, cells))
    rows = _sort_rows(rows, columns[0], 0)
    mark_best(rows, columns)
    note = "Perturbed inputs at test time: NT drops 20% of attribute values, NV replaces 20% of images."
    return Table("table6", "Table 6: robustness (recommendation, test)", note, columns, rows,
                 PAPER_TABLES["table6"], 0)


def _cols(task: str, split: str, metrics: tuple[str, ...], headers: tuple[str, ...] | None = None) -> list[Column]:
    headers = headers or tuple(METRICS[m].header for m in metrics)
    return [Column(h, task, split, m) for h, m in zip(headers, metrics)]


RANK_METRICS = ("hr@3", "ndcg@3", "mrr@3", "hr@5", "ndcg@5", "mrr@5")


def dataset_tables(subs: list[Submission]) -> list[Table]:
    """The paper-shaped tables for the submissions of one dataset."""
    clean = [s for s in subs if s.perturbation is None]
    main = [s for s in clean if s.ablation is None]
    ablated_models = {s.name for s in clean if s.ablation is not None}
    ablation_runs = [s for s in clean if s.name in ablated_models]
    rec, expl, rating, sel, search = (TASKS[t] for t in ("recommendation", "explanation", "rating", "selection", "search"))
    gen_cols = (_cols("recommendation", "new_user", ("hr@5", "ndcg@5"), ("new users HR@5", "new users NDCG@5"))
                + _cols("recommendation", "new_domain", ("hr@5", "ndcg@5"), ("new domain HR@5", "new domain NDCG@5")))
    image = TASKS["image"]
    return [
        per_run_table("table1", "Table 1: recommendation (test)", "Full ranking over the split's catalogue, history items removed.",
                      main, _cols("recommendation", "test", RANK_METRICS), RANK_METRICS.index(rec.main_score), "table1"),
        per_run_table("table2a", "Table 2(a): explanation (test)", " ".join(
                          ["BLEU-1 and BLEU-4 named as such; the paper's \"BLEU\" is not specified further.", *bertscore_scorers(main)]),
                      main, _cols("explanation", "test", expl.metrics), expl.metrics.index(expl.main_score), "table2a"),
        per_run_table("table2b", "Table 2(b): rating (test)", "Lower is better; unparseable outputs are counted and scored with the fallback rating.",
                      main, _cols("rating", "test", rating.metrics), rating.metrics.index(rating.main_score), "table2b"),
        per_run_table("table2c", "Table 2(c): selection (test)", "Per-instance recall, precision and F1, averaged.",
                      main, _cols("selection", "test", sel.metrics), sel.metrics.index(sel.main_score), "table2c"),
        per_run_table("table2d", "Table 2(d): search (test)", "The query is the target's category path.",
                      main, _cols("search", "test", search.table_metrics), search.table_metrics.index(search.main_score), "table2d"),
        per_run_table("table3", "Table 3: ablations (recommendation, test)", "Runs of models that have ablation runs; \"ablation\" names what was removed.",
                      ablation_runs, _cols("recommendation", "test", ("hr@5", "ndcg@5", "mrr@5")), 0, "table3"),
        per_run_table("table4", "Table 4: new users and new domain (recommendation)", "New users never appear in training; the new domain is Office_Products.",
                      main, gen_cols, 0, "table4"),
        robustness_table([s for s in subs if s.ablation is None]),
        per_run_table("image", "Image generation (test; numbers added by this benchmark, the paper shows pictures only)", "frechet and token_nll: lower is better; token scores only for models that predict image tokens; ablation runs included (e.g. generation without history).",
                      clean, _cols("image", "test", image.metrics), image.metrics.index(image.main_score), None),
    ]


@dataclass(frozen=True)
class PlotPoint:
    label: str
    value: float
    low: float | None
    high: float | None


def main_score_points(subs: list[Submission], task: str) -> list[PlotPoint]:
    """The task's main score on test for every unperturbed run, best first."""
    spec = TASKS[task]
    pts = []
    for s in subs:
        if s.perturbation is not None:
            continue
        c = cell_for(s, Column(spec.main_score, task, "test", spec.main_score))
        if c.status == OK:
            label = s.name + (f" ({s.ablation})" if s.ablation else "") + f" · {s.key.split('/', 1)[1]}"
            pts.append(PlotPoint(label, c.value, c.low, c.high))
    return sorted(pts, key=lambda p: ((p.value if not spec.higher_is_better else -p.value), p.label))


def group_by_dataset(subs: list[Submission]) -> list[tuple[str, str, list[Submission]]]:
    """[(sha256, label, submissions)] sorted by label then sha."""
    groups: dict[str, list[Submission]] = {}
    for s in subs:
        groups.setdefault(s.dataset_sha, []).append(s)
    out = []
    for sha, members in groups.items():
        d = members[0].results["dataset"]
        scale = f", scale {d['scale']}" if d.get("scale") else ""
        out.append((sha, f"{d['name']}{scale} (sha256 {sha[:12]})", members))
    return sorted(out, key=lambda t: (t[1], t[0]))


def fmt(v: float) -> str:
    """Fixed 4-decimal rendering of a score (same text in README and HTML)."""
    return f"{v:.4f}"


def cell_text(c: Cell) -> tuple[str, str]:
    """(value text, interval text) of a cell: ("0.0337", "± 0.0021"), ("unsupported", ""), ("—", "")."""
    if c.status == MISSING:
        return "—", ""
    if c.status != OK:
        return c.status, ""
    ci = f"± {fmt((c.high - c.low) / 2)}" if c.has_interval else ""
    return fmt(c.value), ci
