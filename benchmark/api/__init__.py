"""The model-facing API: the Model base class and its verbs, and the model registry."""
from benchmark.api.model import IMAGE_TOKEN_SCORES, REGIME_SPLITS, VERBS, Model, regime_of

__all__ = ["IMAGE_TOKEN_SCORES", "REGIME_SPLITS", "VERBS", "Model", "regime_of"]
