"""Paper-style Markdown tables (one per task and evaluated split it declares) from one or more result files."""
from __future__ import annotations

from benchmark.tasks import TASKS

SPLIT_LABELS = {"test": "test", "new_user": "new users", "new_domain": "new domain, Office_Products"}


def tables() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(title, task, split, metrics) of every summary table, from the task declarations."""
    return [(f"{spec.title} ({SPLIT_LABELS.get(split, split)})", spec.name, split, spec.table_metrics)
            for spec in TASKS.values() for split in spec.table_splits]


def _label(doc: dict) -> str:
    name = doc["model"]["name"]
    return name + (f" ({doc['perturbation']})" if doc.get("perturbation") else "")


def _cell(entry: dict | None, metric: str) -> str:
    if entry is None:
        return "-"
    if entry["status"] != "ok":
        return entry["status"]
    v = entry["scores"].get(metric)
    if v is None:
        return "-"
    ci = entry["intervals"].get(metric)
    return f"{v:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else f"{v:.4f}"


def summary_markdown(docs: list[dict], families: dict[str, str] | None = None) -> str:
    """With `families` (model name -> family, in the order the families should appear), each table has a
    family column and its rows are grouped by family."""
    lines = ["# Results", "", "Values with a percentile-bootstrap 95% interval in brackets where computed; "
             "tasks a model does not support are listed once at the end (never scored as 0); 'unscored' = "
             "predictions written, but the split's sealed answers (the dataset's labels folder) were not at hand.", ""]
    unsupported = []
    if families:
        order = list(dict.fromkeys(families.values()))
        docs = sorted(docs, key=lambda d: order.index(families.get(d["model"]["name"], order[-1])))
    for title, task, split, metrics in tables():
        rows = []
        for doc in docs:
            entry = next((r for r in doc["results"] if r["task"] == task and r["split"] == split), None)
            if entry is not None and entry["status"] == "unsupported":  # one line at the end, not a row of them
                why = entry.get("error") or f"the model lacks the verb `{TASKS[task].verb}` the task needs"
                unsupported.append(f"- {_label(doc)}: {task} ({split}) unsupported: {why}")
            elif entry is not None:
                family = f"{families.get(doc['model']['name'], '-')} | " if families else ""
                rows.append("| " + family + _label(doc) + " | " + " | ".join(_cell(entry, m) for m in metrics) + " |")
        if not rows:
            continue
        head = "| family | model | " if families else "| model | "
        lines += [f"## {title}", "", head + " | ".join(metrics) + " |",
                  "|---|" + ("---|" if families else "") + "---:|" * len(metrics)]
        lines += rows + [""]
    trained = [line for doc in docs for line in _training_lines(doc)]
    if trained:
        lines += ["## Training (epochs trained, best epoch on validation, why training stopped)", ""] + trained + [""]
    if unsupported:
        lines += ["## Not supported", ""] + unsupported + [""]
    return "\n".join(lines)


def _training_lines(doc: dict) -> list[str]:
    """One line per regime a model reported its training for (`details.stopping`: the RecBole models)."""
    out = []
    for regime, t in ((doc["model"].get("details") or {}).get("stopping") or {}).items():
        score = ", ".join(f"valid {k} {v:.4f}" for k, v in t.get("best_valid", {}).items())
        pre = f", after {t['pretrain_epochs']} pre-training epochs" if t.get("pretrain_epochs") else ""
        out.append(f"- {_label(doc)} ({regime}): {t['epochs']} epochs (best {t['best_epoch']}, {t['stop']}; "
                   f"{score}{pre})")
    return out
