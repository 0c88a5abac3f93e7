"""Honest simple baselines: one small module per model, all behind `benchmark.api.Model` (registered in
`benchmark.api.registry`)."""
