"""The ``typedgen`` command line.

``python -m typedgen extract --type module:Type [--field NAME] [--output FILE [--resume]] FILE...``
    extracts a ``Type`` from each text file, or from each line of JSON lines files (the text in
    field ``NAME``), and writes one JSON line per input as it completes (see
    :mod:`typedgen._batch` for the rows); ``--resume`` continues an interrupted run;
``python -m typedgen demo [--verbose]``
    runs a typed extraction on the embedded default model and prints the text and the
    instance; vLLM's logs are shown only with ``--verbose`` or ``TYPEDGEN_VERBOSE=1``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from typedgen._batch import Input, Output, extract_to, extractor, read_inputs
from typedgen._errors import UsageError
from typedgen._function import DEFAULT_MAX_TOKENS
from typedgen.models import default, vllm

__all__ = ["main"]


@dataclasses.dataclass
class Invoice:
    """The demo's target type."""

    invoice_number: str
    vendor: str
    due_date: datetime.date
    total_amount: float
    currency: Literal["EUR", "USD", "GBP"]


DEMO_TEXT = (
    "INVOICE No. 2024-117\nFrom: Blue Harbor Supplies Ltd.\nDate due: 2024-06-30\n"
    "3 x paper boxes at 40.00 EUR, 1 x delivery at 15.50 EUR.\nAmount due: 135.50 EUR"
)


def _load_type(spec: str) -> Any:
    module_name, sep, qualname = spec.partition(":")
    if not sep or not module_name or not qualname:
        raise UsageError(f"--type must be module:Type, got {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"--type {spec}: {exc}") from exc
    return obj


def _extract(args: argparse.Namespace) -> int:
    # stdout carries the rows (without --output): vLLM logs to stderr, here and in its engine
    # process (read when vLLM is first imported)
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    target = _load_type(args.type)
    inputs = read_inputs(args.files, field=args.field, id_field=args.id_field)
    if args.resume and args.output is None:
        raise UsageError("--resume needs --output (the file to continue)")
    done: dict[Any, bool] = {}
    if args.output is not None:
        output_path = Path(args.output)
        if args.resume:
            done = Output.resume(output_path)
        elif output_path.exists() and output_path.stat().st_size:
            raise UsageError(
                f"{output_path} exists: pass --resume to continue that run, or remove the file"
            )
    todo = [item for item in inputs if item.id not in done]
    failed = sum(done[item.id] for item in inputs if item.id in done)
    if todo:
        failed += _run(args, target, todo, total=len(inputs))
    return 1 if failed else 0


def _run(args: argparse.Namespace, target: Any, todo: list[Input], *, total: int) -> int:
    """Extract ``target`` from ``todo`` on an asynchronous engine; the number of failures."""
    from tqdm.auto import tqdm

    options: dict[str, Any] = {"enforce_eager": True} if args.enforce_eager else {}
    model = (
        vllm(args.model, engine="async", **options)
        if args.model
        else default(engine="async", **options)
    )
    try:
        extract = extractor(target, model, max_tokens=args.max_tokens, asynchronous=True)
        with contextlib.ExitStack() as stack:
            stream = (
                stack.enter_context(open(args.output, "a", encoding="utf-8"))
                if args.output is not None
                else sys.stdout
            )
            bar = stack.enter_context(
                tqdm(
                    total=total,
                    initial=total - len(todo),
                    desc="extract",
                    unit="record",
                    file=sys.stderr,
                    disable=args.no_progress,
                )
            )
            return extract_to(
                Output(stream),
                extract,
                todo,
                target=target,
                concurrency=args.batch_size,
                on_row=lambda _: bar.update(),
            )
    finally:
        model.close()


def _quiet() -> None:
    """Keep vLLM, torch and transformers to their errors (called before they are imported).
    The engine runs in this process, so that these settings hold for it too."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    ignored = "ignore::FutureWarning,ignore::DeprecationWarning,ignore::UserWarning"
    os.environ.setdefault("PYTHONWARNINGS", ignored)  # for helper processes
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category)
    logging.getLogger("vllm").setLevel(logging.ERROR)  # before vLLM configures its logging


def _demo(args: argparse.Namespace) -> int:
    verbose = args.verbose or os.environ.get("TYPEDGEN_VERBOSE", "") not in ("", "0")
    if not verbose:
        _quiet()
    print("Text:\n" + "\n".join("  " + line for line in DEMO_TEXT.splitlines()) + "\n")
    print("Starting the default model (SmolLM2-135M-Instruct) ...", file=sys.stderr, flush=True)
    # one call: skip torch.compile
    model = default(enforce_eager=True, use_tqdm_on_load=verbose)
    extract = extractor(Invoice, model)
    print(f"Extracting an {Invoice.__name__} ...", file=sys.stderr, flush=True)
    invoice = extract(DEMO_TEXT)
    print(f"{Invoice.__name__}:")
    for field in dataclasses.fields(invoice):
        print(f"  {field.name}: {getattr(invoice, field.name)!r}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv``); the exit status: 0, 1 when
    some input failed (its row holds the error), 2 for a usage error (said on stderr)."""
    parser = argparse.ArgumentParser(prog="typedgen", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    extract = commands.add_parser(
        "extract",
        help="extract a type from text files or JSON lines, one JSON line per input",
        description="Extract a type from each input; one JSON line per input, written as it "
        "completes: {id, record, error, text}. Failed inputs get a row with the error and "
        "the raw text.",
    )
    extract.add_argument("--type", required=True, help="the target type, as module:Type")
    extract.add_argument(
        "--field", help="read JSON lines files; each object's text is in this field"
    )
    extract.add_argument(
        "--id-field", help="with --field: the field that identifies a line (default path:line)"
    )
    extract.add_argument("--output", "-o", help="the JSON lines file to write (default: stdout)")
    extract.add_argument(
        "--resume",
        action="store_true",
        help="continue the run whose --output exists: inputs with a row there are skipped",
    )
    extract.add_argument("--model", help="a model folder or name for vLLM (default: embedded)")
    extract.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help="requests in flight at once, batched by the engine (default 64)",
    )
    extract.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS)
    extract.add_argument(
        "--enforce-eager", action="store_true", help="skip torch.compile (starts faster)"
    )
    extract.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    extract.add_argument("files", nargs="+", metavar="FILE")
    extract.set_defaults(run=_extract)
    demo = commands.add_parser("demo", help="a typed extraction on the default model")
    demo.add_argument(
        "--verbose", action="store_true", help="show vLLM's logs (also: TYPEDGEN_VERBOSE=1)"
    )
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except UsageError as exc:
        print(f"typedgen {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"typedgen {args.command}: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
