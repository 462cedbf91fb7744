"""Data sources for the pipelines: the deterministic synthetic recommendation datasets."""
