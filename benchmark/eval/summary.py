"""Paper-style Markdown tables (Tables 1, 2(a-d), 4 and the image task) from one or more result files."""
from __future__ import annotations

TABLES = [  # (title, task, split, metrics)
    ("Table 1 - recommendation (test, full ranking)", "recommendation", "test",
     ("hr@3", "ndcg@3", "mrr@3", "hr@5", "ndcg@5", "mrr@5", "hr@10", "ndcg@10")),
    ("Table 2(a) - explanation (test)", "explanation", "test",
     ("bleu-1", "bleu-4", "rouge-1", "rouge-2", "rouge-l", "meteor", "bertscore-f1")),
    ("Table 2(b) - rating (test)", "rating", "test", ("mae", "rmse", "invalid_rate")),
    ("Table 2(c) - selection (test)", "selection", "test", ("recall", "precision", "f1")),
    ("Table 2(d) - search (test)", "search", "test", ("hr@5", "ndcg@5", "mrr@5")),
    ("Table 4 - new users (recommendation)", "recommendation", "new_user", ("hr@5", "ndcg@5", "mrr@5")),
    ("Table 4 - new domain, Office_Products (recommendation)", "recommendation", "new_domain",
     ("hr@5", "ndcg@5", "mrr@5")),
    ("Image generation (test)", "image", "test", ("psnr", "ssim", "attribute_match", "frechet", "personalization", "token_nll")),
]


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


def summary_markdown(docs: list[dict]) -> str:
    lines = ["# Results", "", "Values with a paired-bootstrap 95% interval in brackets where computed; "
             "'unsupported' = the model lacks the verb the task needs (never scored as 0).", ""]
    for title, task, split, metrics in TABLES:
        rows = []
        for doc in docs:
            entry = next((r for r in doc["results"] if r["task"] == task and r["split"] == split), None)
            if entry is not None:
                rows.append("| " + _label(doc) + " | " + " | ".join(_cell(entry, m) for m in metrics) + " |")
        if not rows:
            continue
        lines += [f"## {title}", "", "| model | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
        lines += rows + [""]
    return "\n".join(lines)
