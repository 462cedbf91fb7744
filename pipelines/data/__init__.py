"""Data sources for the pipelines: the deterministic synthetic recommendation datasets."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
