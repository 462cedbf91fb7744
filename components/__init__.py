"""Custom TFX components and artifact types of the NIS suite."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
