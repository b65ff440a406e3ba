"""Typed extraction on the default model: typedgen's typed functions against unconstrained
generation (then parsing) and vLLM's built-in ``xgrammar`` and ``guidance`` backends.

The 24 cases of ``extraction_data.py`` (pydantic models, dataclasses, TypedDicts, Enums,
Literals, lists, dates, nested models) each become a typed function ``extract(text) -> Target``
whose docstring is the case's instruction. Every method gets the same prompt (the one the typed
function renders through the model's chat template: the instruction, the text and the target's
JSON Schema without titles), the same schema (``typedgen.schema_of``), greedy decoding and the
same ``max_tokens``.

Methods: ``typedgen`` calls the 24 typed functions one after the other; ``batch`` sends their 24
requests (same prompts, same parameters) in one engine batch, as ``map`` does with one
function's inputs, once per prompt form of ``--prompts`` (see :func:`prompt_forms`: ``schema``
is the typed functions' default, ``schema-compact`` their earlier one, with compact JSON
answers, ``fields`` the fields described in words), printing each form's field accuracy as it
ends. Both run after a warm-up (every request once with ``max_tokens=4``: constraints
compiled, engine warm) in the same engine; when both ran, the report gives the batch's speed-up
over the separate calls and how many outputs are the same.

Scored the same way for every method, from the output text:

* **valid**: the text (after extracting the first JSON value in it, which only helps the
  unconstrained baseline: it may wrap JSON in prose or code fences) is JSON that the target's
  JSON Schema accepts (closed objects: no undeclared keys; ``format: date`` checked) and that
  pydantic validates into the target type;
* **runaways**: outputs cut by ``max_tokens`` (endless strings or arrays);
* **field accuracy**: the share of the expected leaf values (every string, number, boolean,
  list element, nested field) found at the same place in the output, after normalisation
  (case, spacing and a trailing full stop of strings; numbers compared as floats). Outputs that
  are not JSON score no fields.

typedgen runs its typed functions as shipped, with ``finish_within_budget=True`` (an answer that
would run past ``max_tokens`` is closed in its last tokens); ``--typedgen-cut`` runs them with
``finish_within_budget=False`` instead (cut by ``max_tokens``, as the peers are). The table
names the option that ran.

Run: ``.venv/bin/python benchmarks/bench_extraction.py [--limit N] [--max-tokens 256]
[--methods typedgen,batch,unconstrained,xgrammar,guidance] [--prompts schema,fields,schema-compact]
[--peer-whitespace compact|any] [--typedgen-cut] [--show-outputs] [--save outputs.json]``.
Each backend's engine runs in its own process (typedgen, its batches and unconstrained share
the xgrammar one). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import math
import sys
import time
import typing
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _engines
from extraction_data import CASES, Case

METHODS = ("typedgen", "batch", "unconstrained", "xgrammar", "guidance")


# --- prompt forms tried for typed functions (--prompts; "fields" is typedgen's default) -------


def text_first_prompt(task: Any) -> list[dict[str, str]]:
    """The arguments first, then the instruction and the fields."""
    import typedgen

    lines = [*(f"{k}: {v}" for k, v in task.arguments.items()), "", task.instruction, ""]
    lines.append(f"Answer with {typedgen.describe(task.schema)}")
    return [{"role": "user", "content": "\n".join(lines)}]


def text_last_prompt(task: Any) -> list[dict[str, str]]:
    """The instruction and the fields first, the arguments last (nearest the answer)."""
    import typedgen

    lines = [task.instruction, "", f"Answer with {typedgen.describe(task.schema)}", ""]
    lines += [f"{k}: {v}" for k, v in task.arguments.items()]
    return [{"role": "user", "content": "\n".join(lines)}]


EXAMPLE_TYPE_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "city": {"type": "string"},
    },
}
EXAMPLE_TEXT = "Dana Reyes, 31, works as a nurse in Toronto."
EXAMPLE_ANSWER = '{"name": "Dana Reyes", "age": 31, "city": "Toronto"}'


def example_prompt(task: Any) -> list[dict[str, str]]:
    """One worked example (a question and its answer, another type) before ``fields``."""
    import typedgen

    example = typedgen.Task(
        "Extract the person's details from the text.",
        {"text": EXAMPLE_TEXT},
        None,
        EXAMPLE_TYPE_SCHEMA,
    )
    return [
        *typedgen.fields_prompt(example),
        {"role": "assistant", "content": EXAMPLE_ANSWER},
        *typedgen.fields_prompt(task),
    ]


def prompt_forms() -> dict[str, Any]:
    """Prompt forms by name. ``NAME-compact`` is NAME with the answer written as compact JSON
    (``Whitespace.compact()``, no space after ``:``); without the suffix the answer has
    typed functions' default whitespace (one character allowed around each structural
    character, as ``json.dumps`` writes it). ``schema`` is typed functions' default form,
    ``schema-compact`` their earlier one, ``fields`` the fields described in words."""
    import typedgen

    forms = {
        "schema": typedgen.default_prompt,
        "fields": typedgen.fields_prompt,
        "text-first": text_first_prompt,
        "text-last": text_last_prompt,
        "fields+example": example_prompt,
    }
    return forms | {f"{name}-compact": form for name, form in forms.items()}


def whitespace_of(form: str) -> Any:
    """The typed functions' ``whitespace`` for a prompt form (None: typedgen's default)."""
    import typedgen

    return typedgen.Whitespace.compact() if form.endswith("-compact") else None


# --- worker: generation inside one engine -----------------------------------------------------


def worker(args: argparse.Namespace) -> None:
    _engines.configure_environment()
    from vllm import SamplingParams

    import typedgen

    cases = CASES[: args.limit]
    compact = args.peer_whitespace == "compact"
    model = _engines.build_model(args.worker, max_num_seqs=len(cases), compact=compact)
    functions = _functions(model, cases, args, "schema")
    prompts = [f.prompt(c.text) for f, c in zip(functions, cases, strict=True)]
    if {"typedgen", "batch"} & set(args.methods.split(",")):
        _warm_up(model, functions, prompts)
    records: dict[str, Any] = {}
    for method in args.methods.split(","):
        if method == "batch":
            for form in args.prompts.split(","):
                batch = functions if form == "schema" else _functions(model, cases, args, form)
                params = [f.body.params() for f in batch]  # client-side checker built here
                started = time.perf_counter()
                outputs = _batch(model, batch, params, cases)
                seconds = time.perf_counter() - started
                right = sum(
                    score(c, o["text"], o["finish"]).right
                    for c, o in zip(cases, outputs, strict=True)
                )
                total = sum(len(leaves(c.expected)) for c in cases)
                print(
                    f"[{args.worker}] batch ({form}): {seconds:.0f} s, fields right "
                    f"{right}/{total} ({100 * right / total:.1f} %)",
                    file=sys.stderr,
                    flush=True,
                )
                records[f"batch ({form})"] = {"seconds": seconds, "outputs": outputs}
            continue
        started = time.perf_counter()
        if method == "typedgen":
            outputs = [_call_typed(f, c) for f, c in zip(functions, cases, strict=True)]
        else:
            if method == "unconstrained":
                params = [SamplingParams(temperature=0.0, max_tokens=args.max_tokens)] * len(cases)
            else:
                params = [
                    _engines.peer_params(
                        typedgen.schema_of(c.target), max_tokens=args.max_tokens, compact=compact
                    )
                    for c in cases
                ]
            outputs = [
                {"text": o.outputs[0].text, "finish": o.outputs[0].finish_reason}
                for o in model.llm.generate(prompts, params, use_tqdm=False)
            ]
        seconds = time.perf_counter() - started
        print(f"[{args.worker}] {method}: {seconds:.0f} s", file=sys.stderr, flush=True)
        records[method] = {"seconds": seconds, "outputs": outputs}
    Path(args.out).write_text(json.dumps({"prompts": prompts, "records": records}))


def _functions(model: Any, cases: list[Case], args: argparse.Namespace, form: str) -> list[Any]:
    """The cases' typed functions with a prompt form of :func:`prompt_forms`."""
    return [
        _engines.typed_function(
            model,
            c,
            max_tokens=args.max_tokens,
            finish_within_budget=not args.typedgen_cut,
            prompt=prompt_forms()[form],
            whitespace=whitespace_of(form),
        )
        for c in cases
    ]


