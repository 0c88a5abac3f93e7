"""Settings of p5-style and vip5-style (stdlib only). Sizes are ours (small, trained from scratch on CPU);
the published P5/VIP5 start from pretrained T5-small/base."""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.api.image_features import ImageEncoderSettings


@dataclass
class P5Settings:
    t5_path: str | None = None      # local T5 checkpoint folder (model + tokenizer); null = a small T5 from scratch
    d_model: int = 128              # hidden size of the T5 from scratch
    d_ff: int = 256                 # feed-forward width
    num_layers: int = 2             # encoder layers (and as many decoder layers)
    num_heads: int = 4              # attention heads
    dropout: float = 0.1            # T5 dropout rate
    max_vocab: int = 8000           # most frequent training words kept (from scratch; words seen once are dropped)
    max_history: int = 20           # most recent history items written into the prompt
    max_input: int = 128            # prompt tokens at most
    max_output: int = 30            # explanation words at most (generation and training targets)
    epochs: int = 30                # training epochs at most (early stopping usually ends sooner)
    stopping_step: int = 3          # epochs without a gain in valid recommendation MRR@10 before training stops
    examples_per_epoch: int | None = None  # training instances per epoch, freshly sampled (null = all): on CPU,
                                    # validates more often so early stopping can end sooner
    batch_size: int = 64            # training instances per step (the three tasks mixed)
    learning_rate: float = 0.001    # AdamW learning rate
    threads: int | None = None      # torch threads (null = torch's default)


@dataclass
class VIP5Settings(P5Settings, ImageEncoderSettings):
    visual_items: int = 5           # visual prefix tokens: the last history items' images (and the asked item's)
