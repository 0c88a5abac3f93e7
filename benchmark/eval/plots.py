"""`unimp-bench plot`: figures from run folders, as PNG and SVG.

scores.png/.svg  every run's main test score per task, with its 95% percentile-bootstrap interval
curves.png/.svg  training curves from each run's curves.csv (written by models that train), when any has one

curves.csv (CURVES_FILE in a run folder): one row per logged value, columns `regime,phase,step,name,value`
(phase "train" for per-step losses, "valid" for per-evaluation validation metrics).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from benchmark.api.helpers import CURVES_FILE
from benchmark.data.io import atomic_path
from benchmark.tasks import TASKS

FORMATS = ("png", "svg")


class PlotError(ValueError):
    """A run folder that cannot be plotted, with the reason."""


def _runs(run_dirs: list[Path]) -> list[tuple[str, dict]]:
    out = []
    for d in run_dirs:
        path = Path(d) / "results.json"
        try:
            doc = json.loads(path.read_text())
            label = doc["model"]["name"] + (f" ({doc['perturbation']})" if doc.get("perturbation") else "")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise PlotError(f"{path}: not a results file written by `unimp-bench run` ({type(e).__name__}: {e})") from None
        out.append((label, doc))
    return out


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    written = []
    for fmt in FORMATS:
        path = out_dir / f"{stem}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight", dpi=150)
        written.append(path)
    return written


def score_figure(docs: list[tuple[str, dict]], split: str = "test"):
    """One panel per task with results: each run's main score and its 95% interval (None when nothing to draw)."""
    import matplotlib  # heavy: matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # heavy: matplotlib

    panels = []
    for task, spec in TASKS.items():
        points = []
        for label, doc in docs:
            entry = next((r for r in doc["results"] if r["task"] == task and r["split"] == split
                          and r["status"] == "ok" and spec.main_score in r["scores"]), None)
            if entry is not None:
                points.append((label, entry["scores"][spec.main_score], entry["intervals"].get(spec.main_score)))
        if points:
            panels.append((spec, points))
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 0.5 + 0.32 * max(len(p) for _, p in panels) * rows + rows),
                             squeeze=False)
    for ax, (spec, points) in zip(axes.flat, panels):
        points = sorted(points, key=lambda p: p[1], reverse=not spec.higher_is_better)  # best at the top
        ys = range(len(points))
        for y, (_, v, ci) in zip(ys, points):
            err = [[v - ci[0]], [ci[1] - v]] if ci else None
            ax.errorbar([v], [y], xerr=err, fmt="o", color="tab:blue", ecolor="tab:gray", capsize=3)
        ax.set_yticks(list(ys), [p[0] for p in points])
        arrow = "higher" if spec.higher_is_better else "lower"
        ax.set_title(f"{spec.name} ({split})", fontsize=10)
        ax.set_xlabel(f"{spec.main_score} ({arrow} is better), 95% CI", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def read_curves(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / CURVES_FILE
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = []
        for i, row in enumerate(csv.DictReader(f), 2):
            try:
                rows.append(dict(row, step=int(row["step"]), value=float(row["value"])))
            except (KeyError, TypeError, ValueError) as e:
                raise PlotError(f"{path} line {i}: expected regime,phase,step,name,value ({e})") from None
        return rows


def curve_figure(curves: list[tuple[str, list[dict]]]):
    """One panel per (phase, name): a line per run and regime (None when no run has curves)."""
    import matplotlib  # heavy: matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # heavy: matplotlib

    keys = sorted({(r["phase"], r["name"]) for _, rows in curves for r in rows})
    if not keys:
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.2), squeeze=False)
    for ax, (phase, name) in zip(axes.flat, keys):
        for label, rows in curves:
            for regime in sorted({r["regime"] for r in rows}):
                pts = [(r["step"], r["value"]) for r in rows if (r["phase"], r["name"], r["regime"]) == (phase, name, regime)]
                if pts:
                    ax.plot(*zip(*pts), marker="." if len(pts) < 30 else None, label=f"{label} [{regime}]")
        ax.set_title(f"{phase}: {name}", fontsize=10)
        ax.set_xlabel("step" if phase == "train" else "evaluation (epoch)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_runs(run_dirs: list[Path], out_dir: Path, split: str = "test") -> list[Path]:
    """Write scores.* (and curves.* when a run has curves.csv) into out_dir; returns the files written."""
    import matplotlib.pyplot as plt  # heavy: matplotlib

    docs = _runs(run_dirs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    fig = score_figure(docs, split)
    if fig is not None:
        written += _save(fig, out_dir, "scores")
        plt.close(fig)
    curves = [(label, read_curves(d)) for (label, _), d in zip(docs, run_dirs)]
    fig = curve_figure(curves)
    if fig is not None:
        written += _save(fig, out_dir, "curves")
        plt.close(fig)
    return written
