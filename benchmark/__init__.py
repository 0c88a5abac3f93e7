"""unimp-bench: a reproducible benchmark for unified multi-modal personalization (UniMP, ICLR 2024)."""

__version__ = "0.3.0"
