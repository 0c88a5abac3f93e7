"""A small grid for the Cornac baselines (vbpr, causalrec, amr), chosen on VALIDATION only.

    python bench/tune_cornac.py --data data/world-default [--models vbpr,causalrec,amr]
        [--lr 0.001,0.005,0.02] [--k 10,32,64] [--lambda-w 0.01] [--threads 1] [--set key=value ...]

Each cell fits the model on the main regime (early stopping on valid MRR@10, the model's own rule) and
reads back the best valid MRR@10 (`describe()["cornac"]["main"]`); k2 (visual factors) follows k. The
table also gives pop's valid MRR@10, computed the same way (training items removed), as the bar to beat.
Test data is never read. The best cell per model is printed last, ready for `DEMO_CONFIGS` and configs/.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's benchmark and baselines


def pop_valid_mrr(data) -> float:
    """MRR@10 on the main valid interactions of training-count popularity, each user's training items removed."""
    from benchmark.api import REGIMES

    train = data.interactions(REGIMES["main"].train)
    valid = data.interactions(REGIMES["main"].valid)
    counts = np.bincount(train["item"].to_numpy(dtype=np.int64), minlength=data.n_items).astype(np.float64)
    seen = train.groupby("user")["item"].apply(lambda x: x.to_numpy(dtype=np.int64)).to_dict()
    rr = []
    for u, target in zip(valid["user"], valid["item"]):
        s = counts.copy()
        s[seen.get(u, [])] = -np.inf
        rank = int((s > s[int(target)]).sum())
        rr.append(1.0 / (rank + 1) if rank < 10 else 0.0)
    return float(np.mean(rr))


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--models", default="vbpr,causalrec,amr")
    ap.add_argument("--lr", default="0.001,0.005,0.02", help="learning rates")
    ap.add_argument("--k", default="10,32,64", help="latent sizes (k = k2)")
    ap.add_argument("--lambda-w", default="0.01", help="L2 weights of the latent factors")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], help="another fixed setting, key=value (repeatable)")
    args = ap.parse_args(argv)

    from benchmark.api import PreparedDataset
    from benchmark.api.registry import load

    data = PreparedDataset(args.data)
    fixed = {"threads": args.threads}
    for kv in args.set:
        key, _, value = kv.partition("=")
        fixed[key] = float(value) if "." in value else int(value)
    print(f"pop: valid MRR@10 {pop_valid_mrr(data):.4f}")
    print("| model | learning_rate | k = k2 | lambda_w | valid MRR@10 | epochs at best | seconds |")
    print("|---|---|---|---|---|---|---|")
    best: dict[str, tuple[float, dict]] = {}
    for name in args.models.split(","):
        for lr, k, lw in itertools.product(_floats(args.lr), _floats(args.k), _floats(args.lambda_w)):
            cfg = {**fixed, "learning_rate": lr, "k": int(k), "k2": int(k), "lambda_w": lw}
            t0 = time.perf_counter()
            model = load(name)(cfg, seed=0)
            model.fit(data, "main")
            info = model.describe()["cornac"]["main"]
            mrr = info["best_valid_mrr10"]
            print(f"| {name} | {lr:g} | {int(k)} | {lw:g} | {mrr:.4f} | {info['epochs_at_best']} | "
                  f"{time.perf_counter() - t0:.0f} |", flush=True)
            if mrr > best.get(name, (-1.0, {}))[0]:
                best[name] = (mrr, cfg)
    for name, (mrr, cfg) in best.items():
        print(f"best {name}: valid MRR@10 {mrr:.4f} with {cfg}")


if __name__ == "__main__":
    main()
