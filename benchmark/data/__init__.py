"""The data layer: prepared-dataset layout and reading, raw sources, the embedded world, processing."""
