"""Validation diagnostics of a trained UniMP: has it learned ratings beyond their marginal shares, and
how well does it recommend on the whole validation split (model selection sees only `n_valid`)?
Validation data only, so the figures can guide config choices.

    python -m models.unimp.probe RUN/model/unimp [--data data/world-default] [--n-rating 1024]
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from benchmark.api import PreparedDataset

from .adapter import UniMPModel, hit_rate
from .decode import rank_items, rating_probabilities, readout_maes


def rating_probe(model, data, split: str = "valid", n: int = 1024) -> dict:
    """The rating-token distribution on `split`'s first n rating instances: the mean predicted shares
    vs the true ones, the spread of P("5"), its AUC for "the rating is 5" (0.5 = no signal) and the
    MAE of every read-out."""
    valid = data.instances("rating", split).iloc[:n]
    if valid.empty:
        raise ValueError(f"{data.root}: no rating instances in split {split!r}")
    p = np.asarray(rating_probabilities(model.model, model.builder, valid, model.cfg.eval_batch_size))
    y = valid["target_rating"].to_numpy(dtype=np.float64)
    return {"n": len(valid), "mean_probs": p.mean(0).round(4).tolist(),
            "true_shares": (np.bincount(y.astype(int), minlength=6)[1:] / len(y)).round(4).tolist(),
            "sd_p5": round(float(p[:, 4].std()), 4), "auc_p5": round(auc(p[:, 4], y == 5), 4),
            "mae": {r: round(v, 4) for r, v in readout_maes(p, y).items()}}


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum formula (ties share their mean rank)."""
    from scipy.stats import rankdata  # heavy: scipy

    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def recommendation_probe(model, data, split: str = "valid") -> dict:
    """HR@5 over every recommendation instance of `split` (history and off-catalogue items removed)."""
    rec = data.instances("recommendation", split)
    scores = rank_items(model.model, model.builder, rec, "recommendation", model.cfg.eval_batch_size)
    return {"n": len(rec), "hr@5": round(hit_rate(scores, rec, data.catalogue_mask(split)), 4)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="a saved UniMP folder (a run's model/unimp)")
    ap.add_argument("--data", default="data/world-default")
    ap.add_argument("--n-rating", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    data = PreparedDataset(args.data)
    m = UniMPModel({"checkpoint": args.checkpoint, "torch_threads": args.threads})
    m.fit(data, "main")
    print(json.dumps({"checkpoint": args.checkpoint, "rating": rating_probe(m, data, n=args.n_rating),
                      "recommendation": recommendation_probe(m, data)}, indent=1))


if __name__ == "__main__":
    main()
