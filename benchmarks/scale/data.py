"""Data of the scale benchmark: the streamed generator -> ExampleGen / Transform -> id arrays.

* ``generate``: ``benchmarks.scale.synthetic_stream`` writes the rows to ``NUM_SHARDS`` CSV
  shards; shards ``EVAL_SHARD`` and ``TEST_SHARD`` are the eval and test splits, the rest
  train (rows are i.i.d. across shards, so this is a random split).
* ``example_gen``: the CsvExampleGen executor (``Executor.Do``, the component's code) on one
  shard, Beam DirectRunner over the cores (``beam_args``).
* ``analyze``: the project's ``preprocessing_fn`` analysed by ``tft_beam.AnalyzeDataset`` over
  the train shards read by ``CsvTFXIO`` (Arrow record batches, the path TFX's Transform takes
  through a TFXIO source; not the benchmark's instance dicts), DirectRunner over the cores.
* ``load``: pandas reads the shards; ``value_counts`` of the same columns (the single-process
  lower bound of the analysis) must give the same vocabulary sizes; the transform graph maps
  every split to frequency-ordered ids (``benchmarks.data.apply_transform``, batched tensors).
  The arrays are saved as ``.npz`` so a measured subprocess can load them (``load_arrays``).
"""
from __future__ import annotations

import functools
import glob
import os
import time
from typing import Dict, List, Sequence

import numpy as np
import pandas as pd

from benchmarks import data as bdata
from benchmarks.scale import synthetic_stream as stream
from trainer_module.data import preprocessing

NUM_SHARDS = 20
EVAL_SHARD, TEST_SHARD = NUM_SHARDS - 2, NUM_SHARDS - 1
MAX_CHUNK_ROWS = 100_000
TASK_NAME = "synthetic_stream_ranking"


def beam_args(workers: int) -> List[str]:
    """DirectRunner flags: ``workers`` worker processes (multi-processing mode)."""
    return ["--runner=DirectRunner", "--direct_running_mode=multi_processing",
            f"--direct_num_workers={workers}"]


def chunk_rows(rows: int, num_shards: int = NUM_SHARDS) -> int:
    """Rows per generated chunk so that every shard holds about ``rows / num_shards`` rows."""
    per_shard = -(-rows // num_shards)
    return -(-per_shard // -(-per_shard // MAX_CHUNK_ROWS))


def split_shards(data_dir: str) -> Dict[str, List[str]]:
    """The shard files of each split."""
    files = sorted(glob.glob(os.path.join(data_dir, "part-*.csv")))
    if len(files) != NUM_SHARDS:
        raise ValueError(f"{data_dir} holds {len(files)} shards, expected {NUM_SHARDS}")
    return {"train": files[:EVAL_SHARD], "eval": [files[EVAL_SHARD]], "test": [files[TEST_SHARD]]}


def generate(out_dir: str, rows: int, sizes: stream.StreamSizes, seed: int = 0) -> Dict:
    """Writes the dataset (one process); returns wall/CPU seconds and rows/s."""
    if rows < NUM_SHARDS:
        raise ValueError(f"--rows must be at least {NUM_SHARDS} (one per shard), got {rows}")
    wall, cpu = time.perf_counter(), time.process_time()
    stream.write(out_dir, rows, seed, NUM_SHARDS, sizes, chunk_rows(rows))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"rows": rows, "wall_s": wall, "cpu_s": cpu, "rows_per_s": rows / wall,
            "processes": 1, "num_shards": NUM_SHARDS}


def example_gen(shard: str, out_dir: str, workers: int) -> Dict:
    """CsvExampleGen's executor on one shard (its own input split); wall seconds and rows/s."""
    from google.protobuf import json_format
    from tfx.components.example_gen.csv_example_gen.executor import Executor
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts

    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(out_dir, "examples")
    split = example_gen_pb2.Input.Split(name="slice", pattern=os.path.basename(shard))
    props = {"input_base": os.path.dirname(shard),
             "input_config": json_format.MessageToJson(example_gen_pb2.Input(splits=[split])),
             "output_config": json_format.MessageToJson(example_gen_pb2.Output()),
             "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE}
    context = BaseBeamExecutor.Context(beam_pipeline_args=beam_args(workers),
                                       tmp_dir=os.path.join(out_dir, "tmp"), unique_id="scale")
    rows = _count_rows([shard])
    start = time.perf_counter()
    Executor(context).Do({}, {"examples": [examples]}, props)
    wall = time.perf_counter() - start
    return {"rows": rows, "wall_s": wall, "rows_per_s": rows / wall, "workers": workers}


def analyze(files: Sequence[str], dataset, out_dir: str, workers: int) -> Dict:
    """``AnalyzeDataset`` + ``WriteTransformFn`` over ``files`` read by one ``CsvTFXIO``.

    The files are read as one file pattern (links in one directory), as the pipeline's
    Transform reads a split: under the multi-processing DirectRunner a ``Flatten`` of one
    source per file lost rows (``load`` then finds vocabularies smaller than pandas' counts).
    """
    import apache_beam as beam
    import tensorflow_transform.beam as tft_beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from tfx_bsl.public import tfxio

    columns = list(stream.FEATURES + (stream.LABEL,))
    fn = functools.partial(preprocessing.preprocessing_fn,
                           custom_config={"dataset": dataset.to_json()})
    rows = _count_rows(files)
    pattern = _one_pattern(files, os.path.join(out_dir, "input"))
    start = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(beam_args(workers))) as pipeline:
        with tft_beam.Context(temp_dir=os.path.join(out_dir, "tmp"), force_tf_compat_v1=False):
            reader = tfxio.CsvTFXIO(file_pattern=pattern, column_names=columns,
                                    schema=stream.make_schema(), skip_header_lines=1,
                                    telemetry_descriptors=["nis_scale_benchmark"])
            raw = pipeline | "Read" >> reader.BeamSource()
            transform_fn = ((raw, reader.TensorAdapterConfig())
                            | tft_beam.AnalyzeDataset(fn))
            _ = transform_fn | tft_beam.WriteTransformFn(os.path.join(out_dir, "transform_graph"))
    wall = time.perf_counter() - start
    return {"rows": rows, "wall_s": wall, "rows_per_s": rows / wall, "workers": workers}


def _one_pattern(files: Sequence[str], link_dir: str) -> str:
    """A file pattern matching exactly ``files``: symbolic links to them in ``link_dir``."""
    os.makedirs(link_dir, exist_ok=True)
    for path in files:
        link = os.path.join(link_dir, os.path.basename(path))
        if os.path.islink(link):  # a re-run on the same --work-dir: our own link
            os.remove(link)
        os.symlink(os.path.abspath(path), link)
    return os.path.join(link_dir, "*")


def _count_rows(files: Sequence[str]) -> int:
    total = 0
    for path in files:
        with open(path, "rb") as f:
            total += sum(1 for _ in f) - 1  # header
    return total


def read_frames(shards: Dict[str, List[str]]) -> Dict[str, pd.DataFrame]:
    """Every split's shards as one string frame (CSV cells as the pipeline reads them)."""
    return {split: pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths],
                             ignore_index=True) for split, paths in shards.items()}


