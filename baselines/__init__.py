"""Baselines of the benchmark (RecBole's recommenders on the frozen splits, ...)."""
