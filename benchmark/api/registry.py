"""The one model registry: name -> "module:Class", the one-line description `unimp-bench models` prints and
the settings dataclass ("module:Class" in a light module: `unimp-bench models NAME` and the pre-run config
check import only it). Listing imports no model (no torch, no recbole); `load` imports the one asked for.

To add a model: write its class (a `benchmark.api.Model`) and its settings dataclass, and add one `register`
line below.
"""
from __future__ import annotations

import importlib
from typing import NamedTuple


class Entry(NamedTuple):
    target: str         # "module:Class" of the model
    description: str
    settings: str       # "module:Class" of its settings dataclass (see benchmark.api.config_schema)
    verbs: tuple[str, ...] = ()  # the verbs the class implements (tests/test_configs.py checks), so that
    #                              `unimp-bench models NAME` lists its tasks without importing it
    family: str = "simple"  # one of FAMILIES: the group its row sits in in the demo's tables


# The paper's four families of baselines (section 4.1), the unified model, and our simple baselines.
FAMILIES = ("simple", "general", "sequential", "generative", "multi-modal", "unified")


MODELS: dict[str, Entry] = {}
NO_SETTINGS = "benchmark.api.config_schema:NoSettings"


def register(name: str, target: str, description: str, settings: str = NO_SETTINGS, verbs: tuple[str, ...] = (),
             family: str = "simple") -> None:
    if name in MODELS and MODELS[name].target != target:
        raise ValueError(f"model {name!r} is already registered ({MODELS[name].target})")
    if family not in FAMILIES:
        raise ValueError(f"model {name!r}: family must be one of {FAMILIES}, got {family!r}")
    MODELS[name] = Entry(target, description, settings, tuple(verbs), family)


def _known(name: str) -> Entry:
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))} (see `unimp-bench models`)")
    return MODELS[name]


def _import(target: str):
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def load(name: str):
    """The model class registered under `name`."""
    return _import(_known(name).target)


def settings(name: str):
    """The settings dataclass of the model `name`, without importing the model."""
    return _import(_known(name).settings)


# honest simple baselines (baselines/simple)
register("random", "baselines.simple.random_model:RandomModel",
         "Seeded uniform random scores (recommendation, search, selection) and ratings 1-5.",
         verbs=("rank", "predict_rating"))
register("pop", "baselines.simple.pop:PopModel",
         "Most popular items on the regime's training interactions.",
         verbs=("rank",))
register("bm25", "baselines.simple.bm25:BM25Model",
         "BM25Okapi over item text with the search query (the paper's Table 2(d) BM25 row).",
         verbs=("rank",))
register("bm25-personal", "baselines.simple.bm25:BM25PersonalModel",
         "BM25 query match mixed with BM25 similarity to the user's history; weight chosen on valid.",
         settings="baselines.simple.settings:BM25PersonalSettings",
         verbs=("rank",))
register("mean-rating", "baselines.simple.mean_rating:MeanRatingModel",
         "Global mean + regularised user and item biases; lambda chosen on valid.",
         settings="baselines.simple.settings:MeanRatingSettings",
         verbs=("predict_rating",))
register("mean-rating-star", "baselines.simple.mean_rating:MeanRatingStarModel",
         "mean-rating's biases read out as whole stars for MAE; lambda and offset chosen on valid.",
         settings="baselines.simple.settings:MeanRatingSettings",
         verbs=("predict_rating",))
register("nearest-review", "baselines.simple.nearest_review:NearestReviewModel",
         "Explanation: another user's training review of the most similar item (TF-IDF over item text).",
         settings="baselines.simple.settings:NearestReviewSettings",
         verbs=("generate_text",))
register("retrieved-image", "baselines.image_baselines:RetrievedImageModel",
         "Image task: the image of the most popular non-history item whose category equals the query.",
         verbs=("generate_images",))
