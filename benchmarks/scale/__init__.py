"""``make bench-scale``: million-id data streamed to CSV, ExampleGen / Transform over it, the
searches and trainings measured in their own processes, and the Scale section of BENCHMARKS.md.

``synthetic_stream`` (the data), ``data`` (ExampleGen / Transform), ``step`` (supernet step
time at small vs large vocabularies), ``jobs`` and ``ps`` (searches, trainings, the
parameter-server cluster), ``report`` (the section) and ``cli`` (``python -m benchmarks.scale``).
"""
