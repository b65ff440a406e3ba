"""Batch jobs: a type extracted from many texts, one output row per input.

What the command line (``python -m typedgen extract``) and the Ray Data path
(:mod:`typedgen.ray`) share: :func:`extractor`, the typed function ``(text: str) -> target``
that both run, and :func:`output_row`, what each input's result becomes.

A row of the command line is a JSON object with four keys, the same for every row (the Ray
path adds the last three to the input's columns, ``record`` as JSON text)::

    {"id": "a.txt", "record": {...}, "error": null, "raw_text": null}
    {"id": "b.txt", "record": null, "error": "TruncatedGenerationError: ...", "raw_text": "[\\"ab"}

``record`` is the validated instance in JSON form (pydantic's ``mode="json"``); a failed input
has ``record`` null, ``error`` the error's type and message, and ``raw_text`` the raw generated text
(``""`` when the engine refused the request). No input is dropped: each one gives a row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Literal, overload

import pydantic

from typedgen._errors import TypedgenError, UsageError
from typedgen._function import DEFAULT_MAX_TOKENS, AsyncTypedFunction, Failure, TypedFunction, fn
from typedgen.models import Model

__all__ = [
    "Input",
    "Output",
    "extract_to",
    "extractor",
    "output_row",
    "read_inputs",
]

RecordId = str | int
"""An input's id: the path of a text file, a JSON line's id field, or ``path:line``."""


@overload
def extractor(
    target: Any,
    model: Model,
    *,
    max_tokens: int = ...,
    instruction: str | None = ...,
    asynchronous: Literal[False] = ...,
) -> TypedFunction[[str], Any]: ...
@overload
def extractor(
    target: Any,
    model: Model,
    *,
    max_tokens: int = ...,
    instruction: str | None = ...,
    asynchronous: Literal[True],
) -> AsyncTypedFunction[[str], Any]: ...
def extractor(
    target: Any,
    model: Model,
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    instruction: str | None = None,
    asynchronous: bool = False,
) -> TypedFunction[[str], Any] | AsyncTypedFunction[[str], Any]:
    """A typed function ``(text: str) -> target`` on ``model`` whose task (docstring) is
    ``instruction``, by default ``"Extract the <Target> fields from the text."``; with
    ``asynchronous`` an :class:`~typedgen.AsyncTypedFunction`, whose concurrent calls share an
    asynchronous model's engine batch."""
    name = getattr(target, "__name__", str(target))
    if asynchronous:

        async def extract(text: str) -> Any:  # the body of a typed function never runs
            return text

    else:

        def extract(text: str) -> Any:  # type: ignore[misc]  # the same, synchronous
            return text

    extract.__doc__ = instruction or f"Extract the {name} fields from the text."
    extract.__annotations__ = {"text": str, "return": target}
    typed: TypedFunction[[str], Any] | AsyncTypedFunction[[str], Any]
    typed = fn(model=model, max_tokens=max_tokens)(extract)
    return typed


def output_row(result: Any, adapter: pydantic.TypeAdapter[Any]) -> dict[str, Any]:
    """The ``record``, ``error`` and ``raw_text`` of one input's row: ``result`` is the validated
    instance (dumped in JSON form through ``adapter``, the target type's) or its
    :class:`~typedgen.Failure`."""
    if isinstance(result, Failure):
        error = f"{type(result.error).__name__}: {result.error}"
        return {"record": None, "error": error, "raw_text": result.text}
    return {"record": adapter.dump_python(result, mode="json"), "error": None, "raw_text": None}


# --- the command line's inputs and output ------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Input:
    """One text to extract from and the id its output row carries."""

    id: RecordId
    text: str


def read_inputs(
    files: Sequence[str | Path], *, field: str | None = None, id_field: str | None = None
) -> list[Input]:
    """The inputs of ``files``: each file is one text, or, with ``field``, a JSON lines file
    whose objects hold the text under ``field`` (one input per non-blank line, its id the
    object's ``id_field`` or ``"<path>:<line>"``). Raises :class:`~typedgen.UsageError` naming
    the file and line of an unreadable input or a repeated id: an input is never skipped."""
    if id_field is not None and field is None:
        raise UsageError("--id-field needs --field (ids come from JSON lines objects)")
    inputs: list[Input] = []
    for file in files:
        text = _read_text(Path(file))
        if field is None:
            inputs.append(Input(str(file), text))
        else:
            inputs.extend(_json_lines(str(file), text, field, id_field))
    seen: set[RecordId] = set()
    for item in inputs:
        if item.id in seen:
            raise UsageError(f"input id {item.id!r} occurs twice: ids key the output rows")
        seen.add(item.id)
    return inputs


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {str(path)!r} as UTF-8 text: {exc}") from exc


def _json_lines(file: str, text: str, field: str, id_field: str | None) -> Iterator[Input]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{file}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: not a JSON line ({exc})") from exc
        if not isinstance(obj, dict) or not isinstance(obj.get(field), str):
            raise UsageError(f"{where}: no string field {field!r} in this JSON line")
        record_id: Any = where if id_field is None else obj.get(id_field)
        if isinstance(record_id, bool) or not isinstance(record_id, str | int):
            raise UsageError(f"{where}: the id field {id_field!r} must be a string or an integer")
        yield Input(record_id, obj[field])


class Output:
    """A JSON lines output file that an interrupted run can resume.

    Every row is written as one line and flushed, so after a crash the file holds whole rows,
    except at most a last line cut short (a kill during a write), which :meth:`resume` drops.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    @staticmethod
    def resume(path: Path) -> dict[RecordId, bool]:
        """The rows already in ``path`` (id -> whether the row is a failure); a last line
        without its newline is cut off the file. Raises :class:`~typedgen.UsageError` for a
        complete line that is not an output row."""
        if not path.exists():
            return {}
        data = path.read_bytes()
        whole = data[: data.rfind(b"\n") + 1]
        if len(whole) != len(data):
            with path.open("r+b") as handle:
                handle.truncate(len(whole))
        done: dict[RecordId, bool] = {}
        for number, line in enumerate(whole.decode("utf-8").splitlines(), 1):
            try:
                row = json.loads(line)
                done[row["id"]] = row["error"] is not None
            except (json.JSONDecodeError, TypeError, KeyError) as exc:
                raise UsageError(
                    f"{path}:{number}: not an output row of typedgen extract; cannot resume"
                ) from exc
        return done

    def write(self, row: dict[str, Any]) -> None:
        """Write one row as a line, flushed at once."""
        self.stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.stream.flush()


def extract_to(
    output: Output,
    function: AsyncTypedFunction[[str], Any],
    inputs: Iterable[Input],
    *,
    target: Any,
    concurrency: int,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Run ``function`` on every input, at most ``concurrency`` at once (an asynchronous
    model runs them in one engine batch), and write each input's row to ``output`` as soon as
    it is done (completion order). Returns the number of failed rows. An interrupt
    (``KeyboardInterrupt``) cancels the requests in flight; the rows written stay whole."""
    if concurrency < 1:
        raise UsageError(f"the batch size must be at least 1, got {concurrency}")
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(target)
    pending = iter(enumerate(inputs))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for index, item in pending:  # the workers share one iterator: each takes the next
            result: Any
            try:
                result = await function(item.text)
            except TypedgenError as error:
                result = Failure(index, item.text, error)
                failures += 1
            row = {"id": item.id, **output_row(result, adapter)}
            output.write(row)
            if on_row is not None:
                on_row(row)

    async def every() -> None:
        await asyncio.gather(*(worker() for _ in range(concurrency)))

    asyncio.run(every())
    return failures