# RecBole's own models on the frozen splits (baselines/recbole_models.py)
register("mf", "baselines.recbole_models:MFModel", "Matrix factorisation with BPR (RecBole BPR); no new users.",
         settings="baselines.recbole_settings:MFSettings",
         family="general", verbs=("rank",))
register("lightgcn", "baselines.recbole_models:LightGCNModel", "LightGCN (RecBole, BPR loss); no new users.",
         settings="baselines.recbole_settings:LightGCNSettings",
         family="general", verbs=("rank",))
register("hgn", "baselines.recbole_models:HGNModel", "Hierarchical gating network (RecBole HGN); no new users.",
         settings="baselines.recbole_settings:HGNSettings",
         family="sequential", verbs=("rank",))
register("gru4rec", "baselines.recbole_models:GRU4RecModel", "GRU4Rec recurrent sequential recommender (RecBole, CE).",
         settings="baselines.recbole_settings:GRU4RecSettings",
         family="sequential", verbs=("rank",))
register("sasrec", "baselines.recbole_models:SASRecModel", "SASRec self-attentive sequential recommender (RecBole, CE).",
         settings="baselines.recbole_settings:SASRecSettings",
         family="sequential", verbs=("rank",))
register("bert4rec", "baselines.recbole_models:BERT4RecModel", "BERT4Rec masked-item sequential recommender (RecBole, CE).",
         settings="baselines.recbole_settings:BERT4RecSettings",
         family="generative", verbs=("rank",))
register("s3rec", "baselines.recbole_models:S3RecModel",
         "S3-Rec: self-supervised pre-training on item categories, then fine-tuning (RecBole).",
         settings="baselines.recbole_settings:S3RecSettings",
         family="sequential", verbs=("rank",))
# Cornac's visually-aware recommenders on the shared frozen image features (baselines/cornac_models.py)
register("vbpr", "baselines.cornac_models:VBPRModel",
         "VBPR (Cornac): BPR-MF plus a visual factor from the frozen image features; no new users.",
         settings="baselines.cornac_settings:VBPRSettings",
         family="multi-modal", verbs=("rank",))
register("causalrec", "baselines.cornac_models:CausalRecModel",
         "CausalRec (Cornac): VBPR with counterfactual removal of the visual bias; no new users.",
         settings="baselines.cornac_settings:CausalRecSettings",
         family="multi-modal", verbs=("rank",))
register("amr", "baselines.cornac_models:AMRModel",
         "AMR (Cornac): VBPR-style model trained adversarially on the image features; no new users.",
         settings="baselines.cornac_settings:AMRSettings",
         family="multi-modal", verbs=("rank",))
register("unisrec", "baselines.unisrec:UniSRecModel",
         "UniSRec-style (Hou et al. 2022): frozen MiniLM item text, MoE whitening adaptor, SASRec-style encoder.",
         settings="baselines.unisrec_settings:UniSRecSettings",
         family="generative", verbs=("rank",))
# P5/VIP5-style unified seq2seq, trained from scratch here: NOT the published P5/VIP5 (baselines/p5_style.py)
register("p5-style", "baselines.p5_style:P5StyleModel",
         "NOT the published P5: a small T5 trained from scratch on our prompts (recommend, rate, explain).",
         settings="baselines.p5_settings:P5Settings", family="generative",
         verbs=("rank", "predict_rating", "generate_text"))
register("vip5-style", "baselines.p5_style:VIP5StyleModel",
         "NOT the published VIP5: p5-style with frozen image features as visual prefix tokens.",
         settings="baselines.p5_settings:VIP5Settings", family="generative",
         verbs=("rank", "predict_rating", "generate_text"))
# UniMP (models/unimp)
register("unimp", "models.unimp.adapter:UniMPModel",
         "UniMP (Wei et al., ICLR 2024): LM + perceiver + gated exclusive cross-attention, multi-task.",
         settings="models.unimp.config:UniMPSettings",
         verbs=("rank", "select", "predict_rating", "generate_text", "generate_images"), family="unified")
