"""Settings of the Cornac multi-modal baselines (stdlib only: `unimp-bench models NAME` imports neither
torch nor cornac). The model keys are Cornac 3.0.1's own constructor arguments with its documented
defaults, except `epochs` (Cornac's `n_epochs`: here the most epochs, early stopping on validation ends
sooner). The image encoder keys are shared by every image-aware model (`benchmark.api.image_features`)."""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.api.image_features import ImageEncoderSettings


@dataclass
class CornacSettings(ImageEncoderSettings):
    epochs: int = 200               # training epochs at most (early stopping usually ends sooner)
    eval_step: int = 1              # training epochs between two validations (valid MRR@10)
    stopping_step: int = 10         # validations without a gain in valid MRR@10 before training stops
    k: int = 10                     # size of the collaborative (gamma) latent factors
    k2: int = 10                    # size of the visual (theta) latent factors
    batch_size: int = 100           # BPR triples per step
    learning_rate: float = 0.005    # Adam learning rate
    lambda_w: float = 0.01          # L2 weight of the latent factors
    lambda_b: float = 0.01          # L2 weight of the item biases
    lambda_e: float = 0.0           # L2 weight of the visual projection
    threads: int | None = None      # torch threads while training (null = torch's default)


@dataclass
class VBPRSettings(CornacSettings):
    pass


@dataclass
class CausalRecSettings(CornacSettings):
    tanh: int = 0                   # tanh layers on the visual feature transformation (0, 1 or 2)
    lambda_2: float = 0.8           # weight of the visual-bias elimination term at inference


@dataclass
class AMRSettings(CornacSettings):
    lambda_adv: float = 1.0         # weight of the adversarial loss on the image features