def _warm_up(model: Any, functions: list[Any], prompts: list[str]) -> None:
    """Every typed function's request with ``max_tokens=4`` in one batch, then the first one
    alone: constraints compiled and cached, engine paths warm, before anything is timed."""
    started = time.perf_counter()
    params = []
    for f in functions:
        p = f.body.params()
        p.max_tokens = 4
        params.append(p)
    model.generate(prompts, params)
    model.generate(prompts[:1], params[:1])
    print(f"warm-up: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def _call_typed(function: Any, case: Case) -> dict[str, Any]:
    import typedgen

    try:
        value = function(case.text)
    except typedgen.GenerationError as error:
        return {"text": error.text, "finish": error.finish_reason}
    return _record(case, value)


def _record(case: Case, value: Any) -> dict[str, Any]:
    import pydantic

    text = pydantic.TypeAdapter(case.target).dump_json(value).decode()
    return {"text": text, "finish": "stop"}


def _batch(
    model: Any, functions: list[Any], params: list[Any], cases: list[Case]
) -> list[dict[str, Any]]:
    """Every case's typed function request (its prompt, its parameters) in one engine batch,
    each output validated as the function does: what ``map`` does with one function's inputs,
    here across the cases' functions."""
    import typedgen

    prompts = [f.prompt(c.text) for f, c in zip(functions, cases, strict=True)]
    outputs = []
    for f, c, p, completions in zip(
        functions, cases, params, model.generate(prompts, params), strict=True
    ):
        try:
            outputs.append(_record(c, f.body.generator.results(completions, p.n)))
        except typedgen.GenerationError as error:
            outputs.append({"text": error.text, "finish": error.finish_reason})
    return outputs


# --- scoring ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Score:
    valid: bool
    reason: str  # why not valid ("" when valid)
    right: int
    total: int


def first_json_value(text: str) -> tuple[bool, Any]:
    """(found, value): the whole text as JSON, else the first JSON value starting at a ``{``,
    ``[`` or ``"`` in it (prose or code fences around JSON)."""
    try:
        return True, json.loads(text)
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char in '{["':
            try:
                return True, decoder.raw_decode(text, start)[0]
            except json.JSONDecodeError:
                continue
    return False, None


def score(case: Case, text: str, finish: str | None) -> Score:
    found, value = first_json_value(text)
    total = len(leaves(case.expected))
    right = count_right(case.expected, value) if found else 0
    problem = _problem(case, value) if found else "no JSON"
    if problem and finish == "length":
        problem = "runaway (max_tokens)"
    return Score(not problem, problem, right, total)


def _problem(case: Case, value: Any) -> str:
    """Why ``value`` is not a valid output of ``case`` ("" when it is)."""
    import jsonschema
    import pydantic

    from typedgen import schema_of

    validator = jsonschema.Draft202012Validator(
        schema_of(case.target), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        return f"schema: {error.message[:60]}"
    try:
        pydantic.TypeAdapter(case.target).validate_json(json.dumps(value))
    except pydantic.ValidationError as exc:
        return f"type: {str(exc).splitlines()[0][:60]}"
    return ""


def leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, leaf) pairs of a JSON value; paths use dict keys and list indices."""
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in leaves(v, (*path, k))]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in leaves(v, (*path, i))]
    return [(path, value)]


def count_right(expected: Any, actual: Any) -> int:
    right = 0
    for path, leaf in leaves(expected):
        node = actual
        for step in path:
            in_dict = isinstance(step, str) and isinstance(node, dict) and step in node
            in_list = isinstance(step, int) and isinstance(node, list) and step < len(node)
            if in_dict or in_list:
                node = node[step]
            else:
                break
        else:
            right += _same(leaf, node)
    return right


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, str) and isinstance(actual, str):
        return _norm(expected) == _norm(actual)
    return bool(expected == actual)


def _norm(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(".").strip()


def kind_of(target: Any) -> str:
    """A short description of a target annotation for the tables."""
    import pydantic
    from typing_extensions import is_typeddict

    origin = typing.get_origin(target)
    if origin is list:
        return f"list[{kind_of(typing.get_args(target)[0])}]"
    name = getattr(target, "__name__", str(target))
    if isinstance(target, type) and issubclass(target, pydantic.BaseModel):
        nested = any(
            isinstance(f.annotation, type) and issubclass(f.annotation, pydantic.BaseModel)
            for f in target.model_fields.values()
        )
        return f"{name} (pydantic{', nested' if nested else ''})"
    if dataclasses.is_dataclass(target):
        return f"{name} (dataclass)"
    if is_typeddict(target):
        return f"{name} (TypedDict)"
    if isinstance(target, type) and issubclass(target, enum.Enum):
        return f"{name} (Enum)"
    return name


# --- report -----------------------------------------------------------------------------------


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    cases = CASES[: args.limit]
    records: dict[str, Any] = {}
    for result in results:
        records.update(result["records"])
    methods = list(records)
    scores = {
        m: [
            score(c, o["text"], o["finish"])
            for c, o in zip(cases, records[m]["outputs"], strict=True)
        ]
        for m in methods
    }
    print(
        f"\n## Extraction: {len(cases)} cases, default model, greedy, max_tokens "
        f"{args.max_tokens}, peers' whitespace: {args.peer_whitespace}\n"
    )
    rows = []
    for m in methods:
        s = scores[m]
        valid = sum(x.valid for x in s)
        runaways = sum(o["finish"] == "length" for o in records[m]["outputs"])
        right, total = sum(x.right for x in s), sum(x.total for x in s)
        rows.append(
            [
                _label(m, args),
                f"{valid}/{len(s)} ({100 * valid / len(s):.0f} %)",
                runaways,
                f"{right}/{total}",
                f"{100 * right / total:.1f} %",
                f"{records[m]['seconds']:.0f}",
            ]
        )
    header = ["method", "valid", "runaways", "fields right", "field accuracy", "wall s"]
    print(_engines.table(header, rows))
    _print_speed_up(records)
    print("\nPer case (✓ valid / ✗ not, fields right / expected, why not valid):\n")
    case_rows = []
    for i, c in enumerate(cases):
        cells = []
        for m in methods:
            x = scores[m][i]
            mark = "✓" if x.valid else "✗"
            cells.append(f"{mark} {x.right}/{x.total}" + ("" if x.valid else f" ({x.reason})"))
        case_rows.append([c.name, kind_of(c.target), *cells])
    print(_engines.table(["case", "target", *[_label(m, args) for m in methods]], case_rows))
    if args.show_outputs:
        for m in methods:
            print(f"\n### {m} outputs\n")
            for c, o in zip(cases, records[m]["outputs"], strict=True):
                print(f"- {c.name} [{o['finish']}]: {o['text']!r}")


def _print_speed_up(records: dict[str, Any]) -> None:
    """The batch of the default prompt form against the separate calls, when both ran."""
    separate, batch = records.get("typedgen"), records.get("batch (schema)")
    if separate is None or batch is None:
        return
    same = sum(
        a["text"] == b["text"] for a, b in zip(separate["outputs"], batch["outputs"], strict=True)
    )
    print(
        f"\nOne batch vs {len(batch['outputs'])} separate calls (same warm engine, default "
        f"prompt): {separate['seconds'] / batch['seconds']:.1f}x faster "
        f"({batch['seconds']:.0f} s vs {separate['seconds']:.0f} s); same output for "
        f"{same}/{len(batch['outputs'])} cases."
    )


def _label(method: str, args: argparse.Namespace) -> str:
    if method != "typedgen":
        return method
    return f"typedgen (finish_within_budget={not args.typedgen_cut})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=len(CASES), help="number of cases")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--show-outputs", action="store_true")
    parser.add_argument(
        "--typedgen-cut",
        action="store_true",
        help="typed functions with finish_within_budget=False (cut by max_tokens)",
    )
    parser.add_argument("--save", help="also write the prompts and raw outputs to this JSON file")
    parser.add_argument(
        "--prompts",
        default="schema",
        help=f"prompt forms for the batch method, from {sorted(prompt_forms())}",
    )
    _engines.add_common_arguments(parser, METHODS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    options = [
        f"--limit={args.limit}",
        f"--max-tokens={args.max_tokens}",
        f"--prompts={args.prompts}",
    ]
    if args.typedgen_cut:
        options.append("--typedgen-cut")
    results = _engines.run_methods(parser, args, METHODS, __file__, options)
    if args.save:
        Path(args.save).write_text(json.dumps(results, indent=1))
    report(args, results)


if __name__ == "__main__":
    main()
