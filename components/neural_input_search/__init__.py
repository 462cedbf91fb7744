"""NeuralInputSearch: a Tuner-like TFX component that searches multi-size embeddings (NIS).

Usage::

    from components.neural_input_search import NeuralInputSearch
    nis = NeuralInputSearch(examples=transform.outputs['transformed_examples'],
                            transform_graph=transform.outputs['transform_graph'],
                            budget=100_000, mode='ME', task='ranking',
                            custom_config={'dataset': dataset_config.to_dict()})
    nis.outputs['embedding_spec']   # MultiSizeEmbeddingSpec
    nis.outputs['search_results']   # SearchResults
"""

from components.neural_input_search.component import (  # noqa: E402,F401
    NeuralInputSearch, NeuralInputSearchSpec)
