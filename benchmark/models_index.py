"""Every model the CLI knows, by name: "module:Class" and a one-line description (nothing imported)."""
from benchmark.registry import MODELS, register

# simple baselines, RecBole baselines and UniMP are registered here as they land
__all__ = ["MODELS", "register"]
