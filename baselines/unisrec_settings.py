"""Settings of the UniSRec-style baseline (stdlib only). RecBole keys as for SASRec; the adaptor and scoring
keys follow Hou et al. (KDD 2022): 8 experts, adaptor dropout 0.2, temperature 0.07."""
from __future__ import annotations

from dataclasses import dataclass

from baselines.recbole_settings import TransformerSettings


@dataclass
class UniSRecSettings(TransformerSettings):
    hidden_size: int = 300          # size of the adapted item representations and hidden states (paper: 300)
    inner_size: int = 256           # feed-forward width inside a layer
    n_exps: int = 8                 # parametric whitening experts in the MoE adaptor
    adaptor_dropout_prob: float = 0.2  # dropout on the frozen text embeddings before the adaptor
    temperature: float = 0.07       # softmax temperature of the cosine scores
    use_id_embedding: bool = True   # transductive setting: add a learned item ID embedding to the text one
