"""Settings of the RecBole baselines (stdlib only, so `unimp-bench models NAME` imports neither torch
nor recbole). Each is a key of RecBole's own Config, handed to it as given; the defaults shown are
RecBole 1.2's documented ones (tests check them against RecBole's Config). `threads` and `tensorboard` are ours (OURS)."""
from __future__ import annotations

from dataclasses import dataclass

OURS = ("threads", "tensorboard")  # settings the harness applies itself, never handed to RecBole's Config


@dataclass
class RecBoleSettings:
    epochs: int = 300               # training epochs at most (early stopping usually ends sooner)
    stopping_step: int = 10         # validations without a gain in valid MRR@10 before training stops
    eval_step: int = 1              # training epochs between two validations
    train_batch_size: int = 2048    # training batch size
    eval_batch_size: int = 4096     # batch size of RecBole's validation passes
    learner: str = "adam"           # optimizer: adam, sgd, adagrad, rmsprop or sparse_adam
    learning_rate: float = 0.001    # the optimizer's learning rate
    weight_decay: float = 0.0       # L2 penalty of the optimizer
    clip_grad_norm: dict | None = None  # torch clip_grad_norm_ arguments, e.g. {"max_norm": 5}; null = no clipping
    threads: int | None = None      # torch threads while training and scoring (null = torch's default)
    tensorboard: bool = False       # RecBole's TensorBoard curves into RUN/model/tensorboard/ (off: none written)


@dataclass
class MFSettings(RecBoleSettings):
    embedding_size: int = 64        # size of the user and item embeddings


@dataclass
class LightGCNSettings(MFSettings):
    n_layers: int = 2               # graph convolution layers
    reg_weight: float = 1e-05       # L2 weight of the embeddings in the loss


@dataclass
class SequentialSettings(RecBoleSettings):
    MAX_ITEM_LIST_LENGTH: int = 50  # most recent history items read (clipped to the longest exported history)
    loss_type: str = "CE"           # CE (scores every item) or BPR (one sampled negative)


@dataclass
class HGNSettings(SequentialSettings):
    embedding_size: int = 64        # size of the user and item embeddings
    pooling_type: str = "average"   # pooling of the gated item embeddings: average or max
    reg_weight: tuple[float, float] = (0.0, 0.0)  # L2 weights of the two gating layers


@dataclass
class GRU4RecSettings(SequentialSettings):
    embedding_size: int = 64        # size of the item embeddings
    hidden_size: int = 128          # GRU hidden state size
    num_layers: int = 1             # GRU layers
    dropout_prob: float = 0.3       # dropout on the item embeddings


@dataclass
class TransformerSettings(SequentialSettings):
    n_layers: int = 2               # transformer layers
    n_heads: int = 2                # attention heads per layer
    hidden_size: int = 64           # size of the item embeddings and hidden states
    inner_size: int = 256           # feed-forward width inside a layer
    hidden_dropout_prob: float = 0.5  # dropout on hidden states
    attn_dropout_prob: float = 0.5  # dropout on attention scores
    hidden_act: str = "gelu"        # feed-forward activation: gelu, relu, swish, tanh or sigmoid
    layer_norm_eps: float = 1e-12   # epsilon of the layer norms
    initializer_range: float = 0.02  # standard deviation of the normal weight initialisation


@dataclass
class SASRecSettings(TransformerSettings):
    pass


@dataclass
class BERT4RecSettings(TransformerSettings):
    hidden_dropout_prob: float = 0.2
    attn_dropout_prob: float = 0.2
    mask_ratio: float = 0.2         # share of history items replaced by the mask token in training
    ft_ratio: float = 0.5           # share of training sequences that mask only the last item (fine-tuning)


@dataclass
class S3RecSettings(TransformerSettings):
    pretrain_epochs: int = 500      # self-supervised pre-training epochs before fine-tuning
    mask_ratio: float = 0.2         # share of items masked in pre-training
    aap_weight: float = 0.2         # weight of the associated-attribute prediction loss
    mip_weight: float = 1.0         # weight of the masked-item prediction loss
    map_weight: float = 1.0         # weight of the masked-attribute prediction loss
    sp_weight: float = 0.5          # weight of the segment prediction loss
