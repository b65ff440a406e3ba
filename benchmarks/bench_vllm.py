"""Constrained decoding throughput on vLLM: unconstrained vs typedgen vs vLLM's built-in
``xgrammar`` and ``guidance`` backends, on the default model, in one run.

Workload: ``--batch`` requests (default 32) in one ``LLM.generate`` call, greedy, the same
``--max-tokens`` for every method. The requests cycle through the typed-function prompts of the
extraction set (``extraction_data.py``; JSON of the case's schema, ``typedgen.schema_of``) and,
alternating with them, the ``--maskbench`` smallest Github_easy schemas of MaskBench
(``../shared/data/maskbench-public``, when present) that typedgen and both vLLM backends accept
(prompt: the schema, asking for a JSON value valid under it); the same schema for every
engine.

For every method the batch first runs once with ``max_tokens=4`` (**set-up**: compiling the 24
schemas, tokenizer tables), then the timed run. Reported per run:

* **tokens/s**: output tokens / wall time of the ``generate`` call;
* **vs matched**: constrained outputs stop early (short JSON), so a shrinking batch makes their
  tokens/s lower whatever the constraint costs. Each constrained run is therefore followed by an
  unconstrained run with ``ignore_eos=True`` and, per request, ``max_tokens`` = the number of
  tokens that request produced under the constraint: the same tokens per request and the same
  batch shape, without a constraint. The ratio of the two is the constraint's cost.
  ``vs free`` compares with plain unconstrained generation of ``--max-tokens``;
* **hooks**: time spent inside the constraint machinery, measured by wrapping (in this
  benchmark's process only, vLLM runs in-process) typedgen's ``TypedgenLogitsProcessor.apply``
  and ``update_state`` (which includes compiling a schema at a request's admission), and vLLM's
  ``StructuredOutputManager.grammar_bitmask``, ``accept_tokens``, ``grammar_init`` and the model
  runner's ``apply_grammar_bitmask``; as a share of wall time and per engine step (one
  ``LLMEngine.step`` call). vLLM's backends compile grammars in a thread pool: that time is not
  in their hooks (only the wait is in the wall time).

``--workload recursive`` replaces them with a recursive schema (a tree of named nodes,
``Node.children: list[Node]``: a ``$ref`` cycle, so typedgen compiles it with its grammar engine)
and a few prompts asking for trees.

Run: ``.venv/bin/python benchmarks/bench_vllm.py [--batch 32] [--max-tokens 64]
[--maskbench 24] [--workload extraction|recursive]
[--methods unconstrained,typedgen,xgrammar,guidance] [--no-matched]``
(``--batch 256 --max-tokens 16 --no-matched``: the hooks at a large batch in minutes). Each
backend's engine runs in its own process. Timings on a shared CPU are noisy: compare ratios
within one run.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _engines
from extraction_data import CASES

METHODS = ("unconstrained", "typedgen", "xgrammar", "guidance")
SETUP_TOKENS = 4
MASKBENCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "maskbench-public"


class Node(BaseModel):
    """A node of a tree: its name and its child nodes."""

    name: str
    children: list[Node]


TREE_PROMPTS = (
    "the folders and files of a small Python project",
    "the departments and teams of a small company",
    "the chapters and sections of a cookbook",
    "the continents, countries and cities you know best",
)


class HookClock:
    """Accumulates the time spent in wrapped functions, per bucket, and counts engine steps."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.steps = 0

    def reset(self) -> None:
        self.seconds = {}
        self.steps = 0

    def timed(self, bucket: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                self.seconds[bucket] = self.seconds.get(bucket, 0.0) + elapsed

        return wrapper

    def counted(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.steps += 1
            return func(*args, **kwargs)

        return wrapper


def instrument(clock: HookClock) -> None:
    """Wrap typedgen's processor (bucket ``typedgen``) and vLLM's structured-output hooks
    (bucket ``vllm``), and count engine steps (this process only)."""
    from vllm.v1.engine.llm_engine import LLMEngine
    from vllm.v1.structured_output import StructuredOutputManager
    from vllm.v1.worker import gpu_model_runner

    from typedgen.processors.vllm import TypedgenLogitsProcessor

    LLMEngine.step = clock.counted(LLMEngine.step)  # type: ignore[method-assign]
    for bucket, owner, names in (
        ("typedgen", TypedgenLogitsProcessor, ("apply", "update_state")),
        ("vllm", StructuredOutputManager, ("grammar_bitmask", "accept_tokens", "grammar_init")),
        ("vllm", gpu_model_runner, ("apply_grammar_bitmask",)),
    ):
        for name in names:
            setattr(owner, name, clock.timed(bucket, getattr(owner, name)))


def worker(args: argparse.Namespace) -> None:
    _engines.configure_environment()
    clock = HookClock()
    instrument(clock)
    from vllm import SamplingParams

    import typedgen

    compact = args.peer_whitespace == "compact"
    model = _engines.build_model(args.worker, max_num_seqs=args.batch, compact=compact)
    # (prompt, JSON Schema, typedgen's generator) per distinct request, cycled to fill the batch
    kinds: list[tuple[str, Any, Any]] = []
    tokenizer = model.llm.get_tokenizer()
    if args.workload == "recursive":
        tree = typedgen.generate.json(model, Node)
        for topic in TREE_PROMPTS:
            ask = f"Write {topic} as a JSON tree of nodes with a name and children."
            prompt = tokenizer.apply_chat_template(
                [{"role": "user", "content": ask}], tokenize=False, add_generation_prompt=True
            )
            kinds.append((prompt, typedgen.schema_of(Node), tree))
    for case in CASES if args.workload == "extraction" else ():
        function = _engines.typed_function(model, case, max_tokens=args.max_tokens)
        target = typedgen.generate.json(model, case.target)
        kinds.append((function.prompt(case.text), typedgen.schema_of(case.target), target))
    maskbench = args.maskbench if args.workload == "extraction" else 0
    for schema in maskbench_schemas(args.maskbench_data, maskbench):
        ask = f"Write one JSON value valid under this JSON Schema:\n{json.dumps(schema)}"
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": ask}], tokenize=False, add_generation_prompt=True
        )
        kinds.insert(2 * (len(kinds) - len(CASES)) + 1, (prompt, schema, None))  # alternate
    requests = [kinds[i % len(kinds)] for i in range(args.batch)]
    prompts = [prompt for prompt, _, _ in requests]
    schemas = [schema for _, schema, _ in requests]
    generators = [g or typedgen.generate.json(model, schema) for _, schema, g in requests]

    def params_of(method: str, max_tokens: int) -> list[Any]:
        greedy = SamplingParams(temperature=0.0, max_tokens=max_tokens)
        if method == "unconstrained":
            return [greedy] * len(requests)
        if method == "typedgen":
            return [g.sampling_params(sampling_params=greedy) for g in generators]
        return [
            _engines.peer_params(schema, max_tokens=max_tokens, compact=compact)
            for schema in schemas
        ]

    def timed_run(name: str, params: list[Any], bucket: str) -> dict[str, Any]:
        clock.reset()
        started = time.perf_counter()
        outputs = model.llm.generate(prompts, params, use_tqdm=False)
        wall = time.perf_counter() - started
        lengths = [len(o.outputs[0].token_ids) for o in outputs]
        finished = sum(o.outputs[0].finish_reason == "stop" for o in outputs)
        print(f"[{args.worker}] {name}: {sum(lengths)} tokens in {wall:.1f} s", file=sys.stderr)
        return {
            "name": name,
            "wall": wall,
            "tokens": sum(lengths),
            "lengths": lengths,
            "steps": clock.steps,
            "hooks": clock.seconds.get(bucket, 0.0),
            "stopped": finished,
        }

    runs = []
    for method in args.methods.split(","):
        started = time.perf_counter()
        model.llm.generate(prompts, params_of(method, SETUP_TOKENS), use_tqdm=False)
        setup = time.perf_counter() - started
        bucket = "typedgen" if method == "typedgen" else "vllm"
        run = timed_run(method, params_of(method, args.max_tokens), bucket)
        run["setup"] = setup
        runs.append(run)
        if method != "unconstrained" and args.matched:
            matched = [
                SamplingParams(temperature=0.0, max_tokens=max(n, 1), ignore_eos=True)
                for n in run["lengths"]
            ]
            runs.append(timed_run(f"unconstrained, lengths of {method}", matched, bucket))
    Path(args.out).write_text(json.dumps({"backend": args.worker, "runs": runs}))


def maskbench_schemas(data: Path, limit: int) -> list[Any]:
    """The ``limit`` smallest Github_easy schemas of MaskBench that typedgen and vLLM's xgrammar
    and guidance backends all accept (compact JSON); none when the data is absent."""
    from vllm import SamplingParams
    from vllm.exceptions import VLLMValidationError
    from vllm.sampling_params import StructuredOutputsParams
    from vllm.v1.structured_output.backend_guidance import validate_guidance_grammar
    from vllm.v1.structured_output.backend_xgrammar import validate_xgrammar_grammar

    import typedgen

    texts = sorted(
        (path.read_text(encoding="utf-8") for path in data.glob("Github_easy---*.json")),
        key=len,
    )
    chosen: list[Any] = []
    for text in texts:
        if len(chosen) >= limit:
            break
        schema = json.loads(text)["schema"]
        params = SamplingParams(
            structured_outputs=StructuredOutputsParams(json=schema, disable_any_whitespace=True)
        )
        try:
            typedgen.json_schema_to_regex(schema)
            validate_xgrammar_grammar(params)
            validate_guidance_grammar(params)
        except (ValueError, VLLMValidationError):  # SchemaError, the backends' refusals
            continue
        chosen.append(schema)
    return chosen


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    runs = {run["name"]: run for result in results for run in result["runs"]}
    free = runs.get("unconstrained")

    def rate(run: dict[str, Any]) -> float:
        return float(run["tokens"] / run["wall"])

    print(
        f"\n## vLLM throughput: default model, batch {args.batch}, max_tokens {args.max_tokens}, "
        f"workload {args.workload}"
        f"{f', {args.maskbench} MaskBench schemas' if args.workload == 'extraction' else ''}, "
        f"greedy, peers' whitespace: {args.peer_whitespace}\n"
    )
    rows = []
    for name, run in runs.items():
        method = name.split(",")[0]
        matched = runs.get(f"unconstrained, lengths of {name}")
        is_constrained = method != "unconstrained"
        rows.append(
            [
                name,
                run["tokens"],
                f"{run['wall']:.1f}",
                f"{rate(run):.1f}",
                f"{rate(run) / rate(matched):.3f}" if matched else "",
                f"{rate(run) / rate(free):.3f}" if free and name != "unconstrained" else "",
                run["steps"],
                f"{1000 * run['wall'] / max(run['steps'], 1):.0f}",
                f"{run['hooks']:.2f}" if is_constrained else "",
                f"{100 * run['hooks'] / run['wall']:.2f} %" if is_constrained else "",
                f"{1000 * run['hooks'] / max(run['steps'], 1):.2f}" if is_constrained else "",
                f"{run['stopped']}/{args.batch}",
                f"{run['setup']:.1f}" if "setup" in run else "",
            ]
        )
    header = [
        "run",
        "output tokens",
        "wall s",
        "tokens/s",
        "vs matched",
        "vs free",
        "steps",
        "ms/step",
        "hooks s",
        "hooks % wall",
        "hooks ms/step",
        "ended by EOS",
        "set-up s",
    ]
    print(_engines.table(header, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--maskbench",
        type=int,
        default=24,
        help="MaskBench schemas cycled with the extraction prompts (0: none)",
    )
    parser.add_argument("--maskbench-data", type=Path, default=MASKBENCH)
    parser.add_argument(
        "--workload",
        choices=["extraction", "recursive"],
        default="extraction",
        help="recursive: trees of a self-referencing schema (typedgen's grammar path)",
    )
    parser.add_argument(
        "--no-matched",
        dest="matched",
        action="store_false",
        help="skip the length-matched unconstrained runs",
    )
    _engines.add_common_arguments(parser, METHODS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    options = [
        f"--batch={args.batch}",
        f"--max-tokens={args.max_tokens}",
        f"--maskbench={args.maskbench}",
        f"--maskbench-data={args.maskbench_data}",
        f"--workload={args.workload}",
        *([] if args.matched else ["--no-matched"]),
    ]
    results = _engines.run_methods(parser, args, METHODS, __file__, options)
    report(args, results)


if __name__ == "__main__":
    main()