def load(shards: Dict[str, List[str]], dataset, transform_dir: str, arrays_dir: str,
         timing: Dict) -> bdata.TaskData:
    """Id arrays of every split through the transform graph, checked against pandas' counts.

    Adds ``read_s``, ``pandas_s`` (``value_counts`` of the train split) and ``apply_s``
    (transform graph over every split) to ``timing``; saves the arrays under ``arrays_dir``.
    """
    import tensorflow_transform as tft
    start = time.perf_counter()
    frames = read_frames(shards)
    timing["read_s"] = time.perf_counter() - start
    timing["pandas_s"], pandas_sizes = bdata.pandas_value_counts(frames["train"], dataset)
    tft_out = tft.TFTransformOutput(os.path.join(transform_dir, "transform_graph"))
    vocab = preprocessing.vocab_sizes_from_transform_output(tft_out, dataset)
    for name, size in vocab.items():
        if size != pandas_sizes[name]:
            raise RuntimeError(f"Transform vocabulary of {name!r} has {size} items, pandas "
                               f"counts {pandas_sizes[name]}")
    start = time.perf_counter()
    splits = {}
    for split in bdata.SPLITS:
        splits[split] = bdata.apply_transform(tft_out, frames.pop(split), dataset,
                                              sparse_inputs=True)
    timing["apply_s"] = time.perf_counter() - start
    data = bdata.TaskData(name=TASK_NAME, dataset=dataset, vocab_sizes=vocab, num_labels=None,
                          splits=splits, transform_s=timing.get("analyze", {}).get("wall_s", 0.0),
                          pandas_s=timing["pandas_s"],
                          transform_rows=len(splits["train"][1]))
    save_arrays(data, arrays_dir)
    return data


def save_arrays(data: bdata.TaskData, arrays_dir: str) -> None:
    """Every split's arrays as ``<split>.npz`` (features by name, ``__label__``)."""
    os.makedirs(arrays_dir, exist_ok=True)
    for split, (feats, labels) in data.splits.items():
        np.savez(os.path.join(arrays_dir, f"{split}.npz"), __label__=labels, **feats)


def load_arrays(arrays_dir: str, dataset, vocab_sizes: Dict[str, int]) -> bdata.TaskData:
    """The ``TaskData`` that ``save_arrays`` wrote (in a measured subprocess)."""
    splits = {}
    for split in bdata.SPLITS:
        with np.load(os.path.join(arrays_dir, f"{split}.npz")) as z:
            splits[split] = ({n: z[n] for n in dataset.names}, z["__label__"])
    return bdata.TaskData(name=TASK_NAME, dataset=dataset, vocab_sizes=dict(vocab_sizes),
                          num_labels=None, splits=splits)
