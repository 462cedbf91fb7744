"""The search space: per-feature Embedding Blocks and the choices over them.

``SearchSpace`` (``search_space``) holds one ``FeatureSearchSpace`` (``feature``) per
feature; ``budget`` keeps configurations within the memory budget and ``memory_plan``
checks that the supernet of a space fits the machine.
"""
from trainer_module.search.space.feature import DEFAULT_VOCAB_FRACTIONS, FeatureSearchSpace
from trainer_module.search.space.search_space import SearchSpace

__all__ = ["DEFAULT_VOCAB_FRACTIONS", "FeatureSearchSpace", "SearchSpace"]
