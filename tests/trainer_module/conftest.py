"""Puts this folder's test helpers (importable by name) on ``sys.path`` for the tests below it."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
