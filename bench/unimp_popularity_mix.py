"""Category search: how much does a trained UniMP's ranking add to popularity inside the query's category?

Ranks the search task's candidates (the query's category, history removed: the task's own rule) by UniMP's
log-probability plus lam * log(1 + the item's training count), for a grid of lam, on the validation and the test
split, and prints HR@5 for each. lam = 0 is UniMP as scored by `unimp-bench run`; a large lam is popularity with
UniMP breaking its ties. Choose lam on valid; test is printed beside it only to show whether the choice holds.
A diagnostic, not a model: it is not submitted anywhere.

    python bench/unimp_popularity_mix.py --checkpoint RUN/model/unimp [--data data/world-default]
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

LAMBDAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 1e3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True, help="a UniMP run's model/unimp folder")
    ap.add_argument("--data", default="data/world-default")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    from benchmark.data.dataset import PreparedDataset
    from benchmark.data.labels import default_labels_dir
    from benchmark.metrics import ranking
    from benchmark.tasks.base import histories
    from benchmark.tasks.search import TASK
    from models.unimp.adapter import UniMPModel

    torch.set_num_threads(args.threads)
    data = PreparedDataset(args.data, labels=default_labels_dir(args.data))  # test answers: to score here
    model = UniMPModel({"checkpoint": args.checkpoint})
    model.fit(data, "main")  # loads the checkpoint
    model.set_inference_data(data)
    counts = np.bincount(data.interactions("train")["item"].to_numpy(np.int64), minlength=data.n_items)
    log_pop = np.log1p(counts).astype(np.float32)
    report = {}
    for split in ("valid", "test"):
        inst = data.instances("search", split)
        scores = model.rank("search", inst)
        allowed = TASK.candidates.mask(data, split, inst)
        target = inst["target_item"].to_numpy(np.int64)
        report[split] = {}
        for lam in LAMBDAS:
            top = ranking.topk_after_masking(scores + lam * log_pop[None], 5, histories(inst), allowed)
            report[split][f"{lam:g}"] = round(float((top == target[:, None]).any(1).mean()), 4)
    best = max(report["valid"], key=report["valid"].get)
    report["chosen_on_valid"] = {"lambda": best, "valid": report["valid"][best], "test": report["test"][best]}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
