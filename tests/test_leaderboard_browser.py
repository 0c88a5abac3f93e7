"""index.html in a real browser: headless Chromium loads the built page from file:// (offline), and the
page's own #selftest hook sorts every table and switches tabs, recording the outcome in data-*
attributes that --dump-dom shows.

Needs Debian's chromium (`apt-get install -y chromium`); skipped, with the reason, when it is absent.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from benchmark.data.io import write_text
from benchmark.tasks import TASKS
from leaderboard.index import make_row, read_index, write_index
from leaderboard.render_html import render_html
from leaderboard.tables import Submission

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")

SHAS = ("1" * 64, "2" * 64)


def _entry(task: str, status: str, scores: dict, intervals: dict, main: str) -> dict:
    return {"task": task, "task_version": TASKS[task].version, "split": "test", "status": status, "error": None, "n": 10,
            "scores": scores, "intervals": intervals, "main_score": main, "extra": {},
            "predictions": f"predictions/{task}__test.jsonl" if status == "ok" else None,
            "predictions_sha256": "0" * 64 if status == "ok" else None, "wall_time_s": 0.0}


def write_submission(lb: Path, model: str, run_id: str, sha: str, hr5: float | None, mae: float) -> None:
    """An index row only: all that the page is rendered from."""
    rec = (_entry("recommendation", "ok", {"hr@3": hr5 / 2, "hr@5": hr5, "ndcg@5": hr5 / 3},
                  {"hr@5": [max(0.0, hr5 - 0.05), hr5 + 0.05]}, "hr@5") if hr5 is not None
           else _entry("recommendation", "unsupported", {}, {}, "hr@5"))
    rating = _entry("rating", "ok", {"mae": mae, "rmse": mae * 1.2, "invalid_rate": 0.0}, {"mae": [mae - 0.1, mae + 0.1]}, "mae")
    doc = {
        "schema_version": 1, "run_id": run_id, "created": "2026-11-21T15:00:00+00:00",
        "model": {"name": model, "revision": "1", "config": {}},
        "dataset": {"name": f"data-{sha[0]}", "sha256": sha, "seed": 0, "scale": "tiny", "source": "generated"},
        "seed": 0, "perturbation": None,
        "environment": {"python": "3.11", "platform": "linux", "packages": {}, "git": None},
        "wall_time_s": 1.0, "results": [rec, rating]}
    meta = {"name": model, "revision": "1", "parameters": None, "training_data": None,
            "license": None, "reference": None, "ablation": None}
    rows, problems = read_index(lb)
    assert problems == []
    write_index(lb, rows + [make_row(doc, meta, "f" * 64, 1)])


class DomSummary(HTMLParser):
    """Collects the attributes of <body>, each table's, each section's, and counts SVG plots."""

    def __init__(self):
        super().__init__()
        self.body: dict = {}
        self.tables: dict[str, dict] = {}
        self.sections: dict[str, dict] = {}
        self.svgs = 0
        self.circles = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "table" and "id" in a:
            self.tables[a["id"]] = a
        elif tag == "section" and "id" in a:
            self.sections[a["id"]] = a
        elif tag == "svg":
            self.svgs += 1
        elif tag == "circle":
            self.circles += 1


def dump_dom(page: Path, tmp_path: Path, fragment: str = "") -> str:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chrome-profile'}", "--virtual-time-budget=3000", "--dump-dom",
           page.resolve().as_uri() + fragment]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    lb = tmp_path_factory.mktemp("lb")
    write_submission(lb, "mid", "r1", SHAS[0], 0.20, 0.9)
    write_submission(lb, "best", "r1", SHAS[0], 0.35, 1.1)
    write_submission(lb, "low", "r1", SHAS[0], 0.05, 0.7)
    write_submission(lb, "none", "r1", SHAS[0], None, 1.5)     # recommendation unsupported: sorts last
    write_submission(lb, "other", "r1", SHAS[1], 0.10, 0.8)    # a second dataset: a second tab
    # the page's behaviour, rendered from the rows as they are (the build would first recompute them)
    rows = read_index(lb)[0]
    write_text(lb / "index.html", render_html([Submission(r["id"], r, r["model_meta"]) for r in rows]))
    return lb / "index.html"


def test_page_renders_tables_and_plots(page, tmp_path):
    dom = DomSummary()
    dom.feed(dump_dom(page, tmp_path))
    assert dom.body.get("data-js") == "ready"                   # the inline script ran from file://
    assert set(dom.sections) == {"ds-0", "ds-1"}
    assert {"ds-0-table1", "ds-0-table2b", "ds-1-table1"} <= set(dom.tables)
    assert dom.svgs == 4 and dom.circles == 3 + 4 + 1 + 1       # recommendation + rating plot per dataset
    assert "hidden" not in dom.sections["ds-0"] and "hidden" in dom.sections["ds-1"]  # first tab shown


def test_selftest_sorts_tables_and_switches_tabs(page, tmp_path):
    html_text = dump_dom(page, tmp_path, "#selftest")
    dom = DomSummary()
    dom.feed(html_text)
    assert dom.body.get("data-selftest") == "done"
    t1 = dom.tables["ds-0-table1"]
    assert t1["data-selftest-text-first"] == "best"             # Model column, A to Z
    assert float(t1["data-selftest-main-first"]) == pytest.approx(0.35)           # HR@5, best first
    assert float(t1["data-selftest-main-reversed-first"]) == pytest.approx(0.05)  # reversed; "unsupported" stays last
    t2b = dom.tables["ds-0-table2b"]
    assert float(t2b["data-selftest-main-first"]) == pytest.approx(0.7)           # MAE: lower is better first
    assert float(t2b["data-selftest-main-reversed-first"]) == pytest.approx(1.5)
    assert dom.body["data-selftest-tabs"] == "ds-1"             # after clicking the last tab only it shows


def test_page_is_self_contained(page):
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<script src" not in text and "<link" not in text
    json.dumps(text)  # plain text, nothing binary
