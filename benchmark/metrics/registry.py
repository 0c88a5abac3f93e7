"""The one metric registry: every metric a task can declare, its direction, range and meaning.

Tasks name their metrics from here (`benchmark.tasks`); the scorer takes each metric's bootstrap
statistic from here; the leaderboard takes ranges and directions from here. Nothing else lists metrics.
"""
from __future__ import annotations

from dataclasses import dataclass

UNIT = (0.0, 1.0)


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    description: str
    range: tuple[float | None, float | None] = UNIT   # closed; None = unbounded on that side
    label: str = ""                                    # column header (default: the name)
    # How per-instance data becomes the score (benchmark.eval.scoring.statistic_for):
    # "mean" of per-instance values, "rmse" of squared errors, "bleu" of sacrebleu sufficient statistics.
    statistic: str = "mean"

    @property
    def header(self) -> str:
        return self.label or self.name


KS = (3, 5, 10)
_RANK = {"hr": "hit rate: the target is in the top k", "ndcg": "normalised DCG of the target's rank",
         "mrr": "reciprocal rank of the target, 0 beyond k"}
_ALL = [
    *(Metric(f"{m}@{k}", True, f"{text} (k={k})", label=f"{m.upper()}@{k}") for k in KS for m, text in _RANK.items()),
    Metric("recall", True, "share of the positives selected", label="Recall"),
    Metric("precision", True, "share of the selected that are positives", label="Precision"),
    Metric("f1", True, "harmonic mean of precision and recall", label="F1"),
    Metric("mae", False, "mean absolute error of the parsed rating (fallback for unparseable outputs)", (0.0, 4.0),
           label="MAE"),
    Metric("rmse", False, "root mean squared error of the parsed rating", (0.0, 4.0), label="RMSE", statistic="rmse"),
    # a second read-out of the same model, recorded beside its answer (the rating line's "expectation")
    Metric("mae-expectation", False, "MAE of the expectation read-out: sum of r * P(r) over the five rating "
           "tokens", (0.0, 4.0), label="MAE (expectation)"),
    Metric("rmse-expectation", False, "RMSE of the expectation read-out", (0.0, 4.0), label="RMSE (expectation)",
           statistic="rmse"),
    Metric("invalid_rate", False, "share of rating outputs that do not parse as 1-5", label="invalid rate"),
    Metric("bleu-1", True, "corpus BLEU with unigrams (sacrebleu), 0-1", statistic="bleu"),
    Metric("bleu-4", True, "corpus BLEU up to 4-grams (sacrebleu), 0-1", statistic="bleu"),
    Metric("rouge-1", True, "ROUGE-1 F-measure (Porter stemmer)"),
    Metric("rouge-2", True, "ROUGE-2 F-measure (Porter stemmer)"),
    Metric("rouge-l", True, "ROUGE-L F-measure (Porter stemmer)"),
    Metric("meteor", True, "METEOR (nltk, offline WordNet)"),
    Metric("bertscore-f1", True, "BERTScore F1 with a local model", (-1.0, 1.0)),
    Metric("psnr", True, "peak signal-to-noise ratio to the target image (dB)", (0.0, None)),
    Metric("ssim", True, "structural similarity to the target image", (-1.0, 1.0)),
    Metric("attribute_match", True, "the judge reads the target's colour/shape/pattern in the generated image"),
    Metric("frechet", False, "Frechet distance between generated and target image features (set-level)", (0.0, None)),
    Metric("personalization", True, "pairwise: a generated image is closer to its own target than to another user's target of the same query", (-1.0, 1.0)),
    Metric("token_nll", False, "teacher-forced NLL of the target's image tokens (nats per token)", (0.0, None)),
    Metric("token_accuracy", True, "teacher-forced accuracy on the target's image tokens"),
]
METRICS: dict[str, Metric] = {m.name: m for m in _ALL}

# Views of the registry that callers use by name.
RANKING_METRICS = tuple(f"{m}@{k}" for k in KS for m in _RANK)
LOWER_IS_BETTER = frozenset(m.name for m in _ALL if not m.higher_is_better)
# A token model's teacher-forced scores of the target image's codes, recorded per image (image.info).
IMAGE_TOKEN_SCORES = ("token_nll", "token_accuracy")


def higher_is_better(metric: str) -> bool:
    return METRICS[metric].higher_is_better
