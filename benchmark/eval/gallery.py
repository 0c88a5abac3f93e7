"""A static HTML gallery of image-task predictions, readable offline from the file system.

    <run_dir>/gallery/<task_split>.html
    <run_dir>/gallery/items/<item>.png      copies of the dataset's item images the page shows

Per instance: the history images (last EVAL_HISTORY), the query, the retrieved images when the
prediction line has "retrieved": [item tokens], the generated image (already in the run folder) and the
target. Every <img> path is relative; every piece of text is escaped with html.escape; no script.
"""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from benchmark.data import io
from benchmark.data.layout import EVAL_HISTORY

GALLERY_DIR = "gallery"
_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; }
.inst { border: 1px solid #ccc; border-radius: 6px; padding: .6em; margin: .8em 0; }
.meta { font-size: .85em; color: #555; margin-bottom: .4em; }
.row { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-start; }
.group h3 { font-size: .8em; margin: 0 0 .2em 0; text-transform: uppercase; color: #666; }
.group.q { max-width: 14em; font-size: .85em; }
.group.gen h3 { color: #a40; } .group.tgt h3 { color: #070; }
figure { display: inline-block; margin: 0 .3em 0 0; width: 96px; vertical-align: top; }
figure img { width: 96px; height: 96px; object-fit: contain; image-rendering: pixelated;
             border: 1px solid #ddd; background: #fafafa; }
figcaption { font-size: .7em; overflow-wrap: anywhere; }
.none { display: inline-block; width: 96px; height: 96px; line-height: 96px; text-align: center;
        font-size: .7em; color: #999; border: 1px dashed #ccc; }
"""


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


class _Items:
    """Copies item images into the gallery folder once and renders <figure>s for them."""

    def __init__(self, dataset, gallery_dir: Path):
        self.dataset, self.dir = dataset, gallery_dir

    def figure(self, item: int) -> str:
        item = int(item)
        title = self.dataset.items.at[item, "title"] if item in self.dataset.items.index else None
        title = None if title is None or pd.isna(title) else str(title)
        caption = f"#{item}" + (f" {title[:40]}" if title else "")
        src = self.dataset.image_path(item) if item in self.dataset.items.index else None
        if src is None or not Path(src).is_file():
            return f'<figure><span class="none">no image</span><figcaption>{_e(caption)}</figcaption></figure>'
        rel = Path("items") / f"{item}{Path(src).suffix or '.png'}"
        dst = self.dir / rel
        if not dst.is_file():
            io.write_bytes(dst, Path(src).read_bytes())
        return (f'<figure><img src="{_e(rel.as_posix())}" alt="{_e(title or f"item {item}")}" '
                f'title="{_e(title or "")}"><figcaption>{_e(caption)}</figcaption></figure>')


def _group(label: str, figures: Sequence[str], cls: str = "") -> str:
    body = "".join(figures) if figures else '<span class="none">none</span>'
    return f'<div class="group {cls}"><h3>{_e(label)}</h3>{body}</div>'


def write_gallery(run_dir: str | Path, task_split: str, instances: pd.DataFrame, predictions: list[dict],
                  dataset, n: int = 24) -> Path:
    """Write the gallery page of the first `n` instances (instance order) and return its path.

    task_split: e.g. "image__test" (the page's name); predictions: {"id", "image": path relative to
    run_dir, optional "retrieved": [item tokens]}."""
    run_dir = Path(run_dir)
    gallery_dir = run_dir / GALLERY_DIR
    items = _Items(dataset, gallery_dir)
    by_id = {p["id"]: p for p in predictions}
    cards = []
    for _, row in instances.head(n).iterrows():
        pred = by_id.get(row["id"], {})
        history = list(row["history"]) if row["history"] is not None else []
        groups = [_group(f"history (last {EVAL_HISTORY})", [items.figure(i) for i in history[-EVAL_HISTORY:]])]
        groups.append(f'<div class="group q"><h3>query</h3><div>{_e(row["query"])}</div></div>')
        if pred.get("retrieved") is not None:
            groups.append(_group("retrieved", [items.figure(i) for i in pred["retrieved"]]))
        gen = pred.get("image")
        if gen and (run_dir / gen).is_file():
            rel = Path(os.path.relpath(run_dir / gen, gallery_dir)).as_posix()
            fig = f'<figure><img src="{_e(rel)}" alt="generated"><figcaption>generated</figcaption></figure>'
        else:
            fig = '<figure><span class="none">missing</span><figcaption>generated</figcaption></figure>'
        groups.append(_group("generated", [fig], "gen"))
        groups.append(_group("target", [items.figure(row["target_item"])], "tgt"))
        cards.append(f'<div class="inst"><div class="meta">{_e(row["id"])} · user {_e(row["user"])}</div>'
                     f'<div class="row">{"".join(groups)}</div></div>')
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_e(task_split)} gallery</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(task_split)}: {min(n, len(instances))} of {len(instances)} instances</h1>"
        + "\n".join(cards) + "\n</body></html>\n"
    )
    out = gallery_dir / f"{task_split}.html"
    io.write_text(out, page)
    return out
