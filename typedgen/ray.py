"""Typed extraction on Ray Data: many texts, many workers, one typedgen model per worker.

::

    import ray
    import typedgen.ray

    texts = ray.data.read_json("letters.jsonl")  # a column "text"
    rows = typedgen.ray.extract(texts, Invoice, model="your/model", concurrency=4, num_gpus=1)
    rows.write_parquet("invoices/")

:func:`extract` maps :class:`Extractor` over the dataset's batches (``map_batches`` with a pool
of ``concurrency`` actors); each actor loads the model once (``typedgen.models.vllm``, or the
embedded default model) and runs each batch as one engine batch through a typed function's
``map``. Every input row comes out once, with its columns and three more, the ones of
``python -m typedgen extract`` (:mod:`typedgen._batch`):

* ``record``: the validated instance as JSON text (``json.loads`` it), null for a failed row;
* ``error``: null, or the error's type and message;
* ``raw_text``: null, or the raw generated text of a failed row (``""`` when vLLM refused it).

The three columns are strings (Arrow ``string``) in every block, so Parquet and JSON lines files
written from the result read back with one schema. This module imports Ray (install typedgen's
``ray`` extra: ``pip install "typedgen[ray]"``); ``import typedgen`` does not import it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pyarrow as pa
import pydantic
import ray.data

from typedgen._batch import extractor, output_row
from typedgen._errors import UsageError
from typedgen._function import DEFAULT_MAX_TOKENS
from typedgen.models import default, vllm

__all__ = ["OUTPUT_COLUMNS", "Extractor", "extract"]

OUTPUT_COLUMNS = ("record", "error", "raw_text")
"""The columns that :class:`Extractor` adds to each batch."""


class Extractor:
    """A callable class for ``Dataset.map_batches(..., batch_format="pyarrow")``: each actor
    builds one model and turns the texts of column ``column`` of each batch into output rows.

    ``model`` is a folder or a model name for :func:`typedgen.models.vllm` (``None``: the
    embedded default model); ``llm_kwargs`` go to vLLM. ``instruction`` is the typed
    function's task (default: ``"Extract the <Target> fields from the text."``), ``max_tokens``
    bounds each answer. A batch runs as one engine batch; a record that fails gives a row with
    its error and raw text, and the others are kept.
    """

    def __init__(
        self,
        target: Any,
        *,
        column: str = "text",
        model: str | os.PathLike[str] | None = None,
        instruction: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        llm_kwargs: dict[str, Any] | None = None,
    ) -> None:
        options = dict(llm_kwargs or {})
        engine = vllm(model, **options) if model is not None else default(**options)
        self.column = column
        self.function = extractor(target, engine, max_tokens=max_tokens, instruction=instruction)
        self.adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(target)

    def __call__(self, batch: pa.Table) -> pa.Table:
        """The batch with the :data:`OUTPUT_COLUMNS` appended, one row per input row."""
        if self.column not in batch.column_names:
            raise UsageError(
                f"no column {self.column!r} to extract from; the columns are {batch.column_names}"
            )
        clash = sorted(set(OUTPUT_COLUMNS) & set(batch.column_names))
        if clash:
            raise UsageError(f"the input already has output columns {clash}: rename them first")
        texts = batch.column(self.column).to_pylist()
        if not all(isinstance(text, str) for text in texts):
            raise UsageError(f"column {self.column!r} must hold strings (no nulls)")
        results = self.function.map(texts, progress=False)
        rows = [output_row(result, self.adapter) for result in results]
        records = [None if row["record"] is None else json.dumps(row["record"]) for row in rows]
        columns = {
            "record": records,
            **{key: [row[key] for row in rows] for key in ("error", "raw_text")},
        }
        for name in OUTPUT_COLUMNS:
            batch = batch.append_column(name, pa.array(columns[name], type=pa.string()))
        return batch


def extract(
    dataset: ray.data.Dataset,
    target: Any,
    *,
    column: str = "text",
    model: str | os.PathLike[str] | None = None,
    instruction: str | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    batch_size: int = 64,
    concurrency: int = 1,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    **llm_kwargs: Any,
) -> ray.data.Dataset:
    """``dataset`` with the output columns of ``target`` extracted from column ``column``
    (lazy, as Ray datasets are: nothing runs until the result is consumed or written).

    ``concurrency`` actors run :class:`Extractor` (each with one model, given ``num_cpus`` /
    ``num_gpus`` by Ray; a model with ``tensor_parallel_size=2`` needs ``num_gpus=2``), each
    on batches of ``batch_size`` rows, which it runs as one engine batch. ``model``,
    ``instruction``, ``max_tokens`` and ``llm_kwargs`` are :class:`Extractor`'s. ``target``
    must be importable on the workers: defined in a module installed on every node or shipped
    with Ray's ``runtime_env`` (``working_dir``, ``py_modules``), not in the driver's
    ``__main__`` (Ray ships those by value, and a dataclass rebuilt that way fails in pydantic
    on the workers).
    """
    if batch_size < 1 or concurrency < 1:
        raise UsageError(
            f"batch_size and concurrency must be at least 1, got {batch_size} and {concurrency}"
        )
    return dataset.map_batches(
        Extractor,
        fn_constructor_args=(target,),
        fn_constructor_kwargs={
            "column": column,
            "model": model,
            "instruction": instruction,
            "max_tokens": max_tokens,
            "llm_kwargs": llm_kwargs,
        },
        batch_format="pyarrow",
        batch_size=batch_size,
        concurrency=concurrency,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
    )
