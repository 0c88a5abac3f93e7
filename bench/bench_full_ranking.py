"""Full-ranking throughput at paper scale: unimp-bench's path vs RecBole's full-sort evaluation path.

Both paths see the same random score matrices (seeded), remove the same items (history, plus the
items outside the catalogue) and report HR/NDCG/MRR @3/5/10; the script checks that the metrics agree
and prints users/s for each.

    .venv/bin/python bench/bench_full_ranking.py [--users 10000] [--items 85000] [--batch 256]

unimp-bench: `topk_after_masking` (removal + top-k) then `ranking_metrics_from_topk`.
RecBole 1.2.1: what its Trainer does in `_full_sort_batch_eval` + `evaluate`: scores[history] = -inf,
`Collector.eval_batch_collect` (torch.topk + positional hit matrix), then `Evaluator.evaluate` with
metrics Hit/NDCG/MRR.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def make_batch(gen: torch.Generator, rng: np.random.Generator, b: int, n_items: int, allowed: np.ndarray,
               history: int):
    """Random scores (b, n_items) with the target lifted by U(0, 4) so hit rates are not ~0; ~`history`
    distinct history items per user; targets drawn from the catalogue, outside the history."""
    scores = torch.randn(b, n_items, generator=gen)
    catalogue = np.flatnonzero(allowed)
    targets = rng.choice(catalogue, size=b)
    hist = [np.setdiff1d(rng.choice(catalogue, size=history, replace=False), [t]) for t in targets]
    scores[torch.arange(b), torch.from_numpy(targets)] += 4 * torch.rand(b, generator=gen)
    return scores, hist, targets


def recbole_setup(ks=(3, 5, 10)):
    from benchmark.data import compat

    compat.apply()
    from recbole.evaluator import Collector, Evaluator

    # Collector and Evaluator only read these keys: a plain dict stands in for RecBole's Config.
    config = {"eval_args": {"mode": "full"}, "topk": list(ks), "device": torch.device("cpu"),
              "metrics": ["Hit", "NDCG", "MRR"], "metric_decimal_place": 12}
    return Collector(config), Evaluator(config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--items", type=int, default=85_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--history", type=int, default=8)
    ap.add_argument("--catalogue", type=float, default=6 / 7, help="fraction of items in the catalogue")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from benchmark.metrics.ranking import ranking_metrics_from_topk, topk_after_masking
    from benchmark.metrics.registry import RANKING_METRICS

    collector, evaluator = recbole_setup()
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    allowed = rng.random(args.items) < args.catalogue
    not_allowed = torch.from_numpy(~allowed)

    ours: dict[str, list[np.ndarray]] = {m: [] for m in RANKING_METRICS}
    t_ours = t_recbole = 0.0
    for b0 in range(0, args.users, args.batch):
        b = min(args.batch, args.users - b0)
        scores, hist, targets = make_batch(gen, rng, b, args.items, allowed, args.history)

        t = time.perf_counter()
        ranked = topk_after_masking(scores, 10, hist, allowed)
        for m, v in ranking_metrics_from_topk(ranked, targets).items():
            ours[m].append(v)
        t_ours += time.perf_counter() - t

        t = time.perf_counter()
        s = scores.clone()  # RecBole masks the model's output in place
        s[:, not_allowed] = -np.inf
        rows = torch.from_numpy(np.repeat(np.arange(b), [len(h) for h in hist]))
        s[rows, torch.from_numpy(np.concatenate(hist))] = -np.inf
        collector.eval_batch_collect(s, None, torch.arange(b), torch.from_numpy(targets))
        t_recbole += time.perf_counter() - t

    t = time.perf_counter()
    theirs = evaluator.evaluate(collector.get_data_struct())
    t_recbole += time.perf_counter() - t

    ours_mean = {m: float(np.concatenate(v).mean()) for m, v in ours.items()}
    rename = {"hr": "hit"}
    print(f"{args.users} users x {args.items} items (catalogue {allowed.sum()}), history {args.history}, "
          f"batch {args.batch}, torch threads {torch.get_num_threads()}")
    print(f"{'metric':<9}{'unimp-bench':>14}{'recbole':>14}")
    worst = 0.0
    for m in RANKING_METRICS:
        name, k = m.split("@")
        r = float(theirs[f"{rename.get(name, name)}@{k}"])
        worst = max(worst, abs(r - ours_mean[m]))
        print(f"{m:<9}{ours_mean[m]:>14.6f}{r:>14.6f}")
    print(f"unimp-bench: {args.users / t_ours:,.0f} users/s ({t_ours:.1f} s)")
    print(f"recbole:     {args.users / t_recbole:,.0f} users/s ({t_recbole:.1f} s)")
    print(f"max |difference| = {worst:.2e}")
    if worst > 1e-9:
        raise SystemExit("metrics disagree")


if __name__ == "__main__":
    main()
