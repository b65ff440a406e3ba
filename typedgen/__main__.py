"""The ``typedgen`` command line.

``python -m typedgen extract --type module:Type [--model PATH] [--enforce-eager] FILE...``
    extracts a ``Type`` from each file's text and prints one JSON line per file;
``python -m typedgen demo``
    runs a typed extraction on the embedded default model and prints the instance.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pydantic

from typedgen._errors import TypedgenError
from typedgen._function import TypedFunction, fn
from typedgen.models import VLLM, default, vllm

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


def extractor(target: Any, model: VLLM, *, max_tokens: int = 512) -> TypedFunction[[str], Any]:
    """A typed function ``(text: str) -> target`` that extracts ``target`` from a text."""
    name = getattr(target, "__name__", str(target))

    def extract(text: str) -> Any:
        return text

    extract.__doc__ = f"Extract the {name} fields from the text."
    extract.__annotations__ = {"text": str, "return": target}
    typed: TypedFunction[[str], Any] = fn(model=model, max_tokens=max_tokens)(extract)
    return typed


def _load_type(spec: str) -> Any:
    module_name, sep, qualname = spec.partition(":")
    if not sep or not module_name or not qualname:
        raise SystemExit(f"--type must be module:Type, got {spec!r}")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _extract(args: argparse.Namespace) -> int:
    target = _load_type(args.type)
    options: dict[str, Any] = {"enforce_eager": True} if args.enforce_eager else {}
    model = vllm(args.model, **options) if args.model else default(**options)
    extract = extractor(target, model, max_tokens=args.max_tokens)
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(target)
    status = 0
    for file in args.files:
        try:
            instance = extract(Path(file).read_text(encoding="utf-8"))
        except TypedgenError as exc:
            print(f"{file}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(adapter.dump_json(instance).decode(), flush=True)
    return status


def _demo(args: argparse.Namespace) -> int:
    extract = extractor(Invoice, default(enforce_eager=True))  # one call: skip torch.compile
    print("text:\n" + DEMO_TEXT + "\n")
    invoice = extract(DEMO_TEXT)
    print(repr(invoice))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="typedgen", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    extract = commands.add_parser("extract", help="extract a type from text files (JSON lines)")
    extract.add_argument("--type", required=True, help="the target type, as module:Type")
    extract.add_argument("--model", help="a model folder or name for vLLM (default: embedded)")
    extract.add_argument("--max-tokens", type=int, default=512)
    extract.add_argument(
        "--enforce-eager", action="store_true", help="skip torch.compile (starts faster)"
    )
    extract.add_argument("files", nargs="+", metavar="FILE")
    extract.set_defaults(run=_extract)
    demo = commands.add_parser("demo", help="a typed extraction on the default model")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
